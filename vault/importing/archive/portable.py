"""Member openers that another process can use.

A big import stores its media in worker processes (``vault.importing.sealing``), each of which
opens the members it stores itself instead of being sent their bytes.  So a member's opener can
describe itself as plain data (``spec()``, JSON-safe), and ``open_spec`` opens a member from
that description with the checks ``Entry.open`` applies: the zip local header must name the
member the central directory listed, the declared size is enforced, the CRC is checked, and
every read error becomes an ``ArchiveMemberError`` naming the member.

A zip member is opened from its local header without parsing the central directory again, so a
worker costs the same for an archive of ten members or of a quarter of a million.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from typing import IO, TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from .ziplisting import CentralRecord

from .readers import CORRUPT_HINT, READER_BUFFER, ArchiveMemberError, BoundedReader, open_errors, open_given_file, open_no_follow

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # signature ... name length, extra length (30 bytes)
_LOCAL_SIGNATURE = b"PK\003\004"
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1


class ZipOpener:
    """Opens one zip member from what the central directory said of it, the way a worker does
    (``open_spec``), so that no listing of the archive is kept.  A slotted object of a few
    numbers: in an archive of a quarter of a million members, a ``zipfile.ZipInfo`` kept per
    member (with its names, date and extra bytes) held most of an import's memory."""

    __slots__ = ("path", "offset", "method", "stored", "size", "crc", "flags", "name")

    def __init__(self, info: "CentralRecord", path: str, name: str) -> None:
        self.path = path  # the zip file (one string shared by all of its members)
        self.offset = info.offset
        self.method = info.method
        self.stored = info.stored
        self.size = info.size
        self.crc = info.crc
        self.flags = info.flags
        self.name = name  # as the local header must spell it (info.name, often the same string)

    def __call__(self) -> IO[bytes]:
        return _open_zip_member(self.spec())

    def fingerprint(self) -> str:
        return f"zip:{self.crc:08x}:{self.size}"

    def spec(self) -> dict[str, Any]:
        return {"kind": "zip", "path": self.path, "offset": self.offset, "method": self.method,
                "stored": self.stored, "size": self.size, "crc": self.crc, "flags": self.flags,
                "name": self.name}


class FileOpener:
    """Opens a folder member (never following a link) or a bare file the user named (following)."""

    __slots__ = ("os_path", "follow")

    def __init__(self, os_path: str, follow: bool) -> None:
        self.os_path = os_path
        self.follow = follow

    def __call__(self) -> IO[bytes]:
        return open_given_file(self.os_path) if self.follow else open_no_follow(self.os_path)

    def spec(self) -> dict[str, Any]:
        return {"kind": "file", "path": self.os_path, "follow": self.follow}


def read_spec(spec: dict[str, Any], label: str, member: str, size: int) -> bytes:
    """The whole of a member of declared ``size`` (read in one piece, without the buffer
    ``open_spec`` puts in front), with the same checks."""
    if _plain_stored(spec, size):
        return _read_stored(spec, label, member, size)
    with open_spec(spec, label, member, size, buffered=False) as raw:
        parts = []
        have = 0
        while have < size:
            chunk = raw.read(size - have)
            parts.append(chunk)
            have += len(chunk)
        raw.read(1)  # at the declared end: raises if the member holds more
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _plain_stored(spec: dict[str, Any], size: int) -> bool:
    """A zip member stored as is (photos mostly are), not encrypted, of the declared size."""
    return (spec["kind"] == "zip" and spec["method"] == zipfile.ZIP_STORED and not spec["flags"] & _ENCRYPTED_FLAG
            and spec["stored"] == spec["size"] == size)


def _read_stored(spec: dict[str, Any], label: str, member: str, size: int) -> bytes:
    """``read_spec`` of a plain stored member: its bytes read at their offset in one call, with
    the checks zipfile would make (the local header, the length, the CRC), in its words."""
    try:
        with open(spec["path"], "rb", buffering=0) as fh:
            start = _data_offset(fh, spec)
            data = os.pread(fh.fileno(), size, start)
    except open_errors() as exc:
        raise ArchiveMemberError(f"cannot open {label}: {str(exc) or type(exc).__name__}",
                                 hint=CORRUPT_HINT, member=member) from exc
    if len(data) != size:
        what = f"the data ends after {len(data)} of {size} bytes (truncated)"
    elif zlib.crc32(data) != spec["crc"]:
        what = f"Bad CRC-32 for file {spec['name']!r}"
    else:
        return data
    raise ArchiveMemberError(f"cannot read {label}: {what}", hint=CORRUPT_HINT, member=member)


def open_spec(spec: dict[str, Any], label: str, member: str, size: int | None, buffered: bool = True) -> BinaryIO:
    """The member ``spec`` describes, as ``Entry.open`` would give it (``label`` names it in
    messages, ``member`` is its path, ``size`` its declared size)."""
    try:
        if spec["kind"] == "zip":
            inner = _open_zip_member(spec)
        else:
            inner = FileOpener(spec["path"], bool(spec["follow"]))()
    except open_errors() as exc:
        raise ArchiveMemberError(f"cannot open {label}: {str(exc) or type(exc).__name__}",
                                 hint=CORRUPT_HINT, member=member) from exc
    bounded = BoundedReader(inner, label, member, size)
    return io.BufferedReader(bounded, READER_BUFFER) if buffered else bounded  # type: ignore[return-value]


def _data_offset(fh: IO[bytes], spec: dict[str, Any]) -> int:
    """Where the member's data starts, after checking its local header (signature, and the
    name the central directory gave)."""
    fh.seek(spec["offset"])
    header = fh.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
        raise zipfile.BadZipFile("bad magic number for file header")
    fields = _LOCAL_HEADER.unpack(header)
    raw_name = fh.read(fields[10])
    name = raw_name.decode("utf-8" if spec["flags"] & _UTF8_FLAG else "cp437")
    if name != spec["name"]:
        raise zipfile.BadZipFile(f"file name in directory {spec['name']!r} and header {name!r} differ")
    return spec["offset"] + _LOCAL_HEADER.size + fields[10] + fields[11]


def _open_zip_member(spec: dict[str, Any]) -> IO[bytes]:
    fh = open(spec["path"], "rb")
    try:
        fh.seek(_data_offset(fh, spec))
        info = zipfile.ZipInfo(spec["name"])
        info.compress_type = spec["method"]
        info.compress_size = spec["stored"]
        info.file_size = spec["size"]
        info.CRC = spec["crc"]
        info.flag_bits = spec["flags"]
        info.header_offset = spec["offset"]
        return zipfile.ZipExtFile(fh, "r", info, None, True)  # type: ignore[return-value]
    except BaseException:
        fh.close()
        raise
