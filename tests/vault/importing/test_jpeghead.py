"""The JPEG header reader answers what Pillow answers, or leaves the file to Pillow.

Every case is probed twice, with the reader and with Pillow alone, and the facts must be equal:
EXIF in both byte orders, each orientation, times with and without offsets, progressive,
grey and CMYK frames, XMP and multi-picture files, cut heads, and a few hundred damaged headers.
"""

from __future__ import annotations

import io
import random
import struct

import pytest
from PIL import Image

from tests.support.builders import jpeg
from vault.importing import jpeghead, mediainfo

# Pillow warns about the damaged EXIF blocks these tests feed it on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _both(head: bytes, monkeypatch) -> tuple[mediainfo.MediaFacts, mediainfo.MediaFacts]:
    fast = mediainfo.probe(head, "photo.jpg")
    with monkeypatch.context() as m:
        m.setattr(mediainfo, "_probe_jpeg", lambda *args: False)
        slow = mediainfo.probe(head, "photo.jpg")
    return fast, slow


def _tiff(order: str, ifd0: list[tuple[int, int, int, bytes]], sub: list[tuple[int, int, int, bytes]]) -> bytes:
    """A TIFF block (EXIF) in byte order ``order`` ("<" or ">"), entries (tag, type, count,
    value bytes); the sub-IFD is pointed at by tag 0x8769 when given."""
    head = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", 8)
    entries0 = list(ifd0) + ([(0x8769, 4, 1, b"")] if sub else [])
    blobs = bytearray()
    ifd0_size = 2 + 12 * len(entries0) + 4
    sub_at = 8 + ifd0_size
    sub_size = 2 + 12 * len(sub) + 4 if sub else 0
    data_at = sub_at + sub_size

    def table(entries):
        out = struct.pack(order + "H", len(entries))
        for tag, kind, count, value in entries:
            if tag == 0x8769:
                out += struct.pack(order + "HHII", tag, kind, count, sub_at)
            elif len(value) <= 4:
                out += struct.pack(order + "HHI", tag, kind, count) + value.ljust(4, b"\x00")
            else:
                out += struct.pack(order + "HHII", tag, kind, count, data_at + len(blobs))
                blobs.extend(value)
        return out + b"\x00\x00\x00\x00"

    first = table(entries0)
    second = table(sub) if sub else b""
    return head + first + second + bytes(blobs)


def _ascii(tag: int, text: str) -> tuple[int, int, int, bytes]:
    raw = text.encode("latin-1") + b"\x00"
    return (tag, 2, len(raw), raw)


def _short(tag: int, value: int, order: str) -> tuple[int, int, int, bytes]:
    return (tag, 3, 1, struct.pack(order + "H", value))


def _with_exif(tiff: bytes, size=(6, 4), **options) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, "JPEG", exif=b"Exif\x00\x00" + tiff, **options)
    return buf.getvalue()


CASES = {
    "plain": jpeg(size=(9, 5)),
    "taken with offset": jpeg(size=(9, 5), taken="2023:05:01 10:00:00", offset="+02:00"),
    "taken without offset": jpeg(size=(9, 5), taken="2021:12:31 23:59:59"),
    "progressive": jpeg(size=(40, 30), progressive=True, taken="2020:01:02 03:04:05"),
    "grey": (lambda b: (Image.new("L", (7, 3), 90).save(b, "JPEG"), b.getvalue())[1])(io.BytesIO()),
    "cmyk": (lambda b: (Image.new("CMYK", (7, 3), (1, 2, 3, 4)).save(b, "JPEG"), b.getvalue())[1])(io.BytesIO()),
    "xmp orientation": jpeg(size=(9, 5), xmp=b'<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'),
    "comment": jpeg(size=(9, 5), comment=b"a note"),
}
for _order in "<>":
    for _turn in (1, 3, 5, 6, 8):
        CASES[f"orientation {_turn} {_order}"] = _with_exif(_tiff(_order, [_short(0x0112, _turn, _order)], []), size=(12, 7))
    CASES[f"all times {_order}"] = _with_exif(_tiff(
        _order, [_ascii(0x0132, "2024:02:03 04:05:06")],
        [_ascii(0x9003, "2024:01:02 03:04:05"), _ascii(0x9010, "-05:00"), _ascii(0x9011, "+09:30")]))
    CASES[f"odd types {_order}"] = _with_exif(_tiff(
        _order, [(0x0112, 2, 2, b"6\x00"), (0x0132, 3, 1, struct.pack(_order + "H", 7))], []))


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_reader_gives_what_pillow_gives(name, monkeypatch):
    fast, slow = _both(CASES[name], monkeypatch)
    assert fast == slow
    assert fast.width and fast.height


def test_the_reader_answers_the_common_files_itself():
    """It must not always leave the work to Pillow: a camera's JPEG with EXIF is read here."""
    for name in ("plain", "taken with offset", "progressive", "grey", "all times <", "all times >", "orientation 6 >"):
        assert jpeghead.read(CASES[name]) is not None, name
    found = jpeghead.read(CASES["orientation 6 >"])
    assert (found.width, found.height, found.orientation) == (12, 7, 6)
    assert jpeghead.read(CASES["xmp orientation"]) is None


def test_cut_and_damaged_headers_give_pillow_s_answer(monkeypatch):
    rng = random.Random(2026)
    sources = [CASES["all times >"], CASES["taken with offset"], CASES["orientation 6 <"]]
    for source in sources:
        for cut in (3, 10, 40, 120, 300, len(source) // 2):
            fast, slow = _both(source[:cut], monkeypatch)
            assert fast == slow, cut
        header_end = source.index(b"\xff\xda")
        for _ in range(150):
            damaged = bytearray(source)
            for _ in range(rng.randint(1, 4)):
                damaged[rng.randrange(2, header_end)] = rng.randrange(256)
            fast, slow = _both(bytes(damaged), monkeypatch)
            assert fast == slow, bytes(damaged[:header_end]).hex()
