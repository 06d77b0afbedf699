"""`vault check`: key-free checksums, or every object decrypted and proven."""

from __future__ import annotations

from typing import Annotated

import typer

from . import app, context


@app.command("check", epilog=(
    "Examples:\n\n  vault check                 # key-free: ciphertext against checksums\n\n"
    "  vault check --read-data     # decrypt everything, verify ids and MACs\n\nExit 13 when anything is wrong; each bad file is named."))
def check_cmd(
    read_data: Annotated[bool, typer.Option("--read-data", help="Decrypt everything and verify object ids and MACs (needs the identity).")] = False,
    accept_rollback: Annotated[bool, typer.Option("--accept-rollback", help="Accept this vault's catalog as the newest seen here, after restoring an older copy on purpose (needs the identity).")] = False,
) -> None:
    """Verify the vault's files (key-free), or every byte of it with --read-data."""
    from ..errors import IntegrityError
    from ..maintenance import accept_rollback as accept
    from ..maintenance import check

    o = context.opts()
    accepted = None
    with context.open_vault(exclusive=accept_rollback) as vault:
        if read_data or accept_rollback:
            vault.unlock(o.identity_file)
        if accept_rollback:
            accepted = accept(vault)
        with context.progress_bar("checking", None, unit_bytes=False) as advance:
            result = check(vault, read_data=read_data, progress=advance)
    out = result.to_json()
    if accepted is not None:
        out["accepted_rollback"] = accepted
        if accepted["previously_seen"] not in (None, accepted["accepted"]) and not o.json:
            context.info(f"accepted catalog head {accepted['accepted']} (head {accepted['previously_seen']} had been seen here)")

    def text(r):
        for p in r["problems"]:
            context.say(f"BAD  {p['path']}: {p['problem']}")
        for n in r["notes"]:
            context.info(f"note: {n}")
        if r["ok"]:
            extra = f", {r['decrypted']} decrypted and verified" if read_data else ""
            context.info(f"ok: {r['checked_files']} files match their checksums{extra}")

    context.render(out, text)
    if not result.ok:
        first = result.problems[0]["path"]
        raise IntegrityError(f"{len(result.problems)} problem(s) found, first: {first}", hint="restore the named files from a backup (`vault restore`)")
