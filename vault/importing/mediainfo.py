"""Facts about a media file from its first bytes: MIME type, dimensions, EXIF capture time.

The pipeline calls ``probe`` with the head of the plaintext it already holds while hashing and
encrypting, so no second read of the file is needed.  Pillow is imported only when needed.
"""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

UNKNOWN_MIME = "application/octet-stream"

# ISO-BMFF brands (major, else compatible) that ``filetype`` does not tell apart from MP4 or does
# not know at all: 10-bit and multi-image HEIC, bare HEIF, AVIF sequences, 3GPP.
_BRANDS = {
    "heic": "image/heic", "heix": "image/heic", "heim": "image/heic", "heis": "image/heic",
    "hevc": "image/heic-sequence", "hevx": "image/heic-sequence",
    "avif": "image/avif", "avis": "image/avif",
    "mif1": "image/heif", "msf1": "image/heif-sequence",
    "3gp4": "video/3gpp", "3gp5": "video/3gpp", "3gp6": "video/3gpp", "3g2a": "video/3gpp2",
}

# Types Pillow decodes (HEIC/HEIF through pillow-heif, AVIF natively from Pillow 11.3).
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif", "image/avif",
               "image/tiff", "image/bmp"}
HEIF_TYPES = {"image/heic", "image/heif", "image/avif"}
# Extension guesses use only Python's built-in table, never the host's /etc/mime.types.
_BY_NAME = mimetypes.MimeTypes(filenames=())
_BY_NAME.add_type("image/heic", ".heic")
_BY_NAME.add_type("image/heif", ".heif")
_BY_NAME.add_type("image/heif", ".hif")
_BY_NAME.add_type("image/avif", ".avif")
_BY_NAME.add_type("audio/mp4", ".m4a")


@dataclass
class MediaFacts:
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    # EXIF DateTime, kept apart under its own name: some phones write only this one.
    exif_datetime: datetime | None = None
    # Only the camera's DateTimeOriginal: EXIF DateTime (0x0132) is when software last wrote the
    # file, and file-system times are when a copy was made; neither is when the photo was taken.
    taken_at: datetime | None = None
    # Why the image could not be examined safely, for the import report (None when fine).
    problem: str | None = None


_FACTS = ("mime", "width", "height", "exif_datetime", "taken_at", "problem")
_TIMES = ("exif_datetime", "taken_at")


def facts_to_json(facts: MediaFacts) -> dict:
    """``facts`` as JSON values (times in ISO 8601), for a worker process's reply."""
    return {key: (value.isoformat() if key in _TIMES and value is not None else value)
            for key, value in ((k, getattr(facts, k)) for k in _FACTS)}


def facts_from_json(data: dict) -> MediaFacts:
    def when(key: str) -> datetime | None:
        return datetime.fromisoformat(data[key]) if data.get(key) else None

    return MediaFacts(mime=data.get("mime"), width=data.get("width"), height=data.get("height"),
                      exif_datetime=when("exif_datetime"), taken_at=when("taken_at"), problem=data.get("problem"))


def sniff(head: bytes, filename: str | None = None) -> str:
    """The MIME type of a file from its first bytes (the ``filetype`` library), else from its
    name, else ``application/octet-stream``."""
    import filetype

    mime = filetype.guess_mime(head[:8192]) if head else None
    if head[4:8] == b"ftyp" and mime in (None, "video/mp4"):
        mime = _iso_brand(head) or mime
    if mime is None and filename:
        mime, _ = _BY_NAME.guess_type(filename, strict=False)
    return mime or UNKNOWN_MIME


def _iso_brand(head: bytes) -> str | None:
    size = int.from_bytes(head[0:4], "big")
    major = head[8:12].decode("latin-1")
    compatible = [head[i:i + 4].decode("latin-1") for i in range(16, min(size, len(head), 256) - 3, 4)]
    if major in _BRANDS and major not in ("mif1", "msf1"):
        return _BRANDS[major]
    for brand in compatible:
        if brand in _BRANDS and brand not in ("mif1", "msf1"):
            return _BRANDS[brand]
    return _BRANDS.get(major)


_openers_registered = False


