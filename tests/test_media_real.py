"""Camera-roll photos written by real cameras and tools (tests/real/files, see ORIGIN.md there):
MIME type, dimensions and capture time exactly as the bytes say; HEIC and AVIF imported and
published; no capture time invented from a file-system or software time."""

from __future__ import annotations

import io
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from builders import jpeg

REAL = Path(__file__).parent / "real" / "files"
SAMPLES = ["Canon_40D.jpg", "exif-200dpcm.jpg", "L_exif_xmp_iptc.heic", "hopper.avif"]
# What each file says, read from its bytes (ORIGIN.md): mime, width, height, capture time (UTC).
EXPECTED = {
    "Canon_40D.jpg": ("image/jpeg", 100, 68, "2008-05-30T15:56:01Z"),     # no offset recorded: taken as UTC
    "exif-200dpcm.jpg": ("image/jpeg", 200, 200, None),                   # DateTime only, no DateTimeOriginal
    "L_exif_xmp_iptc.heic": ("image/heic", 64, 64, "2020-09-14T16:09:34Z"),  # 11:09:34 at -05:00
    "hopper.avif": ("image/avif", 128, 128, None),                        # no EXIF at all
}
# EXIF DateTime (0x0132) with OffsetTime where recorded, read from the same bytes.
EXIF_DATETIME = {
    "Canon_40D.jpg": "2008-07-31T10:38:11Z",
    "exif-200dpcm.jpg": "2017-03-13T23:03:09Z",
    "L_exif_xmp_iptc.heic": "2020-09-14T16:09:34Z",
    "hopper.avif": None,
}
OLD_MTIME = datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc).timestamp()


def _roll(tmp_path: Path) -> Path:
    roll = tmp_path / "DCIM"
    roll.mkdir()
    for name in SAMPLES:
        shutil.copyfile(REAL / name, roll / name)
        os.utime(roll / name, (OLD_MTIME, OLD_MTIME))  # a file-system time that must not leak in
    return roll


def test_real_camera_roll_imports_exactly(vault_env, tmp_path):
    roll = _roll(tmp_path)
    dry = vault_env.run("import", roll, "--dry-run", "--json")
    assert dry.code == 0 and dry.json()["added"]["media"] == 4
    res = vault_env.run("import", roll, "--json")
    assert res.code == 0, res.err
    rep = res.json()
    assert rep["source"] == "files" and rep["added"]["media"] == 4 and rep["skipped"] == [] and rep["warnings"] == []
    recs = {r["filename"]: r for r in vault_env.records("--kind", "media")}
    assert set(recs) == set(SAMPLES)
    for name, (mime, width, height, taken) in EXPECTED.items():
        r = recs[name]
        assert (r["mime"], r["width"], r["height"], r["taken_at"]) == (mime, width, height, taken), name
        assert r["created_at"] == taken, name
        assert r["size"] == (REAL / name).stat().st_size
        # EXIF DateTime (when the camera or software last wrote the file: GIMP in 2008 for the
        # Canon) is kept under its own name, never as the capture time; the mtime is nowhere.
        assert (r.get("extra") or {}).get("exif_datetime") == EXIF_DATETIME[name], name
        assert "2001-02-03" not in json.dumps(r), name
    # A re-import reads nothing and changes nothing.
    assert vault_env.run("import", roll, "--json").json()["unchanged"]["media"] == 4


def test_undated_photos_list_last_and_filter_out_of_date_ranges(vault_env, tmp_path):
    assert vault_env.run("import", _roll(tmp_path)).code == 0
    listed = [r["filename"] for r in vault_env.records("--kind", "media")]
    # Newest first; records without a date come after every dated one.
    assert listed[:2] == ["L_exif_xmp_iptc.heic", "Canon_40D.jpg"]
    assert sorted(listed[2:]) == ["exif-200dpcm.jpg", "hopper.avif"]
    since = [r["filename"] for r in vault_env.records("--kind", "media", "--since", "2000-01-01")]
    assert since == ["L_exif_xmp_iptc.heic", "Canon_40D.jpg"]
    text = vault_env.run("list", "--kind", "media")
    assert text.code == 0 and "hopper.avif" in text.out


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
    for name in ("L_exif_xmp_iptc.heic", "hopper.avif"):
        published = out / "media" / f"{recs[name]['id']}.jpg"
        assert published.exists(), name
        with Image.open(published) as im:
            assert im.format == "JPEG" and im.size == (EXPECTED[name][1], EXPECTED[name][2])
            assert not im.getexif()


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
    (roll / "dated.jpg").write_bytes(jpeg(taken="2020:06:07 08:09:10", offset="-03:30"))
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
    from vault.mediainfo import sniff

    assert sniff(head + b"\x00" * 64, name) == mime if head else sniff(head, name) == mime


def test_sniffing_trusts_content_over_a_wrong_extension():
    from vault.mediainfo import probe

    data = (REAL / "L_exif_xmp_iptc.heic").read_bytes()
    facts = probe(data, "IMG_0001.JPG")
    assert (facts.mime, facts.width, facts.height) == ("image/heic", 64, 64)
    avif = probe((REAL / "hopper.avif").read_bytes(), "hopper.mp4")
    assert avif.mime == "image/avif"


def test_avif_capture_time_and_orientation_from_its_exif():
    # No small public AVIF camera sample carries DateTimeOriginal, so this one is encoded here
    # (Pillow's AVIF writer) with the EXIF a phone writes: a quarter turn and a zoned time.
    from PIL import Image

    from vault.mediainfo import probe

    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8769] = {0x9003: "2024:05:06 07:08:09", 0x9011: "+09:00"}
    buf = io.BytesIO()
    Image.new("RGB", (12, 8), (1, 2, 3)).save(buf, "AVIF", exif=exif.tobytes())
    facts = probe(buf.getvalue(), "PXL_0001.avif")
    assert (facts.mime, facts.width, facts.height) == ("image/avif", 8, 12)
    assert facts.taken_at == datetime(2024, 5, 5, 22, 8, 9, tzinfo=timezone.utc)
