"""Where the vault's identity comes from (docs/architecture.md, keys).

Lookup order: ``--identity-file`` / ``VAULT_IDENTITY_FILE``; the unlock agent (``vault unlock``,
see ``vault.keys.agent``); the OS keyring (service ``vault``, user = vault id); ``VAULT_PASSPHRASE_FILE`` or ``VAULT_PASSPHRASE_COMMAND`` to decrypt
``keys/identity.age``; an interactive prompt when stdin is a terminal.  Otherwise
``KeyUnavailableError`` (exit 12) at once, never a hang.

This module MUST NOT print secrets, put them in exception messages, or accept them as command-line
arguments.  A keyring that is missing or locked is skipped, not fatal.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import KeyUnavailableError, UsageError, WrongPassphraseError
from .secret import Secret

KEYRING_SERVICE = "vault"
_HINT = (
    "give the identity with --identity-file F or VAULT_IDENTITY_FILE, store it in the keyring, "
    "or set VAULT_PASSPHRASE_FILE / VAULT_PASSPHRASE_COMMAND to unlock keys/identity.age"
)


@dataclass
class KeySource:
    """Describes where the identity was found (for `vault status`), never the secret."""

    name: str
    detail: str = ""


def read_identity_file(path: Path) -> Secret:
    """Read an age identity file (``AGE-SECRET-KEY-1...`` lines, ``#`` comments allowed)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyUnavailableError(f"cannot read identity file {path}: {exc.strerror}") from exc
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("AGE-SECRET-KEY-1"):
            return Secret(line)
    raise KeyUnavailableError(f"{path} holds no AGE-SECRET-KEY-1... line", hint="export one with `vault key export`")


def passphrase_from_env() -> Secret | None:
    """The passphrase from VAULT_PASSPHRASE_FILE or VAULT_PASSPHRASE_COMMAND, if either is set."""
    pfile = os.environ.get("VAULT_PASSPHRASE_FILE")
    if pfile:
        try:
            raw = Path(pfile).read_text(encoding="utf-8")
        except OSError as exc:
            raise KeyUnavailableError(f"cannot read VAULT_PASSPHRASE_FILE {pfile}: {exc.strerror}") from exc
        return Secret(raw.splitlines()[0] if raw else "")
    command = os.environ.get("VAULT_PASSPHRASE_COMMAND")
    if command:
        try:
            proc = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            raise KeyUnavailableError(f"VAULT_PASSPHRASE_COMMAND failed to run: {type(exc).__name__}") from exc
        if proc.returncode != 0:
            raise KeyUnavailableError(f"VAULT_PASSPHRASE_COMMAND exited with status {proc.returncode}")
        out = proc.stdout
        return Secret(out.splitlines()[0] if out else "")
    return None


def read_passphrase_file(path: Path) -> Secret:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read passphrase file {path}: {exc.strerror}") from exc
    value = raw.splitlines()[0] if raw else ""
    if not value:
        raise UsageError(f"passphrase file {path} is empty")
    return Secret(value)


def prompt_passphrase(prompt: str, confirm: bool = False) -> Secret | None:
    """Ask on the terminal; None when stdin is not a terminal (cron, pipes)."""
    if not sys.stdin.isatty():
        return None
    import getpass

    first = getpass.getpass(prompt)
    if confirm:
        second = getpass.getpass("Repeat passphrase: ")
        if first != second:
            raise UsageError("the passphrases do not match")
    if not first:
        raise UsageError("an empty passphrase is not allowed")
    return Secret(first)


def new_passphrase(passphrase_file: Path | None) -> Secret:
    """A new passphrase for `init` / `key passwd`: file, environment, or a confirmed prompt."""
    if passphrase_file is not None:
        return read_passphrase_file(passphrase_file)
    from_env = passphrase_from_env()
    if from_env is not None:
        if not from_env.reveal():
            raise UsageError("the passphrase from the environment is empty")
        return from_env
    asked = prompt_passphrase("New passphrase: ", confirm=True)
    if asked is None:
        raise KeyUnavailableError(
            "a passphrase is needed and there is no terminal to ask for it",
            hint="use --passphrase-file F, VAULT_PASSPHRASE_FILE or VAULT_PASSPHRASE_COMMAND",
        )
    return asked


# --- keyring ---------------------------------------------------------------------------------


def _keyring_errors() -> tuple[type[BaseException], ...]:
    import keyring.errors

    # Backends raise RuntimeError subclasses or D-Bus errors when no session bus exists (cron).
    return (keyring.errors.KeyringError, RuntimeError, OSError)


def keyring_get(vault_id: str) -> Secret | None:
    if os.environ.get("VAULT_NO_KEYRING"):
        return None
    try:
        import keyring

        value = keyring.get_password(KEYRING_SERVICE, vault_id)
    except ImportError:
        return None
    except _keyring_errors():
        return None
    return Secret(value) if value else None


def keyring_set(vault_id: str, identity: Secret) -> bool:
    """Store the identity; return False (not raise) when no usable keyring exists."""
    if os.environ.get("VAULT_NO_KEYRING"):
        return False
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, vault_id, str(identity.reveal()))
    except ImportError:
        return False
    except _keyring_errors():
        return False
    return True


# --- lookup ----------------------------------------------------------------------------------


def find_identity(
    vault_id: str,
    identity_age: Callable[[], bytes],
    identity_file: Path | None = None,
    passphrase: Secret | None = None,
) -> tuple[Secret, KeySource]:
    """Find the identity in the documented order; raise KeyUnavailableError (exit 12) otherwise.

    ``identity_age`` returns the bytes of ``keys/identity.age`` (read lazily: most lookups never
    need it).  ``passphrase`` is for library callers that already hold it (the demo).
    """
    from .. import crypto

    path = identity_file or (Path(os.environ["VAULT_IDENTITY_FILE"]) if os.environ.get("VAULT_IDENTITY_FILE") else None)
    if path is not None:
        return read_identity_file(path), KeySource("identity-file", str(path))

    from . import agent

    from_agent = agent.fetch_identity(vault_id)
    if from_agent is not None:
        return from_agent, KeySource("agent")

    from_keyring = keyring_get(vault_id)
    if from_keyring is not None:
        return from_keyring, KeySource("keyring")

    source = "passphrase-env"
    if passphrase is None:
        passphrase = passphrase_from_env()
    if passphrase is None:
        passphrase = prompt_passphrase("Vault passphrase: ")
        source = "prompt"
    if passphrase is None:
        raise KeyUnavailableError("no key available to unlock the vault", hint=_HINT)
    plain = crypto.passphrase_decrypt(identity_age(), passphrase)
    text = plain.decode("utf-8", "replace").strip()
    if not text.startswith("AGE-SECRET-KEY-1"):
        raise WrongPassphraseError("keys/identity.age does not hold an age identity")
    return Secret(text), KeySource(source)


def available_sources(vault_id: str) -> list[str]:
    """Which key sources are configured right now (for `vault status`); never unlocks anything."""
    found = []
    if os.environ.get("VAULT_IDENTITY_FILE"):
        found.append("identity-file")
    from . import agent

    if agent.status(vault_id) is not None:
        found.append("agent")
    if keyring_get(vault_id) is not None:
        found.append("keyring")
    if os.environ.get("VAULT_PASSPHRASE_FILE"):
        found.append("passphrase-file")
    if os.environ.get("VAULT_PASSPHRASE_COMMAND"):
        found.append("passphrase-command")
    if sys.stdin.isatty():
        found.append("prompt")
    return found
