"""The vault's age functions: the only module the rest of the vault encrypts and decrypts with.

Every file the vault writes at rest is an age v1 file, so the stock ``age`` tool can recover any of
it with the vault's identity.  Files are written by ``vault.agefile`` (OpenSSL through
``cryptography``, several times faster than pyrage and holding the GIL far less) and read, and
keys generated, by pyrage.  Contract of this module:

* encryption functions take recipients as ``age1...`` strings and never see the identity;
* decryption functions take an identity ``Secret`` and raise ``IntegrityError`` on any tampered,
  truncated or foreign ciphertext (pyrage raises a bare error and may leave partial output, so
  callers that stream MUST write to a temporary file and rename only on success);
* passphrase (scrypt) mode is used only for small files (the identity file, premium posts):
  pyrage has no streaming API for it.  Encryption is done here, with a fixed scrypt work factor
  (see SCRYPT_LOG_N); decryption goes through pyrage, after the header's work factor is checked.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pyrage

from .agefile import MAGIC, Readable, Writable
from .errors import IntegrityError, UsageError, WrongPassphraseError

if TYPE_CHECKING:
    from .keys.secret import Secret


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


def _identity(identity: "Secret"):
    try:
        return pyrage.x25519.Identity.from_str(identity.reveal().strip())
    except (pyrage.IdentityError, ValueError) as exc:
        # Never echo the secret itself.
        raise WrongPassphraseError("the identity is not a valid age X25519 identity") from exc


def _public_keys(recipients: list[str]) -> list[bytes]:
    if not recipients:
        raise UsageError("no recipients to encrypt to")
    return list(_decoded(tuple(recipients)))


@functools.lru_cache(maxsize=16)
def _decoded(recipients: tuple[str, ...]) -> tuple[bytes, ...]:
    """The X25519 keys of the recipients (decoded once: every object is encrypted to them)."""
    from .agefile import AgeFormatError, recipient_key

    try:
        return tuple(recipient_key(r) for r in recipients)
    except AgeFormatError as exc:
        raise UsageError(f"not an age X25519 recipient ({exc})", hint="recipients look like age1... (see `age-keygen -y`)") from exc


def encrypt_bytes(data: bytes, recipients: list[str]) -> bytes:
    return bytes(encrypt_buffer(data, recipients))


def encrypt_buffer(data: bytes | memoryview, recipients: list[str],
                   out: bytearray | memoryview | None = None) -> bytearray | memoryview:
    """``encrypt_bytes`` without the final copy: the age file in the buffer it was sealed into
    (``out`` when given, large enough for it: the part of it that holds the file is returned)."""
    from .agefile import encrypt

    return encrypt(data, _public_keys(recipients), out)


def encrypt_stream(reader: Readable, writer: Writable, recipients: list[str]) -> None:
    """Stream ``reader`` into ``writer`` as age ciphertext.  Memory stays bounded."""
    from . import agefile

    agefile.encrypt_stream(reader, writer, _public_keys(recipients))


def decrypt_bytes(data: bytes, identity: "Secret", what: str = "file") -> bytes:
    try:
        return pyrage.decrypt(data, [_identity(identity)])
    except pyrage.DecryptError as exc:
        raise IntegrityError(f"cannot decrypt {what}: tampered, truncated or not for this vault's key") from exc


def decrypt_stream(reader: Readable, writer: Writable, identity: "Secret", what: str = "file") -> None:
    """Decrypt ``reader`` into ``writer``.  On failure partial plaintext may have been written."""
    try:
        pyrage.decrypt_io(reader, writer, [_identity(identity)])
    except (pyrage.DecryptError, OSError) as exc:
        raise IntegrityError(f"cannot decrypt {what}: tampered, truncated or not for this vault's key") from exc


# scrypt's memory is 128 * r * 2**log_n bytes (r = 8 in age).  rage picks log_n by timing, so
# the identity file of a vault made on a fast machine took 512 MiB (log_n 19) or more to unlock,
# which is the whole of an unlock's memory peak.  18 (256 MiB, about a second) is the stock age
# tool's own default; files are written with it, and files claiming more than
# SCRYPT_MAX_LOG_N (what age itself accepts) are refused before anything is allocated.
SCRYPT_LOG_N = 18
SCRYPT_MAX_LOG_N = 22
_SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"


def passphrase_encrypt(data: bytes, passphrase: "Secret", log_n: int = SCRYPT_LOG_N) -> bytes:
    """``data`` as an age v1 file with one scrypt stanza (age-encryption.org/v1, "scrypt").

    Any age implementation decrypts it with the passphrase (``age -d``).  Written here rather
    than by pyrage so that the work factor, and so the memory every later unlock needs, is fixed.
    """
    import hashlib
    import os

    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    from .agefile import Sealer, b64

    secret = passphrase.reveal()
    secret = secret.encode("utf-8") if isinstance(secret, str) else secret

    def stanza(file_key: bytes) -> str:
        salt = os.urandom(16)
        n, r = 1 << log_n, 8
        wrap_key = hashlib.scrypt(secret, salt=_SCRYPT_LABEL + salt, n=n, r=r, p=1,
                                  maxmem=128 * r * (n + 2) + (1 << 20), dklen=32)
        body = ChaCha20Poly1305(wrap_key).encrypt(bytes(12), file_key, None)
        return f"-> scrypt {b64(salt)} {log_n}\n{b64(body)}\n"

    return bytes(Sealer(stanza).payload(data))


def scrypt_work_factor(data: bytes) -> int | None:
    """The log2 work factor in an age file's scrypt stanza, or None when it has none."""
    head = data[:256].split(b"\n")
    if len(head) < 2 or head[0] != MAGIC:
        return None
    parts = head[1].split(b" ")
    if len(parts) != 4 or parts[:2] != [b"->", b"scrypt"] or not parts[3].isdigit():
        return None
    return int(parts[3])


def passphrase_decrypt(data: bytes, passphrase: "Secret") -> bytes:
    log_n = scrypt_work_factor(data)
    if log_n is not None and log_n > SCRYPT_MAX_LOG_N:
        raise IntegrityError(
            f"keys/identity.age asks for a scrypt work factor of 2^{log_n} "
            f"({128 * 8 << log_n >> 30} GiB of memory); refusing more than 2^{SCRYPT_MAX_LOG_N}",
            hint="restore keys/identity.age from a backup, or unlock with VAULT_IDENTITY_FILE",
        )
    try:
        return pyrage.passphrase.decrypt(data, passphrase.reveal())
    except pyrage.DecryptError as exc:
        raise WrongPassphraseError(
            "wrong passphrase: cannot unlock keys/identity.age",
            hint="check VAULT_PASSPHRASE_FILE / VAULT_PASSPHRASE_COMMAND, or type it again",
        ) from exc


# Work factor of the premium key files a reader's browser opens (a GiB of memory per try at
# 2**20 would be too much there); tests lower it.
KEY_FILE_LOG_N = SCRYPT_LOG_N
