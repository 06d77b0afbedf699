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


# Fixed scrypt work factor for key files read in a browser.  pyrage picks one by timing this
# machine (up to 2**20 and more, a GiB of memory per try in a browser); 2**18 is what the
# reference age tool writes.
KEY_FILE_LOG_N = 18


def passphrase_encrypt_small(data: bytes, passphrase: "Secret", log_n: int = KEY_FILE_LOG_N) -> bytes:
    """An age v1 file with one scrypt stanza of work factor ``2**log_n``, for a small payload
    (at most one 64 KiB chunk: a key file).  Written here because pyrage cannot fix the work
    factor; any age implementation decrypts it."""
    import base64
    import hmac
    import os

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    if len(data) > 64 * 1024:
        raise ValueError("passphrase_encrypt_small takes at most 64 KiB")

    def b64(raw: bytes) -> bytes:
        return base64.b64encode(raw).rstrip(b"=")

    def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)

    secret = passphrase.reveal()
    secret = secret.encode() if isinstance(secret, str) else secret
    file_key = os.urandom(16)
    salt = os.urandom(16)
    wrap_key = Scrypt(salt=b"age-encryption.org/v1/scrypt" + salt, length=32, n=2**log_n, r=8, p=1).derive(secret)
    body = ChaCha20Poly1305(wrap_key).encrypt(bytes(12), file_key, None)
    header = AGE_MAGIC + b"-> scrypt " + b64(salt) + b" " + str(log_n).encode() + b"\n" + b64(body) + b"\n---"
    mac = hmac.new(hkdf(file_key, b"", b"header"), header, "sha256").digest()
    nonce = os.urandom(16)
    # One STREAM chunk: counter 0, last-chunk flag set.
    payload = ChaCha20Poly1305(hkdf(file_key, nonce, b"payload")).encrypt(bytes(11) + b"\x01", data, None)
    return header + b" " + b64(mac) + b"\n" + nonce + payload
