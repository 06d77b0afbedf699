"""`vault key show | export | passwd | add-recipient`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app, context

key_app = typer.Typer(
    help="Key management: recipients, paper backup of the identity, passphrase.",
    epilog="Examples:\n\n  vault key show\n\n  vault key export > identity.txt\n\n  vault key passwd",
    no_args_is_help=True,
)
app.add_typer(key_app, name="key")


@key_app.command("show", epilog="Examples:\n\n  vault key show\n\n  vault key show --json")
def show_cmd() -> None:
    """Print the vault's recipients (public keys); needs no secret."""
    with context.open_vault() as vault:
        out = {"vault_id": vault.header.vault_id, "recipients": vault.recipients}

    def text(d: dict) -> None:
        for r in d["recipients"]:
            context.say(r)

    context.render(out, text)


@key_app.command("export", epilog="Examples:\n\n  vault key export > identity.txt   # then: age -d -i identity.txt FILE\n\n  vault key export | lpr            # a paper copy")
def export_cmd() -> None:
    """Print the identity in age's identity-file format (AGE-SECRET-KEY-1...), for a paper backup."""
    o = context.opts()
    with context.open_vault() as vault:
        keys = vault.unlock(o.identity_file)
        from ..crypto import recipient_of

        secret = str(keys.identity.reveal())
        public = recipient_of(keys.identity)
        vid = vault.header.vault_id
    context.info("vault: warning: this is the key to everything in the vault; store it offline")
    if context.opts().json:
        context.print_json({"vault_id": vid, "recipient": public, "identity": secret})
    else:
        context.say(f"# vault {vid}\n# public key: {public}\n{secret}")


@key_app.command("passwd", epilog="Examples:\n\n  vault key passwd\n\n  vault key passwd --new-passphrase-file new.txt")
def passwd_cmd(
    new_passphrase_file: Annotated[Optional[Path], typer.Option(help="Read the new passphrase from this file instead of asking.", show_default=False)] = None,
) -> None:
    """Change the passphrase that protects keys/identity.age."""
    from ..keys.changes import change_passphrase
    from ..keys.lookup import new_passphrase

    # A missing or empty new-passphrase file is reported before the old passphrase is asked for.
    given = new_passphrase(new_passphrase_file) if new_passphrase_file is not None else None
    with context.open_vault(exclusive=True, unlock=True) as vault:
        if given is None:
            # The old passphrase may have come from the environment; the new one must not be
            # silently the same variable, so ask (or take the file).
            from ..keys.lookup import prompt_passphrase

            asked = prompt_passphrase("New passphrase: ", confirm=True)
            if asked is None:
                from ..errors import KeyUnavailableError

                raise KeyUnavailableError("no terminal to ask for the new passphrase", hint="use --new-passphrase-file F")
            passphrase = asked
        else:
            passphrase = given
        change_passphrase(vault, passphrase)
    context.render({"changed": True}, lambda d: context.info("Passphrase changed."))


@key_app.command("add-recipient", epilog="Examples:\n\n  vault key add-recipient age1qqq...   # e.g. an offline recovery key from age-keygen\n\n  vault key add-recipient \"$(age-keygen -y recovery.txt)\"")
def add_recipient_cmd(
    recipient: Annotated[str, typer.Argument(help="An age X25519 public key (age1...).")],
) -> None:
    """Encrypt everything written from now on to an extra recipient as well (e.g. a recovery key)."""
    from ..crypto import check_recipient
    from ..keys.changes import add_recipient

    check_recipient(recipient)  # a mistyped key is reported before any passphrase is asked for
    with context.open_vault(exclusive=True, unlock=True) as vault:
        added = add_recipient(vault, recipient)
        out = {"recipients": vault.recipients, "added": added}
    context.render(out, lambda d: context.info("Recipient added; objects written from now on are encrypted to it too." if d["added"] else "That recipient was already present."))
