"""The byte builders every fixture module and test shares: images, videos and zip files.

Each builder exists once, here.  The source-specific fixture modules (meta_fixtures,
social_fixtures, market_fixtures, media_fixtures, post_fixtures) build exports out of these.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Iterable, Mapping, Union

from PIL import Image

#: A zip member: a name (or a ZipInfo written as is, so names can be hostile) and its bytes.
Member = tuple[Union[str, zipfile.ZipInfo], bytes]

#: The fixed member time stamp, so the same members always make the same zip bytes.
ZIP_TIME = (2024, 5, 14, 12, 0, 0)


def jpeg(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (4, 3), *,
         taken: str | None = None, offset: str | None = None, description: str | None = None,
         **save_options) -> bytes:
    """A solid-colour JPEG.

    ``taken`` ("YYYY:MM:DD HH:MM:SS") and ``offset`` ("+02:00") become EXIF DateTimeOriginal and
    OffsetTimeOriginal; ``description`` an EXIF ImageDescription (distinctive text inside the
    file).  Other keywords go to Pillow's JPEG writer as they are (``quality``, ``comment`` for a
    COM segment, ``exif``, ``icc_profile``, ``xmp``...).
    """
    img = Image.new("RGB", size, color)
    if taken or description:
        exif = Image.Exif()
        if taken:
            exif_ifd = {0x9003: taken}
            if offset:
                exif_ifd[0x9011] = offset
            exif[0x8769] = exif_ifd
        if description:
            exif[0x010E] = description
        save_options.setdefault("exif", exif.tobytes())
    buf = io.BytesIO()
    img.save(buf, "JPEG", **save_options)
    return buf.getvalue()


def png(color: tuple[int, int, int] = (1, 2, 3), size: tuple[int, int] = (7, 5)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def mp4(seed: int) -> bytes:
    """Enough of an MP4 (an ``ftyp`` box) for content sniffing; distinct per ``seed``."""
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes([seed]) * 64


def write_zip(path: Path, files: Mapping[str, bytes] | Iterable[Member], wrapper: str | None = None,
              compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Write ``files`` ({name: bytes} or (name | ZipInfo, bytes) pairs) as a zip at ``path``.

    ``wrapper`` puts every named member under one top folder, as some exports arrive.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    members = files.items() if isinstance(files, Mapping) else files
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members:
            if isinstance(name, zipfile.ZipInfo):
                info = name
            else:
                info = zipfile.ZipInfo(f"{wrapper}/{name}" if wrapper else name, ZIP_TIME)
                info.external_attr = 0o600 << 16
            info.compress_type = compression
            zf.writestr(info, data)
    return path
