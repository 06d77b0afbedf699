"""`vault gc`: delete unreferenced objects after a grace period."""

from __future__ import annotations

from typing import Annotated

import typer

from . import app, context


@app.command("gc", epilog="Examples:\n\n  vault gc --dry-run\n\n  vault gc --grace-hours 0\n\nRemoving more than a quarter of the vault (objects or bytes) needs --yes.")
def gc_cmd(
    grace_hours: Annotated[float, typer.Option(help="Keep unreferenced objects younger than this.")] = 24.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would be removed.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Remove even when that is more than a quarter of the vault's objects or bytes.")] = False,
) -> None:
    """Delete objects no record references (after a grace period), and stray temp files."""
    from ..maintenance import gc

    with context.open_vault(exclusive=True, unlock=True) as vault:
        result = gc(vault, grace_hours=grace_hours, dry_run=dry_run, yes=yes)
    verb = "would remove" if dry_run else "removed"
    context.render(result, lambda r: context.info(
        f"{verb} {r['objects_removed']} unreferenced object(s) of {r['objects_total']} ({r['share_objects']:.0%}), "
        f"{context.human_bytes(r['bytes_freed'])} ({r['share_bytes']:.0%}); {r['kept_within_grace']} kept within the grace period"))
