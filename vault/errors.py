"""Every failure the program reports, with its exit code (docs/architecture.md, errors and exit codes).

Core code raises these; the command line turns them into ``vault: error: ...`` lines and exit
codes in exactly one place (``vault.cli.main``).  Messages MUST NOT contain secrets.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    PARTIAL = 3
    NO_VAULT = 10
    LOCKED = 11
    KEY_UNAVAILABLE = 12
    INTEGRITY = 13
    UNSUPPORTED_INPUT = 20
    INTERRUPTED = 130


class VaultError(Exception):
    """Base of every expected failure: carries an exit code, a message and an optional hint."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_json(self) -> dict:
        out = {"error": self.message, "exit_code": int(self.exit_code), "type": type(self).__name__}
        if self.hint:
            out["hint"] = self.hint
        return out


class UsageError(VaultError):
    exit_code = ExitCode.USAGE


class NoVaultError(VaultError):
    exit_code = ExitCode.NO_VAULT


class VaultExistsError(UsageError):
    pass


class FormatVersionError(VaultError):
    """The vault was written by a newer, incompatible version of this program."""

    exit_code = ExitCode.UNEXPECTED


class LockedError(VaultError):
    exit_code = ExitCode.LOCKED


class KeyUnavailableError(VaultError):
    exit_code = ExitCode.KEY_UNAVAILABLE


class WrongPassphraseError(KeyUnavailableError):
    pass


class IntegrityError(VaultError):
    exit_code = ExitCode.INTEGRITY


class UnsupportedInputError(VaultError):
    exit_code = ExitCode.UNSUPPORTED_INPUT


class NotFoundError(VaultError):
    """A record id that is not in the catalog: a usage problem, not a crash."""

    exit_code = ExitCode.USAGE


class StorageError(VaultError):
    """The file system refused a write (full disk, permissions, read-only)."""

    exit_code = ExitCode.UNEXPECTED


class RemoteError(VaultError):
    """A backup or publish destination failed; the message carries the remote's own words."""

    exit_code = ExitCode.UNEXPECTED


class Interrupted(VaultError):
    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str = "interrupted; nothing half-written is visible", hint: str | None = None) -> None:
        super().__init__(message, hint)
