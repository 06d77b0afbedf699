"""`vault get`: decrypt a media object to a file or stdout."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app, context


@app.command("get", epilog="Examples:\n\n  vault get m_0a1b2c3d -o photo.jpg\n\n  vault get m_0a1b2c3d > photo.jpg")
def get_cmd(
    record_id: Annotated[str, typer.Argument(metavar="ID", help="A media record id (or a unique prefix).")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write to this file (else stdout).", show_default=False)] = None,
) -> None:
    """Decrypt a media object to a file or stdout (verified before any byte reaches stdout)."""
    from ..records.takeout import get_media

    o = context.opts()
    if output is None and sys.stdout.isatty() and not o.json:
        from ..errors import UsageError

        raise UsageError("refusing to write binary data to a terminal", hint="use -o FILE or redirect stdout")
    with context.open_vault(unlock=True) as vault:
        result = get_media(vault, record_id, output, sys.stdout.buffer if output is None else None)
    if output is not None:
        context.render(result, lambda r: context.info(f"wrote {r['path']} ({r['size']} bytes)"))
