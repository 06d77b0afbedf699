"""A zip's central directory, read as a stream of small records.

``zipfile.ZipFile`` reads the whole directory into memory and builds a ``ZipInfo`` (names, date,
extra and comment bytes) for every member before anything can be looked at: for an export of a
quarter of a million members that is hundreds of megabytes at once, only for the scan to keep a
few numbers of each.  This reader walks the same structures (APPNOTE.TXT 4.3.12-4.3.16: the end
of central directory record, its zip64 locator and record, the central file headers and their
zip64 extra field) a buffer at a time and yields what the scan needs.  It reads what zipfile
reads, the same way: the last end record in the file's final 64 KiB, a zip64 record only where
its locator sits right before it, and offsets shifted by whatever was prepended to the archive
(a self-extracting stub).  Whatever does not parse raises ``ZipListingError``; nothing here
trusts a length or count without checking it against the bytes that are there.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import IO, Iterator

_END = struct.Struct("<4s4H2LH")              # end of central directory record (22 bytes)
_END_SIG = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sLQL")             # zip64 end of central directory locator (20)
_LOCATOR_SIG = b"PK\x06\x07"
_END64 = struct.Struct("<4sQ2H2L4Q")           # zip64 end of central directory record (56)
_END64_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")     # central file header (46 bytes)
_CENTRAL_SIG = b"PK\x01\x02"
_FIELD = struct.Struct("<HH")                  # an extra field's id and length
_ZIP64_EXTRA = 0x0001
_U64 = struct.Struct("<Q")
_FULL32 = 0xFFFFFFFF
_UTF8_FLAG = 0x800
_MAX_COMMENT = 0xFFFF
_BUFFER = 1 << 20
_MAX_VARIABLE = 3 * 0xFFFF  # a header's name, extra field and comment, at most
MAX_EXTRACT_VERSION = 63  # the newest "version needed to extract" zipfile reads (6.3)


class ZipListingError(Exception):
    """The directory does not parse (truncated, damaged, or not a zip at all)."""


@dataclass(frozen=True)
class Directory:
    start: int   # where the first central header is in the file
    size: int    # bytes of central headers
    shift: int   # bytes before the archive's own offset 0 (a prepended stub), added to offsets


@dataclass(slots=True)
class CentralRecord:
    """What the scan needs of one central header.  ``name`` is decoded as zipfile decodes it
    (UTF-8 when bit 11 says so, else code page 437) and is what the local header must spell."""

    name: str
    flags: int
    method: int
    crc: int
    stored: int     # compressed size
    size: int       # uncompressed size
    offset: int     # of the local header, in the file (the stub's length added)
    mode_bits: int  # the high 16 bits of the external attributes (a Unix mode, or 0)


def find_directory(fh: IO[bytes]) -> Directory:
    """Where the central directory is, from the end record (and its zip64 record, if any)."""
    file_size = fh.seek(0, os.SEEK_END)
    if file_size < _END.size:
        raise ZipListingError("too short to be a zip archive")
    tail_start = max(file_size - _END.size - _MAX_COMMENT, 0)
    fh.seek(tail_start)
    tail = fh.read()
    at = len(tail) - _END.size
    if not (tail[at:at + 4] == _END_SIG and tail[-2:] == b"\0\0"):  # a comment follows it
        at = tail.rfind(_END_SIG)
        if at < 0 or len(tail) - at < _END.size:
            raise ZipListingError("no end of central directory record: not a zip archive, or cut short")
    size, offset = _END.unpack_from(tail, at)[5:7]
    end_at = tail_start + at
    records_end = end_at
    if end_at >= _LOCATOR.size + _END64.size:
        fh.seek(end_at - _LOCATOR.size)
        locator = fh.read(_LOCATOR.size)
        if len(locator) == _LOCATOR.size and locator[:4] == _LOCATOR_SIG:
            _, disk64, _, disks = _LOCATOR.unpack(locator)
            if disk64 != 0 or disks > 1:
                raise ZipListingError("archives spanning several disks are not supported")
            fh.seek(end_at - _LOCATOR.size - _END64.size)
            record = fh.read(_END64.size)
            if len(record) == _END64.size and record[:4] == _END64_SIG:
                size, offset = _END64.unpack(record)[8:10]
                records_end = end_at - _LOCATOR.size - _END64.size
    shift = records_end - size - offset
    start = offset + shift
    if start < 0:
        raise ZipListingError("the central directory's offset points outside the file")
    return Directory(start, size, shift)


def zip_member_count(path: "str | os.PathLike[str]", enough: int) -> int | None:
    """How many records the zip's central directory holds, counting at most to ``enough``.

    Walks the record headers (46 bytes each plus three variable lengths) without building
    anything, so a zip with millions of members is noticed for the cost of reading its
    directory.  None when the end record cannot be found or the directory does not parse;
    ``read_records`` then reports the damage itself.
    """
    try:
        with open(path, "rb") as fh:
            try:
                where = find_directory(fh)
            except ZipListingError:
                return None
            fh.seek(where.start)
            count, walked = 0, 0
            while walked < where.size and count < enough:
                header = fh.read(_CENTRAL.size)
                if len(header) < _CENTRAL.size or header[:4] != _CENTRAL_SIG:
                    return None
                name_len, extra_len, comment_len = struct.unpack_from("<HHH", header, 28)
                skip = name_len + extra_len + comment_len
                fh.seek(skip, os.SEEK_CUR)
                walked += _CENTRAL.size + skip
                count += 1
            return count
    except (OSError, ValueError, struct.error, EOFError):
        return None


def read_records(path: str) -> Iterator[CentralRecord]:
    """Every central header of the zip at ``path``, in directory order.  Raises OSError,
    ZipListingError, and NotImplementedError for a member of a newer zip version than zipfile
    reads."""
    with open(path, "rb", buffering=0) as fh:
        where = find_directory(fh)
        fh.seek(where.start)
        left = where.size  # bytes of the directory not read yet
        buf, at = b"", 0
        while at < len(buf) or left:
            if len(buf) - at < _CENTRAL.size + _MAX_VARIABLE and left:
                # The next header and its three variable parts fit in what is buffered.
                more = fh.read(min(left, _BUFFER))
                if not more:
                    raise ZipListingError("the central directory is cut short")
                left -= len(more)
                buf, at = buf[at:] + more, 0
            if len(buf) - at < _CENTRAL.size:
                raise ZipListingError("the central directory is cut short")
            fields = _CENTRAL.unpack_from(buf, at)
            if fields[0] != _CENTRAL_SIG:
                raise ZipListingError("bad signature of a central directory header")
            if fields[3] > MAX_EXTRACT_VERSION:
                raise NotImplementedError(f"zip format version {fields[3] / 10:.1f}")
            name_at = at + _CENTRAL.size
            at = name_at + fields[12] + fields[13] + fields[14]
            if at > len(buf):
                raise ZipListingError("the central directory is cut short")
            yield _record(fields, buf, name_at, where.shift)


def _record(fields: tuple, buf: bytes, name_at: int, shift: int) -> CentralRecord:
    """The record of the header ``fields`` whose name starts at ``name_at`` in ``buf`` (its
    extra field follows the name)."""
    flags, method, crc, stored, size = fields[5], fields[6], fields[9], fields[10], fields[11]
    offset = fields[18]
    extra_at = name_at + fields[12]
    try:
        name = buf[name_at:extra_at].decode("utf-8" if flags & _UTF8_FLAG else "cp437")
    except UnicodeDecodeError as exc:
        raise ZipListingError(f"a member's name is not valid UTF-8 ({exc.reason})") from None
    if size == _FULL32 or stored == _FULL32 or offset == _FULL32:
        size, stored, offset = _zip64_values(buf[extra_at:extra_at + fields[13]], size, stored, offset)
    return CentralRecord(name, flags, method, crc, stored, size, offset + shift, fields[17] >> 16)


def _zip64_values(extra: bytes, size: int, stored: int, offset: int) -> tuple[int, int, int]:
    """The 64-bit sizes and offset that the zip64 extra field holds for the 32-bit fields that
    are all ones, in the order the format gives (size, compressed size, offset)."""
    at = 0
    while at + _FIELD.size <= len(extra):
        kind, length = _FIELD.unpack_from(extra, at)
        body = extra[at + _FIELD.size:at + _FIELD.size + length]
        if len(body) != length:
            raise ZipListingError(f"a member's extra field {kind:04x} is cut short")
        if kind == _ZIP64_EXTRA:
            values = [size, stored, offset]
            used = 0
            for i, value in enumerate(values):
                if value == _FULL32:
                    if used + 8 > len(body):
                        raise ZipListingError("a member's zip64 extra field lacks a size or offset")
                    values[i] = _U64.unpack_from(body, used)[0]
                    used += 8
            return values[0], values[1], values[2]
        at += _FIELD.size + length
    return size, stored, offset
