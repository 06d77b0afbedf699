"""A small DAG-CBOR decoder and CAR v1 reader, for Bluesky repository exports (docs/formats/bluesky.md).

Why not a library: ``libipld`` (the maintained Rust binding atproto's SDK uses) was evaluated.
Its ``decode_car`` is all or nothing, so one damaged block or a download cut short loses the
whole repository, where this reader keeps every block before the damage; and it returns CID
links as plain ``bytes``, indistinguishable from byte strings.  What the importer needs is
small: DAG-CBOR is CBOR restricted to definite lengths, string map keys and one tag (42, a CID).

Contracts:

* :func:`decode` turns one DAG-CBOR item into Python values: ``int``, ``float``, ``bytes``,
  ``str``, ``list``, ``dict`` (string keys), ``bool``, ``None`` and :class:`CID` for tag 42.  It
  raises :class:`DagCborError` (a ``ValueError``) for anything else: indefinite lengths, other
  tags, non-string map keys, lengths past the end of the data, trailing bytes, or nesting deeper
  than :data:`MAX_DEPTH`.  It never reads outside the buffer it is given.
* :func:`read_car` splits a CAR v1 file into its header roots and ``{CID bytes: block bytes}``.
  It raises :class:`DagCborError` only when the *header* is unusable; damage after the header is
  reported in :attr:`Car.problems` and every complete block before it is kept.  Blocks whose
  sha2-256 digest does not match their CID are dropped (and reported), so a block can be trusted
  to be what its CID names.  Block order is not assumed; a repeated block keeps its first copy.

Only the standard library is used.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass, field
from typing import Any

# DAG-CBOR data nested deeper than this is refused; real records nest a handful of levels.
MAX_DEPTH = 128
# A varint of more than 9 bytes exceeds 63 bits (multiformats' own limit).
_MAX_VARINT_BYTES = 9
# Multicodec / multihash codes this module needs to know.
CODEC_DAG_CBOR = 0x71
CODEC_RAW = 0x55
HASH_SHA2_256 = 0x12
HASH_IDENTITY = 0x00
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class DagCborError(ValueError):
    """The data is not valid DAG-CBOR (or not a usable CAR file); the message says where."""


# ---------------------------------------------------------------------------------------------
# CIDs and varints
# ---------------------------------------------------------------------------------------------


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """(value, position after it) of the unsigned LEB128 varint at ``pos``.

    Raises DagCborError when the data ends inside the varint or it is longer than 9 bytes.
    """
    value = 0
    shift = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(data):
            raise DagCborError(f"data ends inside a varint at byte {pos}")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos + i + 1
        shift += 7
    raise DagCborError(f"varint too long at byte {pos}")


def encode_varint(value: int) -> bytes:
    """The unsigned LEB128 form of ``value`` (>= 0)."""
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


@dataclass(frozen=True)
class CID:
    """A content identifier, kept as its binary form (no multibase prefix)."""

    raw: bytes

    @property
    def version(self) -> int:
        return 0 if self.raw[:2] == b"\x12\x20" and len(self.raw) == 34 else 1

    def __str__(self) -> str:
        if self.version == 0:
            return _base58(self.raw)
        # CIDv1 text form: multibase "b" + lower-case base32 without padding.
        return "b" + base64.b32encode(self.raw).decode("ascii").lower().rstrip("=")

    def __repr__(self) -> str:
        return f"CID({self})"


def _base58(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _BASE58[rem] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out


def read_cid(data: bytes | memoryview, pos: int) -> tuple[CID, int, int, bytes]:
    """(cid, position after it, multihash code, digest) of the binary CID at ``pos``."""
    if pos + 2 <= len(data) and data[pos] == 0x12 and data[pos + 1] == 0x20:
        # CIDv0: a bare sha2-256 multihash.
        end = pos + 34
        if end > len(data):
            raise DagCborError(f"data ends inside a CID at byte {pos}")
        return CID(bytes(data[pos:end])), end, HASH_SHA2_256, bytes(data[pos + 2:end])
    version, p = read_varint(data, pos)
    if version != 1:
        raise DagCborError(f"unsupported CID version {version} at byte {pos}")
    _codec, p = read_varint(data, p)
    hash_code, p = read_varint(data, p)
    size, p = read_varint(data, p)
    end = p + size
    if end > len(data):
        raise DagCborError(f"data ends inside a CID at byte {pos}")
    return CID(bytes(data[pos:end])), end, hash_code, bytes(data[p:end])


# ---------------------------------------------------------------------------------------------
# DAG-CBOR
# ---------------------------------------------------------------------------------------------


class _Decoder:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes | memoryview:
        end = self.pos + n
        if end > len(self.data):
            raise DagCborError(f"data ends at byte {len(self.data)}, an item needs {n} bytes from byte {self.pos}")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def _argument(self, info: int) -> int:
        if info < 24:
            return info
        if info == 24:
            return self._take(1)[0]
        if info == 25:
            return int(struct.unpack(">H", self._take(2))[0])
        if info == 26:
            return int(struct.unpack(">I", self._take(4))[0])
        if info == 27:
            return int(struct.unpack(">Q", self._take(8))[0])
        # 28-30 are reserved; 31 is an indefinite length, which DAG-CBOR forbids.
        raise DagCborError(f"indefinite length or reserved value at byte {self.pos - 1}")

    def item(self, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise DagCborError(f"nested more than {MAX_DEPTH} levels deep")
        start = self.pos
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            return self._simple(info, start)
        arg = self._argument(info)
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return bytes(self._take(arg))
        if major == 3:
            return self._text(arg, start)
        if major == 4:
            return self._array(arg, start, depth)
        if major == 5:
            return self._map(arg, start, depth)
        return self._tag(arg, start, depth)  # major == 6

    def _text(self, length: int, start: int) -> str:
        try:
            return bytes(self._take(length)).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DagCborError(f"invalid UTF-8 in a text string at byte {start}") from exc

    def _array(self, length: int, start: int, depth: int) -> list[Any]:
        if length > len(self.data) - self.pos:  # each element takes at least one byte
            raise DagCborError(f"array length {length} at byte {start} exceeds the data")
        return [self.item(depth + 1) for _ in range(length)]

    def _map(self, length: int, start: int, depth: int) -> dict[str, Any]:
        if length > (len(self.data) - self.pos) // 2:
            raise DagCborError(f"map length {length} at byte {start} exceeds the data")
        out: dict[str, Any] = {}
        for _ in range(length):
            key_at = self.pos
            key = self.item(depth + 1)
            if not isinstance(key, str):
                raise DagCborError(f"map key at byte {key_at} is not a text string")
            out[key] = self.item(depth + 1)
        return out

    def _tag(self, tag: int, start: int, depth: int) -> CID:
        """DAG-CBOR allows exactly one tag, 42, whose content is 0x00 + a binary CID."""
        if tag != 42:
            raise DagCborError(f"tag {tag} at byte {start} is not allowed in DAG-CBOR")
        content = self.item(depth + 1)
        if not isinstance(content, bytes) or not content.startswith(b"\x00") or len(content) < 3:
            raise DagCborError(f"tag 42 at byte {start} does not hold a CID")
        cid, end, _, _ = read_cid(content, 1)
        if end != len(content):
            raise DagCborError(f"tag 42 at byte {start} holds trailing bytes after its CID")
        return cid

    def _simple(self, info: int, start: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):  # null; undefined is not DAG-CBOR, but means nothing either way
            return None
        if info == 25:
            return float(struct.unpack(">e", self._take(2))[0])
        if info == 26:
            return float(struct.unpack(">f", self._take(4))[0])
        if info == 27:
            return float(struct.unpack(">d", self._take(8))[0])
        raise DagCborError(f"unsupported simple value {info} at byte {start}")


def decode(data: bytes | memoryview) -> Any:
    """The single DAG-CBOR item that ``data`` holds (see the module docstring for the mapping)."""
    decoder = _Decoder(data)
    try:
        value = decoder.item()
    except RecursionError:
        raise DagCborError("nested too deeply") from None
    if decoder.pos != len(data):
        raise DagCborError(f"{len(data) - decoder.pos} trailing bytes after the item")
    return value


# ---------------------------------------------------------------------------------------------
# CAR v1
# ---------------------------------------------------------------------------------------------


@dataclass
class Car:
    """A CAR file's roots and blocks (``{CID.raw: block bytes}``), plus what went wrong reading it."""

    roots: list[CID]
    blocks: dict[bytes, memoryview] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_header(data: bytes | memoryview) -> tuple[list[CID], int]:
    """(roots, position of the first block) of a CAR v1 file; DagCborError if it is not one."""
    length, pos = read_varint(data, 0)
    if length == 0 or pos + length > len(data):
        raise DagCborError("the CAR header length is out of range")
    header = decode(data[pos:pos + length])
    if not isinstance(header, dict) or header.get("version") != 1:
        version = header.get("version") if isinstance(header, dict) else None
        raise DagCborError(f"not a CAR version 1 header (version {version!r})")
    roots = header.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, CID) for r in roots):
        raise DagCborError("the CAR header has no list of root CIDs")
    return roots, pos + length


