"""`vault compact`: merge the catalog's journal segments."""

from __future__ import annotations

from . import app, context


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
