"""Camera-roll photos built at test time with the EXIF layout real cameras and editors write
(Pillow for JPEG and AVIF, pillow-heif for HEIC): MIME type, size, dimensions and capture time
exactly as the bytes say; HEIC and AVIF imported and published as JPEG without metadata; no
capture time taken from EXIF DateTime, XMP, a JPEG comment or a file-system time."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import pytest

from tests.support.builders import jpeg as jpeg_bytes

OLD_MTIME = datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc).timestamp()
# An editor's XMP packet: when the file was created and modified in the editor, not when the
# picture was taken, so it must never become the capture time.
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Adobe Photoshop"'
       b' xmp:CreateDate="2017-03-13T23:03:09+01:00" xmp:ModifyDate="2017-03-13T23:03:09+01:00"/>'
       b'</rdf:RDF></x:xmpmeta>')


def _picture(size: tuple[int, int]):
    from PIL import Image

    img = Image.new("RGB", size)
    img.putdata([(x * 5 % 256, y * 7 % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])])
    return img


def _encode(size: tuple[int, int], fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    _picture(size).save(buf, fmt, **params)
    return buf.getvalue()


@cache
def dslr_jpeg() -> bytes:
    """A DSLR photo re-saved by an editor: IFD0 Make, Model, Orientation, Software and DateTime
    (when the editor wrote the file); the Exif IFD's DateTimeOriginal and DateTimeDigitized with no
    OffsetTime*, as older cameras write; the editor's COM segment."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "Canon EOS 40D", 1
    exif[0x0131], exif[0x0132] = "GIMP 2.4.5", "2008:07:31 10:38:11"
    exif[0x8769] = {0x9003: "2008:05:30 15:56:01", 0x9004: "2008:05:30 15:56:01"}
    return _encode((100, 68), "JPEG", exif=exif.tobytes(), comment=b"Created with GIMP 1999:12:31 23:59:59")


@cache
def edited_jpeg() -> bytes:
    """A picture saved by an editor: EXIF DateTime only (no DateTimeOriginal) and XMP dates."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112], exif[0x0131], exif[0x0132] = 1, "Adobe Photoshop CC 2017 (Macintosh)", "2017:03:13 23:03:09"
    exif[0x8769] = {0xA002: 40, 0xA003: 30}  # PixelXDimension, PixelYDimension
    return _encode((40, 30), "JPEG", exif=exif.tobytes(), xmp=XMP)


@cache
def phone_heic() -> bytes:
    """A camera's HEIC: DateTimeOriginal with OffsetTimeOriginal -05:00 and a later DateTime with
    OffsetTime, as cameras and phones since EXIF 2.31 write them.  Encoded with pillow-heif's own
    API rather than its Pillow opener, which would stay registered in this process and hide a
    vault that forgot to register it."""
    import pillow_heif
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "SONY", "ILCE-7M3", 1
    exif[0x0132] = "2020:09:14 11:10:02"
    exif[0x8769] = {0x9003: "2020:09:14 11:09:34", 0x9004: "2020:09:14 11:09:34",
                    0x9010: "-05:00", 0x9011: "-05:00", 0x9012: "-05:00"}
    buf = io.BytesIO()
    pillow_heif.from_pillow(_picture((64, 48))).save(buf, quality=60, exif=exif.tobytes())
    return buf.getvalue()


@cache
def plain_avif() -> bytes:
    """An AVIF with EXIF that records no time at all, and an editor's XMP."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0131] = "Google", "HDR+ 1.0"
    return _encode((48, 32), "AVIF", exif=exif.tobytes(), xmp=XMP)


ROLL = {"IMG_4001.JPG": dslr_jpeg, "edited.jpg": edited_jpeg, "DSC00042.HEIC": phone_heic, "export.avif": plain_avif}
# mime, width, height, capture time (UTC), EXIF DateTime (UTC, with OffsetTime where recorded).
EXPECTED = {
    "IMG_4001.JPG": ("image/jpeg", 100, 68, "2008-05-30T15:56:01Z", "2008-07-31T10:38:11Z"),  # no offset: as UTC
    "edited.jpg": ("image/jpeg", 40, 30, None, "2017-03-13T23:03:09Z"),
    "DSC00042.HEIC": ("image/heic", 64, 48, "2020-09-14T16:09:34Z", "2020-09-14T16:10:02Z"),  # at -05:00
    "export.avif": ("image/avif", 48, 32, None, None),
}


def _roll(tmp_path: Path) -> Path:
    roll = tmp_path / "DCIM"
    roll.mkdir()
    for name, build in ROLL.items():
        (roll / name).write_bytes(build())
        os.utime(roll / name, (OLD_MTIME, OLD_MTIME))  # a file-system time that must not leak in
    return roll


