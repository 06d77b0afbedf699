"""`vault publish` and `vault verify`."""

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
    from ..publishing import publish

    from ..errors import UsageError
    from ..repository import open_vault

    # Checked again by the core; here so that a mistake is reported before any key is asked for.
    if target and to:
        raise UsageError("give a target name or --to, not both")
    if target is None and to is None and out is None:
        raise UsageError("nothing to publish to", hint="give --out DIR, --to SPEC (dir:, git:, netlify:, neocities:, rclone:) or a target name from vault.yaml")
    o = context.opts()

    with open_vault(o.vault_path(), exclusive=True, wait=o.lock_wait) as vault:
        vault.unlock(o.identity_file)
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


@app.command("verify", epilog=(
    "Examples:\n\n  vault verify https://jana.example.org/\n\n"
    "  vault verify ./site --resolve jana.example.org=https://jana.example.org/\n\n"
    "  vault verify http://127.0.0.1:8000/ --resolve jana.example.org=http://127.0.0.1:8000/\n\n"
    "The issuer's key is read from the DID's own origin (did:web), never from the copy under test; "
    "a folder is checked against its own did.json unless --resolve names its host. Exit 13 on any mismatch."))
def verify_cmd(
    location: Annotated[str, typer.Argument(metavar="PATH_OR_URL", help="A bundle folder or the site's URL.")],
    resolve: Annotated[Optional[list[str]], typer.Option(
        "--resolve", metavar="HOST=URL",
        help="Fetch the DID document of did:web HOST (with :PORT if the DID has one) from URL instead of https://HOST/. Repeatable.",
        show_default=False)] = None,
) -> None:
    """Check a published bundle: signed manifest, every file's hash, credential proofs and expiry."""
    from ..errors import IntegrityError
    from ..verify import parse_resolve, verify_bundle

    hosts = parse_resolve(resolve or [])
    with context.progress_bar("verifying", None, unit_bytes=False) as advance:
        report = verify_bundle(location, progress=advance, resolve=hosts)
    for w in report.warnings:
        context.warn(w)

    def text(r):
        for p in r["problems"]:
            context.say(f"BAD  {p}")
        if r["ok"]:
            where = f"key from {r['did_document']}" if r["key_checked"] else "key NOT checked against its domain"
            context.info(f"ok: {r['files_checked']} files match the manifest signed by {r['did']} ({where}); "
                         f"{sum(1 for c in r['credentials'] if c['ok'])} credential(s) valid")

    context.render(report.to_json(), text)
    if not report.ok:
        raise IntegrityError(f"{len(report.problems)} problem(s): {report.problems[0]}",
                             hint=report.hint or "if this is your site, rebuild and redeploy it with `vault publish`; otherwise do not trust its claims")
