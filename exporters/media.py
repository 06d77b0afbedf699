"""Published media: images re-encoded without EXIF/GPS (originals in the vault stay untouched),
thumbnails for ``srcset``, videos copied as they are.

Outputs are named by the media id, which names the content, so an existing output file is already
right and is never rebuilt: incremental builds decrypt only new media.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

WIDTHS = (320, 640, 1280)
MAX_WIDTH = 2048
MAX_IMAGE_BYTES = 80 << 20
IMAGE_FORMATS = {"image/jpeg": ("JPEG", "jpg"), "image/png": ("PNG", "png"), "image/webp": ("WEBP", "webp"), "image/gif": ("GIF", "gif")}
# Phone photos (HEIC/HEIF, AVIF) are published as JPEG, which every browser shows.
IMAGE_FORMATS.update({"image/heic": ("JPEG", "jpg"), "image/heif": ("JPEG", "jpg"), "image/avif": ("JPEG", "jpg")})
VIDEO_EXT = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}


@dataclass
class PublishedMedia:
    id: str
    kind: str                      # "image" | "video"
    src: str                       # path in the bundle
    width: int | None = None
    height: int | None = None
    srcset: list[dict] = field(default_factory=list)  # [{"path", "width"}]
    alt: str = ""
    caption: str | None = None
    files: list[str] = field(default_factory=list)    # every bundle path this media produced


def plan_paths(rec: dict) -> tuple[str, str] | None:
    """(kind, main path) for a media record, or None when it cannot be published."""
    mime = rec.get("mime") or ""
    if mime in IMAGE_FORMATS:
        return "image", f"media/{rec['id']}.{IMAGE_FORMATS[mime][1]}"
    if mime in VIDEO_EXT:
        return "video", f"media/{rec['id']}.{VIDEO_EXT[mime]}"
    return None


def _thumb_widths(width: int | None) -> list[int]:
    if not width:
        return []
    return [w for w in WIDTHS if w < min(width, MAX_WIDTH)]


def render(rec: dict, out: Path, read_plain: Callable[[], bytes], write_video: Callable[[Path], None]) -> PublishedMedia | None:
    """Produce the bundle files for one media record under ``out`` (skipping existing ones)."""
    planned = plan_paths(rec)
    if planned is None:
        return None
    kind, main = planned
    alt = rec.get("alt") or rec.get("caption") or ""
    pm = PublishedMedia(rec["id"], kind, main, rec.get("width"), rec.get("height"), alt=alt, caption=rec.get("caption"))
    if kind == "video":
        target = out / main
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            write_video(target)
        pm.files = [main]
        return pm
    fmt, ext = IMAGE_FORMATS[rec["mime"]]
    width, height = rec.get("width"), rec.get("height")
    if width and width > MAX_WIDTH:
        height = round(height * MAX_WIDTH / width) if height else None
        width = MAX_WIDTH
    pm.width, pm.height = width, height
    widths = _thumb_widths(rec.get("width"))
    wanted = [main] + [f"media/{rec['id']}-{w}.{ext}" for w in widths]
    pm.srcset = [{"path": f"media/{rec['id']}-{w}.{ext}", "width": w} for w in widths]
    if width:
        pm.srcset.append({"path": main, "width": width})
    pm.files = wanted
    if all((out / p).exists() for p in wanted):
        return pm
    if (rec.get("size") or 0) > MAX_IMAGE_BYTES:
        return None
    data = read_plain()
    made = _reencode(data, fmt, widths)
    if made is None:
        return None
    (out / "media").mkdir(parents=True, exist_ok=True)
    full, thumbs, (w, h) = made
    pm.width, pm.height = w, h
    if pm.srcset:
        pm.srcset[-1]["width"] = w
    (out / main).write_bytes(full)
    for tw, blob in thumbs.items():
        (out / f"media/{rec['id']}-{tw}.{ext}").write_bytes(blob)
    return pm


def _reencode(data: bytes, fmt: str, widths: list[int]) -> tuple[bytes, dict[int, bytes], tuple[int, int]] | None:
    """Decode, apply the EXIF orientation, and save with no metadata at all."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    from vault.mediainfo import register_image_openers

    register_image_openers()
    try:
        with Image.open(io.BytesIO(data)) as img:
            if fmt == "GIF":
                # Animated GIFs keep their frames; GIF carries no EXIF/GPS to strip.
                return data, {}, img.size
            img = ImageOps.exif_transpose(img)
            if img.mode not in ("RGB", "L") and fmt == "JPEG":
                img = img.convert("RGB")
            if img.width > MAX_WIDTH:
                img = img.resize((MAX_WIDTH, round(img.height * MAX_WIDTH / img.width)), Image.LANCZOS)
            full = _save(img, fmt)
            thumbs = {}
            # Each thumbnail is scaled from the next larger one, not from the original: about a
            # fifth of the work, with no visible loss at these sizes.
            source = img
            for w in sorted(widths, reverse=True):
                if w < source.width:
                    source = source.resize((w, max(1, round(source.height * w / source.width))), Image.LANCZOS, reducing_gap=2.0)
                    thumbs[w] = _save(source, fmt)
            return full, thumbs, img.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def _save(img, fmt: str) -> bytes:
    buf = io.BytesIO()
    # No exif=, no icc/xmp passed on: nothing from the original's metadata survives.
    kwargs = {"quality": 85} if fmt in ("JPEG", "WEBP") else {}
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()
