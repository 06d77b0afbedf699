"""`vault publish`: build the bundle and deploy it to a target."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app, context


@app.command("publish", epilog=(
    "Examples:\n\n  vault publish --out ./site                      # build into a folder\n\n"
    "  vault publish --to git:git@github.com:jana/jana.github.io.git#gh-pages\n\n"
    "  vault publish mysite --dry-run                  # a target named in vault.yaml\n\n"
    "Only public records are published (premium ones as teasers); settings live in VAULT/vault.yaml."))
def publish_cmd(
    target: Annotated[Optional[str], typer.Argument(help="A target name from vault.yaml `targets:`.", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Build the bundle into this folder (kept between builds).", show_default=False)] = None,
    to: Annotated[Optional[str], typer.Option("--to", metavar="SPEC", help="Deploy to dir:PATH, git:URL#BRANCH, netlify:SITE_ID, neocities: or rclone:REMOTE:PATH.", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be added, changed and deleted; change nothing.")] = False,
) -> None:
    """Build the public site (pages, feeds, signed reputation) and deploy it."""
    from ..errors import UsageError
    from ..publish.pipeline import publish

    # Checked again by the core; here so that a mistake is reported before any key is asked for.
    if target and to:
        raise UsageError("give a target name or --to, not both")
    if target is None and to is None and out is None:
        raise UsageError("nothing to publish to", hint="give --out DIR, --to SPEC (dir:, git:, netlify:, neocities:, rclone:) or a target name from vault.yaml")

    with context.open_vault(exclusive=True, unlock=True) as vault:
        with context.progress_bar("building", None, unit_bytes=False) as advance:
            result = publish(vault, target=target, out=out, to=to, dry_run=dry_run, progress=advance)
    for w in result.get("warnings", []):
        context.warn(w)

    def text(r):
        b = r.get("build")
        if b:
            context.info(f"built {b['out']}: {b['files']} files ({b['written']} written, {b['removed']} removed); "
                         f"{b['published']['post']} posts, {b['published']['media']} media, {b['published']['rating']} ratings")
        plan = r.get("plan")
        if plan is not None:
            verb = "would" if r["dry_run"] else "did"
            for key in ("added", "changed", "deleted"):
                for p in plan[key]:
                    context.say(f"{key[0].upper()} {p}")
            context.info(f"{r['target']}: {verb} add {len(plan['added'])}, change {len(plan['changed'])}, delete {len(plan['deleted'])}")
        deployed = r.get("deploy") or {}
        if deployed.get("url"):
            context.info(f"live at {deployed['url']}")
        for skipped in deployed.get("skipped") or []:
            context.warn(f"not uploaded: {skipped}")

    context.render(result, text)
    # Files the host refused (e.g. a free plan's file types) are a partial success.
    context.exit_with(3 if (result.get("deploy") or {}).get("skipped") else 0)
