"""The image fast path (exporters/site/media.py): one decode per photo, JPEG draft-mode decoding for
large photos, bicubic scaling with reduce() first.  Each test feeds real encoded bytes through
``reencode``/``render`` and checks the published bytes: size, orientation, pixels close to a
plain full-resolution resize, no metadata, the same bytes every time."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat, JpegImagePlugin

from exporters.site import media

ALLOWED_JPEG_SEGMENTS = {0xE0, 0xDB, 0xC0, 0xC2, 0xC4, 0xDD, 0xDA}  # JFIF, tables, frame, scan
ALLOWED_PNG_CHUNKS = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}


def quadrants(size: tuple[int, int], mode: str = "RGB", colours=None) -> Image.Image:
    """Four flat quadrants (red, green / blue, yellow) with a grey bar: orientation and scaling
    errors show up as wrong colours at known places."""
    colours = colours or [(220, 20, 20), (20, 200, 20), (20, 20, 220), (230, 220, 30)]
    w, h = size
    img = Image.new("RGB", size)
    for i, c in enumerate(colours):
        x, y = (i % 2) * w // 2, (i // 2) * h // 2
        img.paste(c, (x, y, x + w // 2, y + h // 2))
    img.paste((128, 128, 128), (w // 3, h // 3, w // 3 + w // 20, h - h // 3))
    return img.convert(mode) if mode != "RGB" else img


def jpeg(img: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, **kwargs)
    return buf.getvalue()


def exif_with(orientation: int | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "Exifcanary description"
    exif[0x8825] = {1: "N", 2: (50.0, 5.0, 0.0)}  # GPS
    if orientation:
        exif[0x0112] = orientation
    return exif.tobytes()


def jpeg_segments(data: bytes) -> set[int]:
    assert data[:2] == b"\xff\xd8"
    markers, i = set(), 2
    while i < len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        markers.add(marker)
        if marker == 0xDA:
            break
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return markers


def png_chunks(data: bytes) -> set[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, i = set(), 8
    while i < len(data):
        chunks.add(data[i + 4 : i + 8])
        i += 12 + int.from_bytes(data[i : i + 4], "big")
    return chunks


def assert_clean(data: bytes, fmt: str) -> None:
    assert b"canary" not in data.lower()
    if fmt == "JPEG":
        assert jpeg_segments(data) <= ALLOWED_JPEG_SEGMENTS, sorted(map(hex, jpeg_segments(data)))
    elif fmt == "PNG":
        assert png_chunks(data) <= ALLOWED_PNG_CHUNKS, png_chunks(data)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == fmt
        assert not im.getexif() and "icc_profile" not in im.info and "comment" not in im.info and "xmp" not in im.info


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.copy()


@pytest.fixture
def drafts(monkeypatch):
    """The scales libjpeg was asked to decode at (1 = full size)."""
    seen: list[int] = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        seen.append(self.decoderconfig[0] if self.decoderconfig else 1)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    return seen


def check_sizes(made, expected_full: tuple[int, int]) -> None:
    full, thumbs, size = made
    assert size == expected_full and decoded(full).size == expected_full
    assert sorted(thumbs) == [w for w in media.WIDTHS if w < expected_full[0]]
    for w, blob in thumbs.items():
        assert decoded(blob).size == (w, round(expected_full[1] * w / expected_full[0]))


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_large_jpeg_is_decoded_at_half_scale_with_exact_sizes_and_pixels(drafts, progressive):
    src = quadrants((4200, 2800))
    data = jpeg(src, progressive=progressive, exif=exif_with(), comment=b"Comcanary")
    made = media.reencode(data, "JPEG", media._thumb_widths)
    assert drafts == [2]  # the fast path ran: libjpeg decoded 2100 x 1400 pixels, not 4200 x 2800
    check_sizes(made, (2048, 1365))
    reference = src.resize((2048, 1365), Image.LANCZOS)
    assert mean_diff(decoded(made[0]), reference) < 3
    assert mean_diff(decoded(made[1][320]), reference.resize((320, 213), Image.LANCZOS)) < 3
    for blob in [made[0], *made[1].values()]:
        assert_clean(blob, "JPEG")


def test_a_photo_no_wider_than_the_maximum_is_decoded_at_full_size(drafts):
    made = media.reencode(jpeg(quadrants((1200, 900))), "JPEG", media._thumb_widths)
    assert drafts == []  # nothing to gain: the full size is the original size
    check_sizes(made, (1200, 900))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied_before_scaling(drafts, orientation):
    # Stored portrait; orientations 6 and 8 make it landscape, wide enough for draft mode.
    src = quadrants((3000, 4200))
    made = media.reencode(jpeg(src, exif=exif_with(orientation)), "JPEG", media._thumb_widths)
    upright = ImageOps.exif_transpose(decoded(jpeg(src, exif=exif_with(orientation))))
    expected = media.full_size(*upright.size)
    check_sizes(made, expected)
    # Turned landscape (6, 8), it is 4200 wide: half scale suffices (3000 // 1463 and 4200 // 2048
    # are both 2).  Upside down (3) it stays 3000 wide: a full decode.
    assert drafts == ([2] if orientation in (6, 8) else [1])
    assert mean_diff(decoded(made[0]), upright.resize(expected, Image.LANCZOS)) < 3
    assert_clean(made[0], "JPEG")


def test_cmyk_jpeg_is_published_as_rgb(drafts):
    src = quadrants((4400, 2200), "CMYK")
    made = media.reencode(jpeg(src, exif=exif_with()), "JPEG", media._thumb_widths)
    assert drafts == [2]
    check_sizes(made, (2048, 1024))
    out = decoded(made[0])
    assert out.mode == "RGB"
    assert mean_diff(out, src.convert("RGB").resize((2048, 1024), Image.LANCZOS)) < 4
    assert_clean(made[0], "JPEG")


def test_16_bit_png_keeps_its_depth_and_loses_its_text():
    from PIL import PngImagePlugin

    img = Image.linear_gradient("L").resize((2600, 600)).convert("I").point(lambda v: v * 257).convert("I;16")
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Pngtextcanary")
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=info)
    assert b"\x10\x00" in buf.getvalue()[16:26]  # IHDR says 16 bits per sample
    made = media.reencode(buf.getvalue(), "PNG", media._thumb_widths)
    check_sizes(made, (2048, 473))
    for blob in [made[0], *made[1].values()]:
        assert_clean(blob, "PNG")
    out = decoded(made[0])
    assert out.mode.startswith("I")  # still more than 8 bits
    assert out.getpixel((1000, 0)) < 1000 and out.getpixel((1000, 472)) > 64000  # a vertical ramp over 16 bits


def test_animated_gif_keeps_frames_timing_and_loop():
    frames = [Image.new("RGB", (300, 200), (i * 80, 255 - i * 80, 40)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=0, comment=b"Gifcanary")
    full, thumbs, size = media.reencode(buf.getvalue(), "GIF", media._thumb_widths)
    assert size == (300, 200) and thumbs == {}
    assert b"canary" not in full.lower()
    with Image.open(io.BytesIO(full)) as im:
        assert im.n_frames == 3 and im.info.get("loop") == 0 and "comment" not in im.info
        durations = []
        for k in range(3):
            im.seek(k)
            durations.append(im.info["duration"])
        assert durations == [100, 200, 300]


def _heic(size: tuple[int, int]) -> bytes:
    import pillow_heif

    buf = io.BytesIO()
    pillow_heif.from_pillow(quadrants(size)).save(buf, quality=80, exif=exif_with(),
                                                  xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">canary</x:xmpmeta>')
    return buf.getvalue()


def _avif(size: tuple[int, int]) -> bytes:
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF encoder")
    buf = io.BytesIO()
    quadrants(size).save(buf, "AVIF", quality=80, speed=10, exif=exif_with())
    return buf.getvalue()


@pytest.mark.parametrize("make,size", [(_heic, (64, 64)), (_avif, (128, 128))])
def test_heic_and_avif_sources_become_clean_jpegs(make, size):
    # Built here with EXIF (and XMP for HEIC) as phones write them; none of it may survive.
    made = media.reencode(make(size), "JPEG", media._thumb_widths)
    check_sizes(made, size)
    assert_clean(made[0], "JPEG")
    assert b"canary" not in made[0]


def test_large_avif_is_scaled_to_every_width():
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF encoder")
    src = quadrants((2600, 1300))
    buf = io.BytesIO()
    src.save(buf, "AVIF", quality=80, speed=10, exif=exif_with())
    made = media.reencode(buf.getvalue(), "JPEG", media._thumb_widths)
    check_sizes(made, (2048, 1024))
    assert mean_diff(decoded(made[0]), src.resize((2048, 1024), Image.LANCZOS)) < 4
    for blob in [made[0], *made[1].values()]:
        assert_clean(blob, "JPEG")


def test_renders_are_byte_identical_across_runs_and_threads(tmp_path):
    photos = [jpeg(quadrants((4200, 2800), colours=[(i * 40, 20, 20), (20, 200, 20), (20, 20, 220), (230, 220, 30)]),
                   exif=exif_with(6 if i % 2 else None), progressive=bool(i % 3 == 0)) for i in range(4)]

    def render_all(out: Path, workers: int) -> dict[str, str]:
        def one(i: int):
            rec = {"id": f"m{i}", "mime": "image/jpeg", "size": len(photos[i])}
            return media.render(rec, out, lambda: photos[i], lambda target: None)

        with ThreadPoolExecutor(workers) as pool:
            made = list(pool.map(one, range(len(photos))))
        return {rel: sha for pm in made for rel, sha in pm.hashes.items()}

    first = render_all(tmp_path / "a", 1)
    second = render_all(tmp_path / "b", 4)
    assert first == second and len(first) == 4 * 4  # full size + 1280, 640 and 320 each
    for rel in first:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_undecodable_and_truncated_images_are_refused():
    data = jpeg(quadrants((4200, 2800)))
    assert media.reencode(b"not an image at all", "JPEG") is None
    assert media.reencode(data[: len(data) // 3], "JPEG") is None
