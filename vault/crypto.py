"""The only module that touches the age implementation (pyrage).

Every file the vault writes at rest is an age v1 file, so the stock ``age`` tool can recover any of
it with the vault's identity.  Contract of this module:

* encryption functions take recipients as ``age1...`` strings and never see the identity;
* decryption functions take an identity ``Secret`` and raise ``IntegrityError`` on any tampered,
  truncated or foreign ciphertext (pyrage raises a bare error and may leave partial output, so
  callers that stream MUST write to a temporary file and rename only on success);
* passphrase (scrypt) mode is used only for the small identity file: pyrage has no streaming API
  for it.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

import pyrage

from .errors import IntegrityError, UsageError, WrongPassphraseError

if TYPE_CHECKING:
    from .keys import Secret

AGE_MAGIC = b"age-encryption.org/v1\n"


def generate_identity() -> tuple[str, str]:
    """Return (identity ``AGE-SECRET-KEY-1...``, recipient ``age1...``) for a new X25519 key."""
    ident = pyrage.x25519.Identity.generate()
    return str(ident), str(ident.to_public())


def recipient_of(identity: "Secret") -> str:
    return str(_identity(identity).to_public())


def check_recipient(recipient: str) -> str:
    """Validate an ``age1...`` recipient string; raise UsageError with the reason otherwise."""
    try:
        pyrage.x25519.Recipient.from_str(recipient.strip())
    except (pyrage.RecipientError, ValueError) as exc:
        raise UsageError(f"not an age X25519 recipient: {recipient!r}", hint="recipients look like age1... (see `age-keygen -y`)") from exc
    return recipient.strip()


def _recipients(recipients: list[str]) -> list:
    if not recipients:
        raise UsageError("no recipients to encrypt to")
    return [pyrage.x25519.Recipient.from_str(r) for r in recipients]


def _identity(identity: "Secret"):
    try:
        return pyrage.x25519.Identity.from_str(identity.reveal().strip())
    except (pyrage.IdentityError, ValueError) as exc:
        # Never echo the secret itself.
        raise WrongPassphraseError("the identity is not a valid age X25519 identity") from exc


def encrypt_bytes(data: bytes, recipients: list[str]) -> bytes:
    return pyrage.encrypt(data, _recipients(recipients))


def encrypt_stream(reader: IO[bytes], writer: IO[bytes], recipients: list[str]) -> None:
    """Stream ``reader`` into ``writer`` as age ciphertext.  Memory stays bounded."""
    pyrage.encrypt_io(reader, writer, _recipients(recipients))


def decrypt_bytes(data: bytes, identity: "Secret", what: str = "file") -> bytes:
    try:
        return pyrage.decrypt(data, [_identity(identity)])
    except pyrage.DecryptError as exc:
        raise IntegrityError(f"cannot decrypt {what}: tampered, truncated or not for this vault's key") from exc


def decrypt_stream(reader: IO[bytes], writer: IO[bytes], identity: "Secret", what: str = "file") -> None:
    """Decrypt ``reader`` into ``writer``.  On failure partial plaintext may have been written."""
    try:
        pyrage.decrypt_io(reader, writer, [_identity(identity)])
    except (pyrage.DecryptError, OSError) as exc:
        raise IntegrityError(f"cannot decrypt {what}: tampered, truncated or not for this vault's key") from exc


def passphrase_encrypt(data: bytes, passphrase: "Secret") -> bytes:
    return pyrage.passphrase.encrypt(data, passphrase.reveal())


def passphrase_decrypt(data: bytes, passphrase: "Secret") -> bytes:
    try:
        return pyrage.passphrase.decrypt(data, passphrase.reveal())
    except pyrage.DecryptError as exc:
        raise WrongPassphraseError(
            "wrong passphrase: cannot unlock keys/identity.age",
            hint="check VAULT_PASSPHRASE_FILE / VAULT_PASSPHRASE_COMMAND, or type it again",
        ) from exc
