"""A JPEG's size, orientation and EXIF times read straight from its markers, without Pillow.

Most media of a big export are JPEGs, and opening one with Pillow to learn its size and EXIF
costs about a tenth of a millisecond of Python.  ``read`` finds the same few facts in the
markers before the first scan and in the EXIF block, and gives up (``None``) at anything
unusual, so that the caller asks Pillow instead: an XMP packet (Pillow may take the orientation
from it), a multi-picture file, two EXIF blocks, a sample precision or a layer count Pillow
refuses, an offset outside the data, a tag of an unexpected type.  For the files it answers,
the answer is Pillow's (a test compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_Order = Literal["little", "big"]

# Start-of-frame markers: baseline, extended, progressive and lossless, Huffman or arithmetic.
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_SOS = 0xDA
# Markers followed by a length and handled plainly by Pillow: frames, Huffman and arithmetic
# tables (skipped), quantization tables, restart interval, line count, expansion, APPn, COM.
_PLAIN = _SOF | {0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDF, 0xFE} | set(range(0xE0, 0xF0))
_EXIF = b"Exif\x00\x00"
_XMP = b"http://ns.adobe.com/xap/1.0/"
_ORIENTATION, _DATETIME, _EXIF_IFD = 0x0112, 0x0132, 0x8769
_ORIGINAL, _OFFSET, _OFFSET_ORIGINAL = 0x9003, 0x9010, 0x9011
_ASCII, _SHORT, _LONG, _IFD = 2, 3, 4, 13
# Bytes per value of each TIFF type (BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE, UNDEFINED,
# SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE, IFD).
_UNITS = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


@dataclass(frozen=True)
class JpegHead:
    width: int
    height: int
    orientation: int | None
    # DateTime and the EXIF sub-IFD's DateTimeOriginal, OffsetTime and OffsetTimeOriginal, as
    # Pillow gives them (text, one trailing NUL dropped), by tag.
    texts: dict[int, str]


class _Unusual(Exception):
    """Something ``read`` leaves to Pillow."""


def read(head: bytes) -> JpegHead | None:
    """The facts of a JPEG that starts with ``head``, or None to ask Pillow."""
    try:
        return _read(head)
    except (_Unusual, IndexError, ValueError):
        return None


def _read(head: bytes) -> JpegHead | None:
    if head[:3] != b"\xff\xd8\xff":
        return None
    size, exif = _markers(head)
    width, height = size
    if not width or not height:
        raise _Unusual
    ifd0, sub = _exif_tags(exif) if exif is not None else ({}, {})
    orientation = _number(ifd0.get(_ORIENTATION))
    texts = {tag: _text(value) for tag, value in ((_DATETIME, ifd0.get(_DATETIME)), (_ORIGINAL, sub.get(_ORIGINAL)),
                                                  (_OFFSET, sub.get(_OFFSET)), (_OFFSET_ORIGINAL, sub.get(_OFFSET_ORIGINAL)))
             if value is not None}
    return JpegHead(width, height, orientation, texts)


def _markers(head: bytes) -> tuple[tuple[int, int], bytes | None]:
    """(width, height) of the last frame header before the first scan, and the EXIF block.
    Only markers whose handling by Pillow is plain are taken; anything else is left to it."""
    pos, size, exif = 2, (0, 0), None
    while True:
        if head[pos] != 0xFF:
            raise _Unusual  # junk between markers: Pillow's own parser knows what to skip
        marker = head[pos + 1]
        if marker == _SOS:
            return size, exif
        if marker not in _PLAIN:
            raise _Unusual  # fill bytes, standalone markers, DHP, JPGn...
        length = int.from_bytes(head[pos + 2:pos + 4], "big")
        segment = head[pos + 4:pos + 2 + length]
        if length < 2 or len(segment) != length - 2:
            raise _Unusual  # cut short: the head ends inside the headers
        if marker in _SOF:
            size = _frame_size(segment)
        elif marker == 0xDB:
            _check_tables(segment)
        elif 0xE0 <= marker <= 0xEF:
            exif = _application(marker, segment, exif)
        pos += 2 + length


def _frame_size(segment: bytes) -> tuple[int, int]:
    if len(segment) < 6 or segment[0] != 8 or segment[5] not in (1, 3, 4) or (len(segment) - 6) % 3:
        raise _Unusual  # what Pillow refuses, or a component list it would trip over
    return int.from_bytes(segment[3:5], "big"), int.from_bytes(segment[1:3], "big")


def _application(marker: int, segment: bytes, exif: bytes | None) -> bytes | None:
    """The EXIF block so far, after an APPn segment; raises on the ones Pillow treats specially
    in ways that matter here (XMP, multi-picture, a short ICC, Adobe or Photoshop block)."""
    if marker == 0xE1 and segment.startswith(_EXIF):
        if exif is not None:
            raise _Unusual  # Pillow joins several EXIF blocks
        return segment[6:]
    special = ((marker == 0xE1 and segment.startswith(_XMP))
               or (marker == 0xE2 and (segment.startswith(b"MPF\x00")
                                       or (segment.startswith(b"ICC_PROFILE\x00") and len(segment) < 14)))
               or (marker == 0xEE and segment.startswith(b"Adobe") and len(segment) < 7)
               or (marker == 0xED and segment.startswith(b"Photoshop 3.0\x00")))
    if special:
        raise _Unusual
    return exif


def _check_tables(segment: bytes) -> None:
    """Quantization tables that Pillow reads without complaint: each of 64 entries of one or two
    bytes, fitting the segment."""
    while segment:
        length = 1 + (1 if segment[0] < 16 else 2) * 64
        if len(segment) < length:
            raise _Unusual
        segment = segment[length:]


def _exif_tags(tiff: bytes) -> tuple[dict[int, tuple[int, bytes]], dict[int, tuple[int, bytes]]]:
    """The tags this module reads from IFD0 and the EXIF sub-IFD: tag -> (type, value bytes)."""
    order: _Order
    if tiff[:4] == b"II*\x00":
        order = "little"
    elif tiff[:4] == b"MM\x00*":
        order = "big"
    else:
        raise _Unusual
    ifd0 = _ifd(tiff, int.from_bytes(tiff[4:8], order), order, (_ORIENTATION, _DATETIME, _EXIF_IFD))
    sub: dict[int, tuple[int, bytes]] = {}
    pointer = ifd0.pop(_EXIF_IFD, None)
    if pointer is not None:
        offset = _number(pointer)
        if offset is None:
            raise _Unusual
        sub = _ifd(tiff, offset, order, (_ORIGINAL, _OFFSET, _OFFSET_ORIGINAL))
    return ifd0, sub


def _ifd(tiff: bytes, offset: int, order: _Order, wanted: tuple[int, ...]) -> dict[int, tuple[int, bytes]]:
    count = int.from_bytes(tiff[offset:offset + 2], order)
    if offset < 8 or offset + 2 + 12 * count > len(tiff):
        raise _Unusual
    found: dict[int, tuple[int, bytes]] = {}
    for at in range(offset + 2, offset + 2 + 12 * count, 12):
        tag = int.from_bytes(tiff[at:at + 2], order)
        kind = int.from_bytes(tiff[at + 2:at + 4], order)
        n = int.from_bytes(tiff[at + 4:at + 8], order)
        unit = _UNITS.get(kind)
        if unit is None:
            raise _Unusual
        size = unit * n
        if size <= 4:
            data = tiff[at + 8:at + 8 + size]
        else:
            # Every entry's data must be inside the block: where it is not, Pillow warns and
            # may stop reading the directory there, which is its business.
            start = int.from_bytes(tiff[at + 8:at + 12], order)
            data = tiff[start:start + size]
            if start < 8 or len(data) != size:
                raise _Unusual
        if tag not in wanted:
            continue
        if tag in found or kind not in (_ASCII, _SHORT, _LONG, _IFD) or (kind != _ASCII and n != 1):
            raise _Unusual
        found[tag] = (kind, data if kind == _ASCII else int.from_bytes(data, order).to_bytes(4, "big"))
    return found


def _number(value: tuple[int, bytes] | None) -> int | None:
    if value is None:
        return None
    kind, data = value
    if kind == _ASCII:
        raise _Unusual
    return int.from_bytes(data, "big")


def _text(value: tuple[int, bytes]) -> str:
    kind, data = value
    if kind != _ASCII:
        raise _Unusual
    if data.endswith(b"\x00"):
        data = data[:-1]
    return data.decode("latin-1", "replace")