def _exif_of(data: bytes):
    import pillow_heif
    from PIL import Image

    if data[4:12] == b"ftypheic":
        exif = Image.Exif()
        exif.load(pillow_heif.open_heif(io.BytesIO(data)).info["exif"])
        return exif
    with Image.open(io.BytesIO(data)) as im:
        return im.getexif()


def test_the_built_photos_say_what_the_tests_expect():
    # The inputs themselves: the brands and EXIF the importer is meant to read are really there.
    from PIL import Image

    assert phone_heic()[4:12] == b"ftypheic" and plain_avif()[4:12] == b"ftypavif"
    assert dslr_jpeg()[:2] == edited_jpeg()[:2] == b"\xff\xd8"
    for build, original, datetime_ in [(dslr_jpeg, "2008:05:30 15:56:01", "2008:07:31 10:38:11"),
                                       (edited_jpeg, None, "2017:03:13 23:03:09"),
                                       (phone_heic, "2020:09:14 11:09:34", "2020:09:14 11:10:02"),
                                       (plain_avif, None, None)]:
        exif = _exif_of(build())
        assert (exif.get_ifd(0x8769).get(0x9003), exif.get(0x0132)) == (original, datetime_), build.__name__
    with Image.open(io.BytesIO(dslr_jpeg())) as im:
        assert im.info["comment"].startswith(b"Created with GIMP")
    with Image.open(io.BytesIO(edited_jpeg())) as im:
        assert b"xmp:CreateDate" in im.info["xmp"]


def test_camera_roll_imports_exactly(vault_env, tmp_path):
    roll = _roll(tmp_path)
    dry = vault_env.run("import", roll, "--dry-run", "--json")
    assert dry.code == 0 and dry.json()["added"]["media"] == 4
    res = vault_env.run("import", roll, "--json")
    assert res.code == 0, res.err
    rep = res.json()
    assert rep["source"] == "files" and rep["added"]["media"] == 4 and rep["skipped"] == [] and rep["warnings"] == []
    recs = {r["filename"]: r for r in vault_env.records("--kind", "media")}
    assert set(recs) == set(ROLL)
    for name, (mime, width, height, taken, exif_datetime) in EXPECTED.items():
        r = recs[name]
        assert (r["mime"], r["width"], r["height"], r["taken_at"]) == (mime, width, height, taken), name
        assert r["created_at"] == taken, name
        assert r["size"] == len(ROLL[name]()), name
        # EXIF DateTime (when the camera or some software last wrote the file) is kept under its
        # own name, never as the capture time; XMP, COM and the mtime are nowhere.
        assert (r.get("extra") or {}).get("exif_datetime") == exif_datetime, name
        text = json.dumps(r)
        assert "2001-02-03" not in text and "1999-12-31" not in text and "2017-03-13T22" not in text, name
    # A re-import reads nothing and changes nothing.
    assert vault_env.run("import", roll, "--json").json()["unchanged"]["media"] == 4


def test_undated_photos_list_last_and_filter_out_of_date_ranges(vault_env, tmp_path):
    assert vault_env.run("import", _roll(tmp_path)).code == 0
    listed = [r["filename"] for r in vault_env.records("--kind", "media")]
    # Newest first; records without a date come after every dated one.
    assert listed[:2] == ["DSC00042.HEIC", "IMG_4001.JPG"]
    assert sorted(listed[2:]) == ["edited.jpg", "export.avif"]
    since = [r["filename"] for r in vault_env.records("--kind", "media", "--since", "2000-01-01")]
    assert since == ["DSC00042.HEIC", "IMG_4001.JPG"]
    text = vault_env.run("list", "--kind", "media")
    assert text.code == 0 and "export.avif" in text.out


def test_heic_and_avif_are_published_as_jpeg_without_metadata(vault_env, tmp_path):
    from PIL import Image

    assert vault_env.run("import", _roll(tmp_path)).code == 0
    (vault_env.path / "vault.yaml").write_text("publish:\n  title: Roll\n  base_url: https://roll.example.org/\n")
    assert vault_env.run("mark", "--kind", "media", "--public").code == 0
    out = tmp_path / "site"
    res = vault_env.run("publish", "--out", out, "--json")
    assert res.code == 0, res.err
    assert not [w for w in res.json().get("warnings", []) if "cannot be published" in w]
    recs = {r["filename"]: r for r in vault_env.records("--kind", "media")}
    for name in ("DSC00042.HEIC", "export.avif"):
        published = out / "media" / f"{recs[name]['id']}.jpg"
        assert published.exists(), name
        with Image.open(published) as im:
            assert im.format == "JPEG" and im.size == (EXPECTED[name][1], EXPECTED[name][2]), name
            assert not im.getexif() and "xmp" not in im.info, name
        data = published.read_bytes()
        assert b"Exif\x00" not in data and b"xmpmeta" not in data and b"SONY" not in data, name


