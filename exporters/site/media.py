"""Published media: images re-encoded with no metadata at all (originals in the vault stay
untouched), thumbnails for ``srcset``, videos copied as they are.

Outputs are named by the media id, which names the content.  What a render produced (each file's
SHA-256 and the image's real size) is remembered by the caller; the next build keeps an output
only when the file on disk still has that hash, so a damaged or half-copied file is made again
and incremental builds decrypt only new or damaged media.  Every file is written under a
temporary name and renamed, so an interrupted build never leaves a half-written file behind.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# Bump when the bytes a render produces change (metadata policy, encoder settings): outputs
# remembered under an older version are made again.
RENDER_VERSION = 3
WIDTHS = (320, 640, 1280)
MAX_WIDTH = 2048
MAX_IMAGE_BYTES = 80 << 20
# An animation is re-encoded frame by frame, all frames in memory: beyond this many pixels in
# total (about 1.2 GB as RGBA) it is not published.
MAX_ANIMATION_PIXELS = 300_000_000
IMAGE_FORMATS = {"image/jpeg": ("JPEG", "jpg"), "image/png": ("PNG", "png"), "image/webp": ("WEBP", "webp"), "image/gif": ("GIF", "gif")}
# Phone photos (HEIC/HEIF, AVIF) are published as JPEG, which every browser shows.
IMAGE_FORMATS.update({"image/heic": ("JPEG", "jpg"), "image/heif": ("JPEG", "jpg"), "image/avif": ("JPEG", "jpg")})
# Catmull-Rom (Pillow's BICUBIC, with reduce() first on large reductions): as sharp as Lanczos
# to the eye at these sizes, for about two thirds of the work.
RESAMPLE = "BICUBIC"
# EXIF orientation -> the PIL.Image.Transpose that draws the image upright.
_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
              7: "TRANSVERSE", 8: "ROTATE_90"}
VIDEO_EXT = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}
# The only decoder facts carried into an output: how to draw it (transparency) and, for
# animations, its timing.  Everything else in ``Image.info`` (comments, ICC, EXIF, XMP, text
# chunks, dpi...) is dropped.
_KEEP_INFO = {"transparency", "duration", "loop", "background", "disposal"}


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
    hashes: dict[str, str] = field(default_factory=dict)  # bundle path -> sha256 of its bytes
    # Not a field (so not part of a page's inputs, which list every field): this render wrote
    # the files rather than keeping intact ones.
    written = False

    def memo(self) -> dict:
        """What the next build needs to trust these outputs without decoding the original."""
        return {"w": self.width, "h": self.height, "files": self.hashes}


def plan_paths(rec: dict) -> tuple[str, str] | None:
    """(kind, main path) for a media record, or None when it cannot be published."""
    mime = rec.get("mime") or ""
    if mime in IMAGE_FORMATS:
        return "image", f"media/{rec['id']}.{IMAGE_FORMATS[mime][1]}"
    if mime in VIDEO_EXT:
        return "video", f"media/{rec['id']}.{VIDEO_EXT[mime]}"
    return None


def _thumb_widths(width: int | None, fmt: str) -> list[int]:
    # GIFs are animations: re-encoded at their own size, no scaled copies.
    if not width or fmt == "GIF":
        return []
    return [w for w in WIDTHS if w < min(width, MAX_WIDTH)]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` under a temporary name, then rename: readers (and a rerun after
    a crash) see the old file or the new one, never a part.  Published files are world-readable."""
    import os

    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        os.fchmod(fh.fileno(), 0o644)
    os.replace(tmp, path)


def _layout(rec: dict, width: int | None, height: int | None) -> PublishedMedia:
    kind, main = plan_paths(rec)  # type: ignore[misc]
    alt = rec.get("alt") or rec.get("caption") or ""
    pm = PublishedMedia(rec["id"], kind, main, width, height, alt=alt, caption=rec.get("caption"))
    if kind == "video":
        pm.files = [main]
        return pm
    fmt, ext = IMAGE_FORMATS[rec["mime"]]
    widths = _thumb_widths(width, fmt)
    pm.srcset = [{"path": f"media/{rec['id']}-{w}.{ext}", "width": w} for w in widths]
    if width:
        pm.srcset.append({"path": main, "width": width})
    pm.files = [main] + [s["path"] for s in pm.srcset if s["path"] != main]
    return pm


