"""`vault list`: records, newest first."""

from __future__ import annotations

from . import app, context
from .filters import KindOpt, LimitOpt, SinceOpt, SourceOpt, TagOpt, UntilOpt, VisOpt, filters, print_records


@app.command("list", epilog="Examples:\n\n  vault list --kind post --since 2024-01-01 --limit 20\n\n  vault list --source ebay --json | jq .comment")
def list_cmd(kind: KindOpt = None, source: SourceOpt = None, since: SinceOpt = None, until: UntilOpt = None,
             tag: TagOpt = None, visibility: VisOpt = None, limit: LimitOpt = None) -> None:
    """List records, newest first (JSON Lines with --json)."""
    f = filters(kind, source, since, until, tag, visibility)
    with context.open_vault(unlock=True) as vault:
        print_records(vault.catalog().query(limit=limit, **f))