def test_a_photo_without_date_time_original_keeps_no_capture_time(vault_env, tmp_path):
    from PIL import Image

    # EXIF DateTime (0x0132) and DateTimeDigitized but no DateTimeOriginal: the file says when
    # it was written or scanned, not when the picture was taken.
    img = Image.new("RGB", (5, 3), (9, 9, 9))
    exif = Image.Exif()
    exif[0x0132] = "2019:01:02 03:04:05"
    exif[0x8769] = {0x9004: "2019:01:02 03:04:05", 0x9010: "+01:00"}
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    roll = tmp_path / "scans"
    roll.mkdir()
    (roll / "scan.jpg").write_bytes(buf.getvalue())
    (roll / "dated.jpg").write_bytes(jpeg_bytes(taken="2020:06:07 08:09:10", offset="-03:30"))
    for f in roll.iterdir():
        os.utime(f, (OLD_MTIME, OLD_MTIME))
    assert vault_env.run("import", roll).code == 0
    recs = {r["filename"]: r for r in vault_env.records("--kind", "media")}
    assert recs["scan.jpg"]["taken_at"] is None and recs["scan.jpg"]["created_at"] is None
    assert recs["scan.jpg"]["extra"] == {"exif_datetime": "2019-01-02T02:04:05Z"}  # 03:04:05 at +01:00
    assert recs["dated.jpg"]["taken_at"] == "2020-06-07T11:39:10Z"
    show = vault_env.run("show", recs["scan.jpg"]["id"], "--json")
    assert show.code == 0 and '"taken_at": null' in show.out and "2001-02-03" not in show.out


@pytest.mark.parametrize("head, name, mime", [
    # ISO-BMFF ftyp boxes as the formats' specifications write them.
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "IMG_1.avif", "image/avif"),
    (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A mp42isom", "memo.m4a", "audio/mp4"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "IMG_2.HEIC", "image/heic"),
    (b"\x00\x00\x00\x18ftypheix\x00\x00\x00\x00mif1heix", "DSCF0001.HIF", "image/heic"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "clip.mp4", "video/mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "clip.mov", "video/quicktime"),
    (b"\x00\x00\x00\x18ftyp3gp4\x00\x00\x00\x00isom3gp4", "old.3gp", "video/3gpp"),
    # A named but unrecognisable file falls back to its extension, then to octet-stream.
    (b"plain words", "notes.txt", "text/plain"),
    (b"\x01\x02\x03 nothing known", "blob.qqq", "application/octet-stream"),
    (b"", None, "application/octet-stream"),
])
def test_mime_types_are_sniffed_from_content(head, name, mime):
    from vault.importing.mediainfo import sniff

    assert sniff(head + b"\x00" * 64, name) == mime if head else sniff(head, name) == mime


def test_sniffing_trusts_content_over_a_wrong_extension():
    from vault.importing.mediainfo import probe

    heic = probe(phone_heic(), "IMG_0001.JPG")
    assert (heic.mime, heic.width, heic.height) == ("image/heic", 64, 48)
    assert heic.taken_at == datetime(2020, 9, 14, 16, 9, 34, tzinfo=timezone.utc)
    avif = probe(plain_avif(), "PXL_0002.mp4")
    assert (avif.mime, avif.width, avif.height) == ("image/avif", 48, 32)
    jpeg = probe(dslr_jpeg(), "IMG_4001.heic")
    assert (jpeg.mime, jpeg.width, jpeg.height) == ("image/jpeg", 100, 68)


def test_avif_capture_time_and_orientation_from_its_exif():
    # A phone's AVIF (Pillow's AVIF writer) with the EXIF a phone writes: a quarter turn and a
    # zoned time.
    from PIL import Image

    from vault.importing.mediainfo import probe

    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8769] = {0x9003: "2024:05:06 07:08:09", 0x9011: "+09:00"}
    buf = io.BytesIO()
    Image.new("RGB", (12, 8), (1, 2, 3)).save(buf, "AVIF", exif=exif.tobytes())
    facts = probe(buf.getvalue(), "PXL_0001.avif")
    assert (facts.mime, facts.width, facts.height) == ("image/avif", 8, 12)
    assert facts.taken_at == datetime(2024, 5, 5, 22, 8, 9, tzinfo=timezone.utc)