def render(rec: dict, out: Path, read_plain: Callable[[], bytes], write_video: Callable[[Path], None],
           memo: dict | None = None, intact: Callable[[str, str], bool] | None = None) -> PublishedMedia | None:
    """Produce the bundle files for one media record under ``out``.

    ``memo`` is what an earlier render returned (``PublishedMedia.memo``); when every file it
    lists is still ``intact`` (the path holds those exact bytes) nothing is decoded or written.
    Sizes come from the decoded file, never from what an export declared.
    """
    planned = plan_paths(rec)
    if planned is None:
        return None
    kind, main = planned
    if memo and intact is not None and memo.get("files") and all(intact(p, sha) for p, sha in memo["files"].items()):
        pm = _layout(rec, memo.get("w"), memo.get("h"))
        if set(pm.files) == set(memo["files"]):
            pm.hashes = dict(memo["files"])
            return pm
    (out / "media").mkdir(parents=True, exist_ok=True)
    if kind == "video":
        # Videos are not decoded, so their size is unknown (an export's declared size can be a
        # placeholder, e.g. Mastodon's 4x3): the page leaves sizing to the player.
        pm = _layout(rec, None, None)
        target = out / main
        write_video(target)
        pm.hashes = {main: _sha256_file(target)}
        pm.written = True
        return pm
    if (rec.get("size") or 0) > MAX_IMAGE_BYTES:
        return None
    fmt, ext = IMAGE_FORMATS[rec["mime"]]
    made = reencode(read_plain(), fmt, _thumb_widths)
    if made is None:
        return None
    full, thumbs, (w, h) = made
    pm = _layout(rec, w, h)
    blobs = {main: full, **{f"media/{rec['id']}-{tw}.{ext}": blob for tw, blob in thumbs.items()}}
    for rel in pm.files:
        write_atomic(out / rel, blobs[rel])
        pm.hashes[rel] = hashlib.sha256(blobs[rel]).hexdigest()
    pm.written = True
    return pm


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def reencode(data: bytes, fmt: str, widths_for: Callable[[int, str], list[int]] = lambda w, f: []
             ) -> tuple[bytes, dict[int, bytes], tuple[int, int]] | None:
    """Decode, apply the EXIF orientation, convert to sRGB, and save with no metadata at all.

    Returns (full size, {width: thumbnail}, (width, height) of the full size), or None when the
    bytes are not a decodable image.

    The image is decoded once for all its sizes, and no larger than the biggest one needs: a
    JPEG at least twice as wide as ``MAX_WIDTH`` is decoded by libjpeg at 1/2, 1/4 or 1/8 scale
    (draft mode), which costs a fraction of a full decode and of the resampling it replaces.
    Each thumbnail is then scaled from the next larger size.  Only the decoded pixels decide the
    output, so the same input and library versions always give the same bytes.
    """
    from PIL import Image, UnidentifiedImageError

    from vault.plugin_api import register_image_openers

    register_image_openers()
    try:
        with Image.open(io.BytesIO(data)) as img:
            if fmt == "GIF":
                if getattr(img, "n_frames", 1) * img.width * img.height > MAX_ANIMATION_PIXELS:
                    return None
                full = _reencode_gif(img)
                return full, {}, img.size
            orientation = _orientation(img)
            ow, oh = (img.height, img.width) if orientation in (5, 6, 7, 8) else img.size
            size = full_size(ow, oh)
            if size[0] < ow and img.format == "JPEG":
                # Ask for at least the output's size (in the file's own, unrotated axes): libjpeg
                # picks the largest 1/2^k scale that is still no smaller.
                scale = ow / size[0]
                img.draft(img.mode, (math.ceil(img.width / scale), math.ceil(img.height / scale)))
            img.load()
            if orientation in _TRANSPOSE:
                img = img.transpose(Image.Transpose[_TRANSPOSE[orientation]])  # type: ignore[assignment]  # Pillow: a plain Image from here on
            img = _to_srgb(img)
            if img.mode not in ("RGB", "L") and fmt == "JPEG":
                img = img.convert("RGB")
            resample = Image.Resampling[RESAMPLE]
            if img.size != size:
                img = img.resize(size, resample, reducing_gap=2.0)
            full = _save(img, fmt)
            thumbs = {}
            # Each thumbnail is scaled from the next larger one, not from the full size: about a
            # fifth of the work, with no visible loss at these sizes.
            source = img
            for w in sorted(widths_for(size[0], fmt), reverse=True):
                if w < source.width:
                    source = source.resize((w, max(1, round(size[1] * w / size[0]))), resample, reducing_gap=2.0)
                    thumbs[w] = _save(source, fmt)
            return full, thumbs, size
    except (UnidentifiedImageError, OSError, ValueError, EOFError, SyntaxError, Image.DecompressionBombError):
        return None


def full_size(width: int, height: int) -> tuple[int, int]:
    """The published size of an image of ``width`` x ``height`` (after its EXIF orientation):
    no wider than ``MAX_WIDTH``, the aspect ratio kept."""
    if width <= MAX_WIDTH:
        return width, height
    return MAX_WIDTH, max(1, round(height * MAX_WIDTH / width))


def _orientation(img) -> int:
    """The EXIF orientation (1-8), 1 when absent or unreadable.  Read before decoding, so that
    draft mode can ask for the right axes."""
    try:
        value = img.getexif().get(0x0112, 1)
        return value if isinstance(value, int) and 1 <= value <= 8 else 1
    except (OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError):  # a damaged EXIF block
        return 1


def _clean_info(img) -> None:
    img.info = {k: v for k, v in img.info.items() if k in _KEEP_INFO}


def _to_srgb(img):
    """Pixels converted from an embedded colour profile to sRGB, so dropping the profile keeps
    the colours; an unreadable profile is simply dropped."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return img
    from PIL import ImageCms

    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode=out_mode)
        return converted if converted is not None else img
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img


def _save(img, fmt: str) -> bytes:
    buf = io.BytesIO()
    _clean_info(img)
    # No exif=, icc_profile=, comment= or pnginfo=, and the decoder's info cleared above: Pillow
    # falls back to ``Image.info`` for some of these, so nothing of the original's metadata survives.
    kwargs = {"quality": 85} if fmt in ("JPEG", "WEBP") else {}
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _reencode_gif(img) -> bytes:
    """Every frame drawn again into a new GIF with the same timing and loop count; comments,
    XMP and other application extensions are not carried over."""
    from PIL import ImageSequence

    frames, durations = [], []
    for frame in ImageSequence.Iterator(img):
        copy = frame.copy()
        durations.append(int(frame.info.get("duration") or 100))
        _clean_info(copy)
        copy.info.pop("loop", None)
        frames.append(copy)
    buf = io.BytesIO()
    first = frames[0]
    if len(frames) == 1:
        first.save(buf, "GIF")
    else:
        # No "loop" in the original means "play once": keep it so.
        loop = {"loop": int(img.info["loop"])} if "loop" in img.info else {}
        first.save(buf, "GIF", save_all=True, append_images=frames[1:], duration=durations, **loop)
    return buf.getvalue()
