"""`vault unlock`: keep the identity in a short-lived agent."""

from __future__ import annotations

from typing import Annotated

import typer

from . import app, context


@app.command(
    "unlock",
    epilog=(
        "Examples:\n\n"
        "  vault unlock                      # asks for the passphrase once, for 15 minutes\n\n"
        "  VAULT_PASSPHRASE_FILE=~/.vault-pass vault unlock --for 1h\n\n"
        "  vault unlock --for 90s && vault list --kind post && vault lock\n\n"
        "The identity stays in the memory of a background agent (like ssh-agent) that answers only "
        "your own user on a private socket ($XDG_RUNTIME_DIR/vault, else $TMPDIR/vault-UID); it is "
        "never written to disk. The agent is asked after --identity-file / VAULT_IDENTITY_FILE and "
        "before the keyring and the passphrase. Set VAULT_NO_AGENT=1 to ignore it."
    ),
)
def unlock_cmd(
    duration: Annotated[str, typer.Option("--for", metavar="DURATION", help="How long to stay unlocked: 90s, 15m, 1h30m, 2d (at most 7d).")] = "15m",
) -> None:
    """Unlock the vault for a while, so later commands need no passphrase."""
    from ..keys import agent

    seconds = agent.parse_duration(duration)
    o = context.opts()
    with context.open_vault() as vault:
        keys = vault.unlock(o.identity_file)
        vault_id = vault.header.vault_id
        identity = keys.identity
        source = keys.source.name
    # Started after the vault is closed, so the agent inherits no lock.
    info = agent.start(vault_id, identity, seconds)
    out = {"vault_id": vault_id, "unlocked": True, "source": source, **info}
    context.render(out, lambda d: context.info(f"unlocked until {d['expires_at']} (agent pid {d['pid']}); `vault lock` forgets the key now"))
