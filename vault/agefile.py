"""Writing age v1 files (age-encryption.org/v1) with OpenSSL, through ``cryptography``.

Everything the vault stores is encrypted here, so this is where an import spends its cipher
time.  pyrage (rage) encrypts at about 0.45 GB/s on one core while holding the GIL; OpenSSL's
ChaCha20-Poly1305 runs at several GB/s, so the threads that hash and write objects are left
most of the interpreter.  Reading stays with pyrage (``vault.crypto``), and the tests decrypt
what this module writes with the stock ``age`` tool and with pyrage.

The format, in short (the spec is at https://age-encryption.org/v1):

* a 16-byte random file key;
* per X25519 recipient, a stanza ``-> X25519 <ephemeral share>`` whose body is the file key
  sealed with ChaCha20-Poly1305 under HKDF-SHA256(shared secret, salt = share || recipient,
  info = "age-encryption.org/v1/X25519") and a zero nonce;
* the header ends with ``---`` and an HMAC-SHA256 of it, keyed with HKDF(file key, info "header");
* the payload is a 16-byte nonce, then the plaintext in 64 KiB chunks, each sealed with the key
  HKDF(file key, salt = nonce, info "payload") and the nonce ``counter (11 bytes) || last flag``.
"""

from __future__ import annotations

import base64
import functools
import hmac
import os
from typing import Callable, Protocol

CHUNK = 64 * 1024
TAG = 16
MAGIC = b"age-encryption.org/v1"
_X25519_INFO = b"age-encryption.org/v1/X25519"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


class AgeFormatError(ValueError):
    """A recipient string that is not a valid ``age1...`` X25519 recipient."""


class Readable(Protocol):
    """What the stream functions read from: a file, or a wrapper that hashes on the way."""

    def read(self, n: int = -1, /) -> bytes: ...


class Writable(Protocol):
    """What the stream functions write to."""

    def write(self, data: bytes, /) -> int: ...


