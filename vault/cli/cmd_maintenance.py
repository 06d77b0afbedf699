"""`vault check`, `vault compact`, `vault gc`."""

from __future__ import annotations

from typing import Annotated

import typer

from . import app, context


@app.command("check", epilog=(
    "Examples:\n\n  vault check                 # key-free: ciphertext against checksums\n\n"
    "  vault check --read-data     # decrypt everything, verify ids and MACs\n\nExit 13 when anything is wrong; each bad file is named."))
def check_cmd(read_data: Annotated[bool, typer.Option("--read-data", help="Decrypt everything and verify object ids and MACs (needs the identity).")] = False) -> None:
    """Verify the vault's files (key-free), or every byte of it with --read-data."""
    from ..errors import IntegrityError
    from ..maintenance import check
    from ..repository import open_vault

    o = context.opts()
    with open_vault(o.vault_path(), wait=o.lock_wait) as vault:
        if read_data:
            vault.unlock(o.identity_file)
        with context.progress_bar("checking", None, unit_bytes=False) as advance:
            result = check(vault, read_data=read_data, progress=advance)
    out = result.to_json()

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


@app.command("compact", epilog="Examples:\n\n  vault compact\n\n  vault compact --json")
def compact_cmd() -> None:
    """Merge the catalog's journal segments into one snapshot and remove the merged segments."""
    from ..maintenance import compact
    from ..repository import open_vault

    o = context.opts()
    with open_vault(o.vault_path(), exclusive=True, wait=o.lock_wait) as vault:
        vault.unlock(o.identity_file)
        result = compact(vault)
    context.render(result, lambda r: context.info(f"compacted {r['segments_merged']} segment(s) into {r['snapshot']}; removed {r['files_removed']} file(s)"))


@app.command("gc", epilog="Examples:\n\n  vault gc --dry-run\n\n  vault gc --grace-hours 0")
def gc_cmd(
    grace_hours: Annotated[float, typer.Option(help="Keep unreferenced objects younger than this.")] = 24.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would be removed.")] = False,
) -> None:
    """Delete objects no record references (after a grace period), and stray temp files."""
    from ..maintenance import gc
    from ..repository import open_vault

    o = context.opts()
    with open_vault(o.vault_path(), exclusive=True, wait=o.lock_wait) as vault:
        vault.unlock(o.identity_file)
        result = gc(vault, grace_hours=grace_hours, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    context.render(result, lambda r: context.info(f"{verb} {r['objects_removed']} unreferenced object(s), {context.human_bytes(r['bytes_freed'])}; {r['kept_within_grace']} kept within the grace period"))
