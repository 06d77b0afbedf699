"""The vault's own age writer, judged by readers it did not write: the stock ``age`` tool and
pyrage (rage) decrypt what it encrypts, byte for byte, at every chunk boundary."""

from __future__ import annotations

import io
import os
import subprocess

import pyrage
import pytest

from tests.support.env import requires_age
from vault import agefile, crypto
from vault.errors import IntegrityError, UsageError
from vault.keys.secret import Secret

# Around the 64 KiB STREAM chunk: empty, one byte, one short of a chunk, exactly one, one over,
# exactly two, and a megabyte that ends mid-chunk.
SIZES = [0, 1, 65535, 65536, 65537, 131072, (1 << 20) + 3]


class Dribble(io.RawIOBase):
    """A reader that hands out at most ``step`` bytes per read, as a zip member or pipe may."""

    def __init__(self, data: bytes, step: int) -> None:
        self._buf = io.BytesIO(data)
        self._step = step

    def read(self, n: int = -1) -> bytes:
        return self._buf.read(self._step if n is None or n < 0 else min(n, self._step))


@pytest.fixture(scope="module")
def keypair():
    ident = pyrage.x25519.Identity.generate()
    return ident, str(ident.to_public())


def _stream(data: bytes, recipients: list[str], step: int = 1 << 20) -> bytes:
    out = io.BytesIO()
    crypto.encrypt_stream(Dribble(data, step), out, recipients)
    return out.getvalue()


def _into_buffer(data: bytes, recipient: str) -> bytes:
    """Sealed into a buffer larger than needed, whose tail must be left as it was."""
    size = agefile.sealed_size(len(data), 4096)
    room = bytearray(b"\xee" * (size + 100))
    sealed = crypto.encrypt_buffer(data, [recipient], memoryview(room))
    assert bytes(room[len(sealed):]) == b"\xee" * (len(room) - len(sealed))
    text = bytes(sealed)
    header = text.index(b"\n", text.index(b"\n---") + 1) + 1 + 16  # the header lines, the payload nonce
    assert len(text) == agefile.sealed_size(len(data), header)
    return text


@requires_age
@pytest.mark.parametrize("size", SIZES)
def test_stock_age_decrypts_what_the_writer_seals(size, keypair, tmp_path):
    ident, recipient = keypair
    key_file = tmp_path / "key.txt"
    key_file.write_text(str(ident) + "\n")
    data = os.urandom(size)
    for name, cipher in (("whole", crypto.encrypt_bytes(data, [recipient])),
                         ("stream", _stream(data, [recipient])),
                         ("dribbled", _stream(data, [recipient], step=1000)),
                         ("into a given buffer", _into_buffer(data, recipient))):
        path = tmp_path / f"{name}.age"
        path.write_bytes(cipher)
        res = subprocess.run(["age", "--decrypt", "-i", str(key_file), str(path)], capture_output=True, check=False)
        assert res.returncode == 0, (name, res.stderr)
        assert res.stdout == data, name


@pytest.mark.parametrize("size", SIZES)
def test_rage_decrypts_what_the_writer_seals(size, keypair):
    ident, recipient = keypair
    data = os.urandom(size)
    assert pyrage.decrypt(crypto.encrypt_bytes(data, [recipient]), [ident]) == data
    assert pyrage.decrypt(_stream(data, [recipient], step=777), [ident]) == data


def test_rage_decrypts_what_is_sealed_into_a_given_buffer_and_a_short_one_is_refused(keypair):
    ident, recipient = keypair
    for size in SIZES:
        data = os.urandom(size)
        assert pyrage.decrypt(_into_buffer(data, recipient), [ident]) == data
    with pytest.raises(ValueError, match="the buffer holds"):
        crypto.encrypt_buffer(b"x" * 100, [recipient], bytearray(100))


def test_the_ciphertext_is_the_size_the_format_says(keypair):
    """Header, 16-byte nonce, then 64 KiB chunks each with a 16-byte tag (an empty file has one)."""
    _, recipient = keypair
    for size in SIZES:
        cipher = crypto.encrypt_bytes(os.urandom(size), [recipient])
        header_end = cipher.index(b"\n---") + 1
        header_end = cipher.index(b"\n", header_end) + 1
        chunks = max(1, -(-size // 65536))
        assert len(cipher) == header_end + 16 + size + 16 * chunks


def test_every_recipient_opens_it_and_each_file_has_fresh_keys(keypair):
    first, first_recipient = keypair
    second = pyrage.x25519.Identity.generate()
    data = b"the same bytes twice"
    one = crypto.encrypt_bytes(data, [first_recipient, str(second.to_public())])
    two = crypto.encrypt_bytes(data, [first_recipient, str(second.to_public())])
    assert pyrage.decrypt(one, [first]) == data
    assert pyrage.decrypt(one, [second]) == data
    assert one.count(b"\n-> X25519 ") == 2
    assert one != two  # new file key, ephemeral shares and payload nonce every time
    assert one.split(b"\n")[1] != two.split(b"\n")[1]


def test_a_flipped_byte_anywhere_is_refused(keypair):
    ident, recipient = keypair
    secret = Secret(str(ident))
    cipher = bytearray(crypto.encrypt_bytes(os.urandom(200_000), [recipient]))
    for at in (30, cipher.index(b"---") + 5, len(cipher) // 2, len(cipher) - 1):
        bad = bytearray(cipher)
        bad[at] ^= 0x01
        with pytest.raises(IntegrityError):
            crypto.decrypt_bytes(bytes(bad), secret)
    with pytest.raises(IntegrityError):
        crypto.decrypt_bytes(bytes(cipher[:-1]), secret)  # truncated


def test_recipients_are_checked_before_anything_is_sealed(keypair):
    _, recipient = keypair
    assert agefile.recipient_key(recipient.upper()) == agefile.recipient_key(recipient)
    broken = recipient[:-1] + ("q" if recipient[-1] != "q" else "p")
    for bad in (broken, recipient[:10] + recipient[10:].upper(), "age1", "ssh-ed25519 AAAA",
                "age1zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"):
        with pytest.raises(UsageError):
            crypto.encrypt_bytes(b"x", [bad])
    with pytest.raises(UsageError):
        crypto.encrypt_bytes(b"x", [])


@requires_age  # the age package brings age-keygen
def test_the_x25519_key_is_decoded_as_age_keygen_encodes_it(tmp_path):
    """A recipient made by the stock tool: what the writer seals to it opens with its identity."""
    key_file = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key_file)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(key_file)], check=True, capture_output=True, text=True).stdout.strip()
    identity = next(line for line in key_file.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))
    assert pyrage.decrypt(crypto.encrypt_bytes(b"hello", [recipient]), [pyrage.x25519.Identity.from_str(identity)]) == b"hello"
