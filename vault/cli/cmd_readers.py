"""`vault readers add | list | remove`: who can open premium posts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app, context

readers_app = typer.Typer(
    help="Premium readers: the subscribers' age keys or passphrases that open premium posts.",
    epilog="Examples:\n\n  vault readers add ana age1...\n\n  vault readers add ben --passphrase\n\n  vault readers list\n\n  vault readers remove ben",
    no_args_is_help=True,
)
app.add_typer(readers_app, name="readers")

REMOVED_NOTE = ("Later builds no longer encrypt premium posts to {name}; premium files they already downloaded "
                "stay readable to them (an age file cannot be taken back). Run `vault publish` to update the site.")


@readers_app.command("add", epilog="Examples:\n\n  vault readers add ana age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n\n"
                                   "  vault readers add ben --passphrase\n\n  vault readers add ben --passphrase-file ben.txt")
def add_cmd(
    name: Annotated[str, typer.Argument(help="A name for the reader (shown only to you).", show_default=False)],
    recipient: Annotated[Optional[str], typer.Argument(help="The reader's age public key (age1...).", show_default=False)] = None,
    passphrase: Annotated[bool, typer.Option("--passphrase", help="Give the reader a passphrase instead (asked twice on the terminal).")] = False,
    passphrase_file: Annotated[Optional[Path], typer.Option(help="Read the reader's passphrase from this file (implies --passphrase).", show_default=False)] = None,
) -> None:
    """Let a reader open premium posts, with their age key or a passphrase you give them."""
    from ..errors import KeyUnavailableError, UsageError
    from ..keys.lookup import prompt_passphrase, read_passphrase_file
    from ..publish.readers import add

    wants_passphrase = passphrase or passphrase_file is not None
    if (recipient is None) == (not wants_passphrase):
        raise UsageError("give either the reader's age key (age1...) or --passphrase",
                         hint="vault readers add NAME age1...   or   vault readers add NAME --passphrase")
    secret = None
    if passphrase_file is not None:
        secret = read_passphrase_file(passphrase_file)
    with context.open_vault(exclusive=True, unlock=True) as vault:
        if wants_passphrase and secret is None:
            secret = prompt_passphrase(f"Passphrase for {name}: ", confirm=True)
            if secret is None:
                raise KeyUnavailableError("no terminal to ask for the reader's passphrase", hint="use --passphrase-file F")
        added = add(vault, name, recipient=recipient, passphrase=secret)

    def text(d: dict) -> None:
        how = "their age key" if d["kind"] == "key" else "the passphrase you gave them"
        context.info(f"Added reader {d['name']}: from the next `vault publish` on, they open premium posts with {how}.")

    context.render(added, text)


@readers_app.command("list", epilog="Examples:\n\n  vault readers list\n\n  vault readers list --json")
def list_cmd() -> None:
    """List the premium readers (names, kinds and public keys; never passphrases)."""
    from ..publish.readers import listing

    with context.open_vault(unlock=True) as vault:
        rows = listing(vault)

    def text(d: dict) -> None:
        if not d["readers"]:
            context.info("No readers yet: add one with `vault readers add NAME age1...` or `vault readers add NAME --passphrase`.")
        for r in d["readers"]:
            context.say(f"{r['name']}\t{r['kind']}\t{r['recipient'] or '-'}\t{r['added']}")

    context.render({"readers": rows}, text)


@readers_app.command("remove", epilog="Examples:\n\n  vault readers remove ben")
def remove_cmd(
    name: Annotated[str, typer.Argument(help="The reader's name, as `vault readers list` shows it.", show_default=False)],
) -> None:
    """Stop encrypting premium posts to a reader (files they already have stay readable to them)."""
    from ..publish.readers import remove

    with context.open_vault(exclusive=True, unlock=True) as vault:
        removed = remove(vault, name)
    note = REMOVED_NOTE.format(name=removed["name"])
    context.render(dict(removed, note=note), lambda d: context.info(f"Removed reader {d['name']}. {note}"))
