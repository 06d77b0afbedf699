"""Facts about a media file from its first bytes: MIME type, dimensions, EXIF capture time.

The pipeline calls ``probe`` with the head of the plaintext it already holds while hashing and
encrypting, so no second read of the file is needed.  Pillow is imported only when needed.
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_SIGNATURES: list[tuple[bytes, int, str]] = [
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"RIFF", 0, "image/webp"),  # confirmed below
    (b"ftypheic", 4, "image/heic"),
    (b"ftypheix", 4, "image/heic"),
    (b"ftypmif1", 4, "image/heif"),
    (b"ftypqt  ", 4, "video/quicktime"),
    (b"ftyp", 4, "video/mp4"),
    (b"\x1aE\xdf\xa3", 0, "video/webm"),
]

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif", "image/tiff", "image/bmp"}


@dataclass
class MediaFacts:
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None


def sniff(head: bytes, filename: str | None = None) -> str | None:
    for sig, offset, mime in _SIGNATURES:
        if head[offset : offset + len(sig)] == sig:
            if mime == "image/webp" and head[8:12] != b"WEBP":
                continue
            return mime
    if filename:
        guess, _ = mimetypes.guess_type(filename)
        return guess
    return None


def probe(head: bytes, filename: str | None = None) -> MediaFacts:
    facts = MediaFacts(mime=sniff(head, filename))
    if facts.mime in {"image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "image/bmp"}:
        _probe_image(head, facts)
    return facts


def _probe_image(head: bytes, facts: MediaFacts) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(head)) as img:
            facts.width, facts.height = img.size
            exif = img.getexif()
            # Orientation 5-8 means the stored pixels are rotated a quarter turn.
            if exif.get(0x0112) in (5, 6, 7, 8):
                facts.width, facts.height = facts.height, facts.width
            facts.taken_at = _exif_time(exif)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        # A truncated head or a damaged file: keep the MIME type, leave the rest unknown.
        pass


def _exif_time(exif) -> datetime | None:
    try:
        sub = exif.get_ifd(0x8769)
    except (KeyError, ValueError, OSError):
        sub = {}
    raw = sub.get(0x9003) or sub.get(0x9004) or exif.get(0x0132)
    if not raw or not isinstance(raw, str):
        return None
    try:
        local = datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(0x9011) or sub.get(0x9010)  # OffsetTimeOriginal / OffsetTime, "+02:00"
    if isinstance(offset, str) and len(offset) >= 6 and offset[0] in "+-":
        try:
            sign = 1 if offset[0] == "+" else -1
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
            return (local - sign * delta).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    # No offset recorded: the camera's local time, taken as UTC (stated in the README).
    return local.replace(tzinfo=timezone.utc)
