"""Builders of hostile inputs for the tests/test_hostile_*.py suites, and a peak-memory runner.

Big inputs are generated cheaply: compressed data is made once and repeated, zips are written
record by record, so a test can hand the importer gigabytes of declared content in milliseconds.
"""

from __future__ import annotations

import functools
import os
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

REPO = Path(__file__).resolve().parents[2]
MiB = 2**20


def deflate(data: bytes) -> bytes:
    """Raw deflate (zip method 8) of ``data``."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def write_raw_zip(path: Path, members: Iterable[tuple[str, bytes, int, int, bool]]) -> Path:
    """A zip from (name, stored bytes, uncompressed size, crc32, deflated) records, written by hand.

    The stored bytes are used as given, so one deflated block can stand for many members and a
    many-member zip is written at disk speed.  No zip64: keep sizes under 4 GiB.
    """
    central: list[bytes] = []
    offset = 0
    count = 0
    with open(path, "wb") as fh:
        for name, stored, size, crc, deflated in members:
            raw = name.encode()
            method = 8 if deflated else 0
            local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0x800, method, 0, 0x21, crc, len(stored), size, len(raw), 0)
            fh.write(local + raw + stored)
            central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0x800, method, 0, 0x21, crc,
                                       len(stored), size, len(raw), 0, 0, 0, 0, 0o100644 << 16, offset) + raw)
            offset += len(local) + len(raw) + len(stored)
            count += 1
        directory = b"".join(central)
        fh.write(directory)
        if count > 0xFFFF:
            # zip64 end record and locator, as real tools write for many members
            fh.write(struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), offset))
            fh.write(struct.pack("<4sIQI", b"PK\x06\x07", 0, offset + len(directory), 1))
        fh.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                             min(len(directory), 0xFFFFFFFF), min(offset, 0xFFFFFFFF), 0))
    return path


def zeros_member(name: str, size: int) -> tuple[str, bytes, int, int, bool]:
    """A deflated member of ``size`` zero bytes (compressed about 1000:1)."""
    stored, crc = _deflated_zeros(size)
    return name, stored, size, crc, True


@functools.lru_cache(maxsize=8)
def _deflated_zeros(size: int) -> tuple[bytes, int]:
    data = bytes(size)
    return deflate(data), zlib.crc32(data)


def stored_member(name: str, data: bytes) -> tuple[str, bytes, int, int, bool]:
    return name, data, len(data), zlib.crc32(data), False


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@dataclass
class Measured:
    code: int
    out: str
    err: str
    peak_mib: float


# Runs the command as its own child and reports that child's peak.  The extra process matters:
# a child forked from the test process starts with the test process's pages, and Linux keeps
# that size in its peak; forked from this small wrapper instead, the peak is the command's own.
_MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "with open(sys.argv[1], 'w') as fh:\n"
    "    fh.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def run_measured(args: list, env: dict | None = None, timeout: float = 60) -> Measured:
    """Run ``python -m vault ARGS``; return its exit code, output and peak resident memory (MiB)."""
    import tempfile

    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        proc = subprocess.run([sys.executable, "-c", _MEASURE, str(peak_file), sys.executable, "-m", "vault",
                               *map(str, args)], capture_output=True, env=full_env, cwd=REPO, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        peak_kib = int(peak_file.read_text())
    return Measured(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"),
                    peak_kib / 1024)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A complete, valid 1-bit PNG of ``width`` x ``height`` black pixels, about 200 KB.

    One block of rows is deflated once with a full flush (which makes its output independent of
    what came before) and repeated, so making it costs almost nothing; decoding it would not.
    """
    row = bytes(1 + (width + 7) // 8)  # filter byte + packed pixels
    rows_per_block = 250
    assert height % rows_per_block == 0
    block = row * rows_per_block
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    repeated = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(height // rows_per_block):
        adler = zlib.adler32(block, adler)
    stream = b"\x78\xda" + repeated * (height // rows_per_block) + b"\x03\x00" + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", stream)
            + _png_chunk(b"IEND", b""))


def tiff_claiming(width: int, height: int) -> bytes:
    """A TIFF of under 100 bytes whose header claims ``width`` x ``height`` 8-bit pixels."""
    tags = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
            (273, 4, 1, 8), (279, 4, 1, 1)]
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", *tag) for tag in tags) + b"\0\0\0\0"
    return b"II*\x00" + struct.pack("<I", 8) + ifd