def read_car(data: bytes | memoryview) -> Car:
    """Split a CAR v1 file into roots and verified blocks (see the module docstring)."""
    view = memoryview(data)
    roots, pos = read_header(view)
    car = Car(roots=roots)
    index = 0
    while pos < len(view):
        index += 1
        try:
            length, body = read_varint(view, pos)
            end = body + length
            if length == 0 or end > len(view):
                raise DagCborError(f"the data ends inside block {index} (it needs {length} bytes from byte {body})")
            cid, block_start, hash_code, digest = read_cid(view, body)
            if block_start > end:
                raise DagCborError(f"block {index}'s CID is longer than the block")
        except DagCborError as exc:
            # Framing is lost: nothing after this point can be located reliably.
            car.problems.append(f"truncated or damaged after byte {pos}: {exc}")
            break
        block = view[block_start:end]
        pos = end
        if not _digest_matches(hash_code, digest, block):
            car.problems.append(f"block {index} ({cid}) does not match its hash; ignored")
            continue
        car.blocks.setdefault(cid.raw, block)
    return car


def _digest_matches(hash_code: int, digest: bytes, block: memoryview) -> bool:
    if hash_code == HASH_SHA2_256:
        return hashlib.sha256(block).digest() == digest
    if hash_code == HASH_IDENTITY:
        return bytes(block) == digest
    return True  # a hash this reader does not implement: taken on trust, like any reader would
