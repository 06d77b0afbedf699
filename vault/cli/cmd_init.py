"""`vault init` and `vault status`."""

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
    from ..keys import new_passphrase
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


@app.command("status", epilog="Examples:\n\n  vault status\n\n  vault status --json")
def status_cmd() -> None:
    """Counts by kind and source, size, last imports, and which key sources are available."""
    from .. import keys as keymod
    from ..errors import KeyUnavailableError
    from ..repository import open_vault
    from ..status import key_free_status

    o = context.opts()
    with open_vault(o.vault_path(), wait=o.lock_wait) as vault:
        out = key_free_status(vault)
        out["key_sources"] = keymod.available_sources(vault.header.vault_id)
        error = None
        try:
            vault.unlock(o.identity_file)
            cat = vault.catalog()
            out["counts"] = cat.counts()
            out["by_source"] = cat.by_source()
            out["last_imports"] = cat.imports()
            out["visibility"] = cat.visibility_counts()
            out["catalog_segments"] = len(cat.segments)
        except KeyUnavailableError as exc:
            out["counts"] = None
            error = exc

    def text(s):
        context.say(f"vault   {s['vault']}  (id {s['vault_id']}, format v{s['format_version']})")
        context.say(f"size    {_human(s['size_bytes'])} in {s['objects']} objects")
        context.say(f"keys    available: {', '.join(s['key_sources']) or 'none'}; recipients: {len(s['recipients'])}")
        if s.get("counts") is not None:
            c = s["counts"]
            context.say(f"records {c['post']} posts, {c['media']} media, {c['rating']} ratings")
            for source, kinds in s["by_source"].items():
                context.say(f"  {source:<10} " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
            if s["last_imports"]:
                context.say("last imports")
                for imp in s["last_imports"]:
                    added = sum(imp["summary"].get("added", {}).values())
                    context.say(f"  {imp['at']}  {imp['source']:<10} {imp['export']}  (+{added})")

    context.render(out, text)
    if error is not None:
        raise error


def _human(n: int) -> str:
    return context.human_bytes(n)
