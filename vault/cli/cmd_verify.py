"""`vault verify`: check a published bundle from a folder or over HTTP(S)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import app, context


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
    from ..publish.verify import parse_resolve, verify_bundle

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
