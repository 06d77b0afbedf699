"""`vault version` (also `vault --version`)."""

from __future__ import annotations

import platform
import sys

from . import app, context


def version_info() -> dict:
    """What a bug report needs: this program's version and what it runs on."""
    from importlib import metadata

    from .. import __version__
    from ..store.vaultfile import VERSION

    def dist(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "version": __version__,
        "python": platform.python_version(),
        "platform": f"{sys.platform}/{platform.machine()}",
        "age_implementation": "pyrage",  # reads age files; vault.agefile writes them
        "age_writer": "vault.agefile",
        "pyrage": dist("pyrage"),
        "cryptography": dist("cryptography"),
        "vault_format_version": VERSION,
        "typer": dist("typer"),
    }


def print_version() -> None:
    info = version_info()
    context.render(info, lambda d: context.say(
        f"vault {d['version']} (python {d['python']}, {d['platform']}, age format read by pyrage {d['pyrage']} "
        f"and written with cryptography {d['cryptography']}, "
        f"vault format v{d['vault_format_version']})"))


@app.command("version", epilog="Examples:\n\n  vault version\n\n  vault version --json | jq -r .version")
def version_cmd() -> None:
    """Print the version of vault and of what it runs on (same as `vault --version`)."""
    print_version()
