"""`vault init`: create a vault."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app, context


@app.command("init", epilog="Examples:\n\n  vault init ~/vault\n\n  vault init ~/vault --passphrase-file ~/.vault-pass --no-keyring")
def init_cmd(
    path: Annotated[Optional[Path], typer.Argument(help="Where to create the vault (else --vault / $VAULT_DIR / the platform data folder).", show_default=False)] = None,
    passphrase_file: Annotated[Optional[Path], typer.Option(help="Read the new passphrase from this file (first line) instead of asking.", show_default=False)] = None,
    no_keyring: Annotated[bool, typer.Option("--no-keyring", help="Do not store the identity in the OS keyring.")] = False,
) -> None:
    """Create a new vault: an age identity (protected by a passphrase) and a writer key."""
    from ..keys.lookup import new_passphrase
    from ..repository import Vault

    target = path or context.opts().vault_path()
    passphrase = new_passphrase(passphrase_file)
    vault, in_keyring = Vault.create(target, passphrase, use_keyring=not no_keyring)
    header = vault.header
    out = {"vault": str(vault.path), "vault_id": header.vault_id, "recipients": header.recipients, "keyring": in_keyring}

    def text(o):
        context.say(f"Created vault {o['vault']}")
        context.say(f"  id:        {o['vault_id']}")
        context.say(f"  recipient: {o['recipients'][0]}")
        context.say("  identity:  " + ("stored in the OS keyring" if o["keyring"] else "keys/identity.age, unlocked with your passphrase"))
        context.info("vault: hint: keep a paper copy of the identity: `vault key export` (it recovers everything, with the stock age tool too)")

    context.render(out, text)