def b64(raw: bytes) -> str:
    """age's base64: standard alphabet, no padding."""
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) with a 32-byte output: one extract and one expand block."""
    prk = hmac.digest(salt or bytes(32), key, "sha256")  # one-shot: no HMAC object per call
    return hmac.digest(prk, info + b"\x01", "sha256")


def recipient_key(recipient: str) -> bytes:
    """The 32-byte X25519 public key of an ``age1...`` recipient (Bech32, BIP 173)."""
    text = recipient.strip()
    if text.lower() != text and text.upper() != text:
        raise AgeFormatError("mixed case")
    text = text.lower()
    hrp, sep, data = text.rpartition("1")
    if hrp != "age" or not sep or len(data) < 6 or any(c not in _BECH32 for c in data):
        raise AgeFormatError("not an age1... Bech32 string")
    values = [_BECH32.index(c) for c in data]
    if _bech32_polymod([ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + values) != 1:
        raise AgeFormatError("bad Bech32 checksum")
    acc = bits = 0
    out = bytearray()
    for v in values[:-6]:
        acc = (acc << 5) | v
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if len(out) != 32 or bits >= 5 or acc & ((1 << bits) - 1):
        raise AgeFormatError("not a 32-byte key")
    return bytes(out)


def _bech32_polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


@functools.lru_cache(maxsize=16)
def _public_key(public: bytes):
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    return X25519PublicKey.from_public_bytes(public)


def _x25519_stanza(file_key: bytes, public: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    ephemeral = X25519PrivateKey.generate()  # a new one for every file and recipient
    share = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = ephemeral.exchange(_public_key(public))  # refuses a low-order key
    wrap_key = hkdf(shared, share + public, _X25519_INFO)
    body = ChaCha20Poly1305(wrap_key).encrypt(bytes(12), file_key, None)
    return f"-> X25519 {b64(share)}\n{b64(body)}\n"


def x25519_stanzas(recipients: list[bytes]) -> Callable[[bytes], str]:
    """What ``Sealer`` writes for these X25519 public keys: one stanza each."""
    return lambda file_key: "".join(_x25519_stanza(file_key, r) for r in recipients)


class Sealer:
    """The header and payload key of one age file.  ``stanzas(file_key)`` gives the header's
    recipient stanzas (each ending with a newline), which carry the file key sealed."""

    def __init__(self, stanzas: Callable[[bytes], str]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        file_key = os.urandom(16)
        text = MAGIC.decode("ascii") + "\n" + stanzas(file_key) + "---"
        mac = hmac.digest(hkdf(file_key, b"", b"header"), text.encode("ascii"), "sha256")
        nonce = os.urandom(16)
        self.header = (text + " " + b64(mac) + "\n").encode("ascii") + nonce
        self._aead = ChaCha20Poly1305(hkdf(file_key, nonce, b"payload"))
        self._counter = 0

    def _nonce(self, last: bool) -> bytes:
        """The STREAM nonce of the next chunk: its 11-byte counter, then the last-chunk flag."""
        nonce = self._counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        self._counter += 1
        return nonce

    def seal(self, chunk: bytes | memoryview, last: bool) -> bytes:
        """The next payload chunk (at most CHUNK bytes; only the last may be shorter)."""
        return self._aead.encrypt(self._nonce(last), bytes(chunk), None)

    def payload(self, plain: bytes | memoryview, out: bytearray | memoryview | None = None) -> bytearray | memoryview:
        """The header and the whole payload of ``plain`` (every chunk, the last flagged), in one
        buffer allocated once; or in ``out``, a writable buffer of at least ``sealed_size``
        bytes (then the part of it that holds the file is returned)."""
        view = memoryview(plain)
        size = len(view)
        total = sealed_size(size, len(self.header))
        if out is None:
            out = bytearray(total)
        elif len(out) < total:
            raise ValueError(f"the buffer holds {len(out)} bytes, the age file needs {total}")
        target = memoryview(out)[:total]
        target[:len(self.header)] = self.header
        into = getattr(self._aead, "encrypt_into", None)
        at = len(self.header)
        for start in range(0, max(size, 1), CHUNK):
            piece = view[start:start + CHUNK]
            last = start + CHUNK >= size
            if into is None:  # cryptography before 45
                sealed = self.seal(piece, last)
                target[at:at + len(sealed)] = sealed
            else:
                into(self._nonce(last), piece, None, target[at:at + len(piece) + TAG])
            at += len(piece) + TAG
        return out if len(out) == total else target


def sealed_size(size: int, header: int) -> int:
    """Bytes of an age file with a ``header`` of that many bytes (its payload nonce included)
    and ``size`` bytes of plaintext: every chunk, an empty plaintext's one included, gains a tag."""
    return header + size + max(1, -(-size // CHUNK)) * TAG


def encrypt(data: bytes | memoryview, recipients: list[bytes],
            out: bytearray | memoryview | None = None) -> bytearray | memoryview:
    """``data`` as a whole age file (in ``out`` when given: see ``Sealer.payload``)."""
    return Sealer(x25519_stanzas(recipients)).payload(data, out)


def encrypt_stream(reader: Readable, writer: Writable, recipients: list[bytes]) -> None:
    """Stream ``reader`` into ``writer`` as an age file, one chunk of memory at a time."""
    sealer = Sealer(x25519_stanzas(recipients))
    writer.write(sealer.header)
    current = read_full(reader, CHUNK)
    while True:
        following = read_full(reader, CHUNK) if len(current) == CHUNK else b""
        last = not following
        writer.write(sealer.seal(current, last))
        if last:
            return
        current = following


def read_full(reader: Readable, n: int) -> bytes:
    """Exactly ``n`` bytes, or fewer only at the end of the stream (a read may give less than
    it was asked for, and a pipe or a zip member often does)."""
    first = reader.read(n)
    if not first or len(first) == n:
        return first or b""
    parts = [first]
    have = len(first)
    while have < n:
        more = reader.read(n - have)
        if not more:
            break
        parts.append(more)
        have += len(more)
    return b"".join(parts)
