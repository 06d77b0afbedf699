"""`vault list`: records, newest first."""

from __future__ import annotations

from . import app, context
from .filters import KindOpt, LimitOpt, SinceOpt, SourceOpt, TagOpt, UntilOpt, VisOpt, filters, print_records


@app.command("list", epilog="Examples:\n\n  vault list --kind post --since 2024-01-01 --limit 20\n\n  vault list --source ebay --json | jq .comment")
def list_cmd(kind: KindOpt = None, source: SourceOpt = None, since: SinceOpt = None, until: UntilOpt = None,
             tag: TagOpt = None, visibility: VisOpt = None, limit: LimitOpt = None) -> None:
    """List records, newest first (JSON Lines with --json)."""
    from ..repository import open_vault

    o = context.opts()
    f = filters(kind, source, since, until, tag, visibility)
    with open_vault(o.vault_path(), wait=o.lock_wait) as vault:
        vault.unlock(o.identity_file)
        print_records(vault.catalog().query(limit=limit, **f))
