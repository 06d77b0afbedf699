"""`vault search`: full-text search."""

from __future__ import annotations

from typing import Annotated

import typer

from . import app, context
from .filters import KindOpt, LimitOpt, SinceOpt, SourceOpt, TagOpt, UntilOpt, VisOpt, filters, print_records


@app.command("search", epilog="Examples:\n\n  vault search \"prague coffee\"\n\n  vault search vintage --kind rating --json")
def search_cmd(query: Annotated[str, typer.Argument(help="Words to find (all must match; prefixes match too).")],
               kind: KindOpt = None, source: SourceOpt = None, since: SinceOpt = None, until: UntilOpt = None,
               tag: TagOpt = None, visibility: VisOpt = None, limit: LimitOpt = None) -> None:
    """Full-text search over posts, captions and rating comments."""
    f = filters(kind, source, since, until, tag, visibility)
    with context.open_vault(unlock=True) as vault:
        print_records(vault.catalog().query(text=query, limit=limit, **f))
