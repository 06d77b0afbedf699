"""`vault export`: the plaintext take-out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import app, context


@app.command("export", epilog="Examples:\n\n  vault export ~/takeout   # records.jsonl + media/ with original names\n\n  vault export /media/usb/takeout --json")
def export_cmd(directory: Annotated[Path, typer.Argument(metavar="DIR", help="An empty or new folder for the plaintext take-out.")]) -> None:
    """Plaintext take-out: records.jsonl plus every media file under its original name."""
    from ..records.takeout import export_all

    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        from ..errors import UsageError

        raise UsageError(f"{directory} is not an empty folder", hint="export into a new or empty folder")
    with context.open_vault(unlock=True) as vault:
        total = sum(vault.catalog().counts().values())
        with context.progress_bar("exporting", total, unit_bytes=False) as advance:
            result = export_all(vault, directory, progress=advance)
    context.render(result, lambda r: context.info(f"exported {r['records']} records and {r['media_files']} media files to {r['directory']}"))