def register_image_openers() -> None:
    """Let Pillow open HEIC/HEIF (pillow-heif).  AVIF is Pillow's own from 11.3; idempotent."""
    global _openers_registered
    if _openers_registered:
        return
    _openers_registered = True
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # an install without the wheel: HEIC keeps its MIME type, no dimensions
        return
    register_heif_opener()


def probe(head: bytes, filename: str | None = None) -> MediaFacts:
    facts = MediaFacts(mime=sniff(head, filename))
    if facts.mime in IMAGE_TYPES:
        if facts.mime in HEIF_TYPES:
            register_image_openers()
        _probe_image(head, facts)
    return facts


def _probe_image(head: bytes, facts: MediaFacts) -> None:
    """Dimensions and EXIF time from the image's header.  Never decodes pixels.

    A header claiming more pixels than Pillow decodes safely (a 40000x40000 PNG, a 50-byte TIFF
    claiming 100000x100000) is a decompression bomb for anything that later decodes it.  The
    file is still stored (it is the user's, and storing streams it without decoding), but without
    dimensions, and ``facts.problem`` says why; publishing makes no thumbnail of it.
    """
    import struct
    import warnings

    from PIL import Image, UnidentifiedImageError

    if facts.mime == "image/jpeg" and _probe_jpeg(head, facts, Image.MAX_IMAGE_PIXELS):
        return
    try:
        with warnings.catch_warnings():
            # Large but sane photos (over 89 megapixels) only trigger a warning, which would be
            # printed to the terminal; reading their header is harmless.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(head)) as img:
                facts.width, facts.height = img.size
                exif = img.getexif()
                # Orientation 5-8 means the stored pixels are rotated a quarter turn.
                if exif.get(0x0112) in (5, 6, 7, 8):
                    facts.width, facts.height = facts.height, facts.width
                facts.taken_at, facts.exif_datetime = _exif_times(exif)
    except Image.DecompressionBombError:
        facts.width = facts.height = facts.taken_at = facts.exif_datetime = None
        facts.problem = (f"the image claims more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels (a possible "
                         "decompression bomb); stored without dimensions, and no thumbnail will be made")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError,
            KeyError, TypeError, ZeroDivisionError, OverflowError):
        # A truncated head or a damaged file (Pillow's parsers raise all of these on crafted
        # headers): keep the MIME type, leave the rest unknown.
        facts.width = facts.height = facts.taken_at = facts.exif_datetime = None


def _probe_jpeg(head: bytes, facts: MediaFacts, limit: int | None) -> bool:
    """The same facts as Pillow gives, read from the JPEG's markers without it (``jpeghead``);
    False when that reader leaves the file to Pillow, or the image is big enough for Pillow's
    decompression bomb rules to have a say."""
    from .jpeghead import read

    found = read(head)
    if found is None or (limit is not None and found.width * found.height > limit):
        return False
    turned = found.orientation in (5, 6, 7, 8)
    facts.width, facts.height = (found.height, found.width) if turned else (found.width, found.height)
    texts = found.texts
    facts.taken_at = _exif_stamp(texts.get(0x9003), texts.get(0x9011))
    facts.exif_datetime = _exif_stamp(texts.get(0x0132), texts.get(0x9010))
    return True


def _exif_times(exif) -> tuple[datetime | None, datetime | None]:
    """(DateTimeOriginal, DateTime), each with its own recorded offset, as UTC."""
    try:
        sub = exif.get_ifd(0x8769)
    except (KeyError, ValueError, OSError):
        sub = {}
    return _exif_stamp(sub.get(0x9003), sub.get(0x9011)), _exif_stamp(exif.get(0x0132), sub.get(0x9010))


def _exif_stamp(raw, offset) -> datetime | None:
    """EXIF "YYYY:MM:DD HH:MM:SS" and an offset such as "+02:00" (OffsetTime*) as UTC."""
    if not raw or not isinstance(raw, str):
        return None
    try:
        local = datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if isinstance(offset, str) and len(offset) >= 6 and offset[0] in "+-":
        try:
            sign = 1 if offset[0] == "+" else -1
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
            return (local - sign * delta).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    # No offset recorded: the camera's local time, taken as UTC (stated in the README).
    return local.replace(tzinfo=timezone.utc)
