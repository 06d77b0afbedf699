"""Small camera-roll fixtures made at test time."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.builders import jpeg


def camera_roll(root: Path, n: int = 3, big: int = 0, prefix: str = "IMG") -> Path:
    """``n`` small distinct JPEGs (with EXIF times) and ``big`` files of 9 MiB (streamed path)."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        data = jpeg((i % 256, (i * 7) % 256, (i * 13) % 256), (6, 4), taken=f"2023:05:{(i % 28) + 1:02d} 10:00:00", offset="+02:00")
        (root / f"{prefix}_{i:04d}.jpg").write_bytes(data)
    for j in range(big):
        (root / f"VID_{j:02d}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(9 * 2**20))
    return root
