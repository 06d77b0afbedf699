"""`vault completion SHELL` and the hidden `vault complete-values WHAT` the scripts call."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from . import app, context

_INSTALL = (
    "Examples:\n\n"
    "  vault completion bash > ~/.local/share/bash-completion/completions/vault\n\n"
    "  echo 'source <(vault completion bash)' >> ~/.bashrc          # without bash-completion\n\n"
    "  vault completion zsh > \"${fpath[1]}/_vault\"                   # then: compinit\n\n"
    "  vault completion fish > ~/.config/fish/completions/vault.fish\n\n"
    "Open a new shell afterwards. Commands, options and the values of --kind, --visibility and "
    "--source complete from the script itself; tags and publish targets are read from the vault "
    "(quietly, and only when a key is at hand without asking: --identity-file, `vault unlock` or "
    "the keyring)."
)


@app.command("completion", epilog=_INSTALL)
def completion_cmd(
    shell: Annotated[str, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script shipped with this installation."""
    from ..errors import UsageError
    from .completions import SHELLS, installed_script

    if shell not in SHELLS:
        raise UsageError(f"no completion for {shell!r}", hint="choose bash, zsh or fish")
    sys.stdout.write(installed_script(shell))


@app.command("complete-values", hidden=True)
def complete_values_cmd(what: Annotated[str, typer.Argument(metavar="WHAT", help="tags or targets.")]) -> None:
    """Values for shell completion, one a line; prints nothing when the vault cannot be read."""
    from ..errors import VaultError

    # Completing must never prompt or run a passphrase command: only keys at hand are used.
    saved = {k: os.environ.pop(k) for k in ("VAULT_PASSPHRASE_FILE", "VAULT_PASSPHRASE_COMMAND") if k in os.environ}
    stdin = sys.stdin
    try:
        sys.stdin = open(os.devnull, encoding="utf-8")
        for value in _values(what):
            context.say(value)
    except VaultError:
        pass
    finally:
        sys.stdin.close()
        sys.stdin = stdin
        os.environ.update(saved)


def _values(what: str) -> list[str]:

    o = context.opts()
    with context.open_vault(wait=0.5) as vault:
        if what == "targets":
            from ..settings import load

            return sorted(load(vault.settings_path).targets)
        if what == "tags":
            vault.unlock(o.identity_file)
            tags: set[str] = set()
            for rec in vault.catalog().query():
                tags.update(rec.get("tags") or [])
            return sorted(tags)
    return []
