"""Small camera-roll fixtures made at test time."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image


def jpeg_bytes(color=(200, 30, 30), size=(6, 4), taken: str | None = None, offset: str | None = None, comment: str | None = None) -> bytes:
    img = Image.new("RGB", size, color)
    exif = Image.Exif()
    if taken:
        exif_ifd = {0x9003: taken}
        if offset:
            exif_ifd[0x9011] = offset
        exif[0x8769] = exif_ifd
    if comment:
        exif[0x010E] = comment  # ImageDescription: distinctive text inside the file
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes() if len(exif) else b"")
    return buf.getvalue()


def png_bytes(color=(1, 2, 3), size=(7, 5)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def camera_roll(root: Path, n: int = 3, big: int = 0, prefix: str = "IMG") -> Path:
    """``n`` small distinct JPEGs (with EXIF times) and ``big`` files of 9 MiB (streamed path)."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        data = jpeg_bytes(color=(i % 256, (i * 7) % 256, (i * 13) % 256), taken=f"2023:05:{(i % 28) + 1:02d} 10:00:00", offset="+02:00")
        (root / f"{prefix}_{i:04d}.jpg").write_bytes(data)
    for j in range(big):
        (root / f"VID_{j:02d}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(9 * 2**20))
    return root
