"""`vault restore`: a vault back from a backup, every file checked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import app, context


@app.command(
    "restore",
    epilog=(
        "Examples:\n\n"
        "  vault restore /mnt/usb/vault-backup ~/vault-restored\n\n"
        "  vault restore rclone:b2:my-bucket/vault ~/vault\n\n"
        "  vault --vault ~/vault check --read-data      # then prove every byte decrypts\n\n"
        "PATH must be new or empty. An interrupted restore is resumed by running it again. "
        "Exit codes: 0 done, 2 PATH is not empty, 10 no backup at SRC, 13 a restored file is damaged (named)."
    ),
)
def restore_cmd(
    src: Annotated[str, typer.Argument(help="The backup: a folder, or rclone:REMOTE:PATH.", show_default=False)],
    path: Annotated[Path, typer.Argument(help="Where to create the restored vault (new or empty folder).", show_default=False)],
) -> None:
    """Recreate a complete vault at PATH from a backup (no key needed)."""
    from ..backup import open_destination, restore_error, run_restore

    source = open_destination(src)
    result = run_restore(source, path, progress=context.progress_bar)
    out = result.to_json()

    def text(r: dict) -> None:
        for p in r["problems"]:
            context.say(f"BAD  {p['path']}: {p['problem']}")
        context.info(f"restored {r['source']} to {r['path']}: {r['files_copied']} file(s) ({context.human_bytes(r['bytes_copied'])}), {r['verified_files']} checked")
        context.info(f"next: vault --vault {r['path']} check --read-data")

    context.render(out, text)
    err = restore_error(result)
    if err is not None:
        raise err
