"""`vault lock`: forget the unlocked identity."""

from __future__ import annotations

from . import app, context


@app.command(
    "lock",
    epilog="Examples:\n\n  vault lock\n\n  vault --vault ~/other-vault lock --json",
)
def lock_cmd() -> None:
    """Forget the identity held by `vault unlock` at once (stops the agent)."""
    from ..keys import agent

    with context.open_vault(lock=False) as vault:
        vault_id = vault.header.vault_id
    was = agent.stop(vault_id)
    out = {"vault_id": vault_id, "locked": True, "was_unlocked": was}
    context.render(out, lambda d: context.info("locked: the agent forgot the identity" if d["was_unlocked"] else "was not unlocked"))
