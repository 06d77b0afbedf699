"""`vault man`: the manual page in roff."""

from __future__ import annotations

import sys

from . import app


@app.command(
    "man",
    epilog=(
        "Examples:\n\n"
        "  vault man | man -l -\n\n"
        "  mkdir -p ~/.local/share/man/man1 && vault man > ~/.local/share/man/man1/vault.1   # then: man vault"
    ),
)
def man_cmd() -> None:
    """Print the manual page vault(1), generated from this version's commands."""
    from .manpage import render

    sys.stdout.write(render())
