"""`vault demo`: try everything on bundled sample exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import app, context


@app.command("demo", epilog="Examples:\n\n  vault demo ./vault-demo\n\n  VAULT_DIR=./vault-demo/vault VAULT_PASSPHRASE_FILE=./vault-demo/demo-passphrase.txt vault list")
def demo_cmd(directory: Annotated[Path, typer.Argument(metavar="DIR", help="A new folder for the samples, the demo vault and the site.")] = Path("vault-demo")) -> None:
    """Import bundled sample exports into a demo vault, search them and publish a site locally."""
    from ..demo.run import run_demo

    directory = directory.expanduser().resolve()
    steps = []
    for step in run_demo(directory):
        steps.append({"step": step.title, "detail": step.detail, **step.data})
        if not context.opts().json:
            context.say(f"✓ {step.title}: {step.detail}")
    if context.opts().json:
        context.print_json({"directory": str(directory), "steps": steps})
    else:
        vault_dir = directory / "vault"
        context.say("")
        context.say("Try it yourself:")
        context.say(f"  export VAULT_DIR={vault_dir} VAULT_PASSPHRASE_FILE={directory / 'demo-passphrase.txt'}")
        context.say("  vault status")
        context.say("  vault search coffee")
        context.say("  vault list --kind rating")
        site = directory / "site" / "index.html"
        if site.exists():
            context.say(f"  open {site}")
