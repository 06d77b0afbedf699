"""`vault compact`: merge the catalog's journal segments."""

from __future__ import annotations

from . import app, context


@app.command("compact", epilog="Examples:\n\n  vault compact\n\n  vault compact --json")
def compact_cmd() -> None:
    """Merge the catalog's journal segments into one snapshot and remove the merged segments."""
    from ..maintenance import compact

    with context.open_vault(exclusive=True, unlock=True) as vault:
        result = compact(vault)
    context.render(result, lambda r: context.info(f"compacted {r['segments_merged']} segment(s) into {r['snapshot']}; removed {r['files_removed']} file(s)"))
