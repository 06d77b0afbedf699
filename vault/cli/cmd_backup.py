"""`vault backup`: incremental copy of the encrypted vault, with no key."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import app, context


@app.command(
    "backup",
    epilog=(
        "Examples:\n\n"
        "  vault backup /mnt/usb/vault-backup\n\n"
        "  vault backup rclone:b2:my-bucket/vault --verify\n\n"
        "  vault backup rclone:nas:vault --quiet --prune-trash 90\n\n"
        "Needs no passphrase or identity: it copies the encrypted files as they are. Files removed by "
        "`vault gc` / `vault compact` go to DEST/trash/YYYY-MM-DD/, never deleted unless --prune-trash.\n\n"
        "Exit codes: 0 done, 1 the destination failed (its message is shown), 10 no vault, "
        "11 vault locked past --lock-wait, 13 --verify found a damaged file (named)."
    ),
)
def backup_cmd(
    dest: Annotated[str, typer.Argument(help="A folder, or rclone:REMOTE:PATH (any rclone remote: S3, B2, SFTP, WebDAV...).", show_default=False)],
    verify: Annotated[bool, typer.Option("--verify", help="Read the backup back and compare it with the vault's checksums (no key needed).")] = False,
    prune_trash: Annotated[Optional[int], typer.Option("--prune-trash", metavar="DAYS", min=0, help="Delete trash folders at DEST older than DAYS days.", show_default=False)] = None,
) -> None:
    """Copy the vault's encrypted files to DEST, incrementally, with no key (cron-safe)."""
    from ..backup import backup_error, open_destination, run_backup

    destination = open_destination(dest)  # finds rclone (or fails) before waiting for the lock
    with context.open_vault(exclusive=False) as vault:
        result = run_backup(vault.path, destination, verify=verify, prune_trash_days=prune_trash, progress=context.progress_bar)
    out = result.to_json()

    def text(r: dict) -> None:
        for p in r["problems"]:
            fixed = " (copied again from the vault)" if p.get("repaired") else ""
            context.say(f"BAD  {p['path']}: {p['problem']}{fixed}")
        context.info(
            f"backed up to {r['destination']}: {r['files_copied']} file(s) copied ({context.human_bytes(r['bytes_copied'])}), "
            f"{r['files_skipped']} already there, {r['files_trashed']} moved to trash, in {r['duration_seconds']:.1f}s"
        )
        if r["trash_pruned"]:
            context.info(f"pruned trash folders: {', '.join(r['trash_pruned'])}")
        if r["verified"]:
            context.info(f"verified: {r['verified_files']} file(s) match their checksums")

    context.render(out, text)
    err = backup_error(result)
    if err is not None:
        raise err
