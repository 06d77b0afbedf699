"""The streaming reader of a zip's central directory, judged by zipfile: on every archive here
both must list the same members with the same fields, zip64 structures and prepended stubs
included, and a damaged directory must be refused."""

from __future__ import annotations

import stat
import struct
import zipfile
from pathlib import Path

import pytest

from vault.importing.archive import ExportSource
from vault.importing.archive.ziplisting import ZipListingError, read_records, zip_member_count


def _zipfile_view(path: Path) -> list[tuple]:
    with zipfile.ZipFile(path) as zf:
        return [(i.orig_filename, i.flag_bits, i.compress_type, i.CRC, i.compress_size, i.file_size,
                 i.header_offset, i.external_attr >> 16) for i in zf.infolist()]


def _our_view(path: Path) -> list[tuple]:
    return [(r.name, r.flags, r.method, r.crc, r.stored, r.size, r.offset, r.mode_bits)
            for r in read_records(str(path))]


def _varied(path: Path, comment: bytes = b"") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("posts/1.json", b'{"a": 1}' * 100, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("media/photo.jpg", b"\xff\xd8" + bytes(range(256)) * 8)
        zf.writestr("Ölgemälde/Ünïcode ✓.txt", "ünïcode".encode())
        zf.writestr("media/", b"")
        link = zipfile.ZipInfo("media/link.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, b"/etc/passwd")
        old = zipfile.ZipInfo("caf\x82.txt")  # a code page 437 name (no UTF-8 flag)
        zf.writestr(old, b"cp437")
        with zf.open("streamed.bin", "w") as fh:  # written with a data descriptor
            fh.write(b"x" * 5000)
        zf.comment = comment
    return path


def test_the_same_members_as_zipfile(tmp_path: Path) -> None:
    path = _varied(tmp_path / "a.zip")
    ours = _our_view(path)
    assert ours == _zipfile_view(path)
    assert len(ours) == 7 and zip_member_count(path, 100) == 7


def test_an_archive_comment_that_looks_like_an_end_record(tmp_path: Path) -> None:
    path = _varied(tmp_path / "a.zip", comment=b"made by a tool; " + b"x" * 3000)
    assert _our_view(path) == _zipfile_view(path)


def test_a_prepended_stub_shifts_every_offset(tmp_path: Path) -> None:
    # A self-extracting archive: an executable stub, then the zip (its offsets count from the zip).
    inner = _varied(tmp_path / "inner.zip")
    path = tmp_path / "setup.exe"
    path.write_bytes(b"MZ" + b"\x90" * 4094 + inner.read_bytes())
    ours = _our_view(path)
    assert ours == _zipfile_view(path)
    assert ours[0][6] == 4096
    with ExportSource([path.rename(tmp_path / "setup.zip")]) as src:
        assert src.get("posts/1.json").read_bytes() == b'{"a": 1}' * 100


def test_zip64_records_and_extra_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # zipfile writes zip64 structures past these limits; lowered, a small archive has them all:
    # 64-bit sizes and offsets in each member's extra field, and the zip64 end record.
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1000)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 3)
    path = tmp_path / "z64.zip"
    with zipfile.ZipFile(path, "w", allowZip64=True) as zf:
        for i in range(6):
            zf.writestr(f"media/{i}.bin", bytes([i]) * 1500)
    monkeypatch.undo()
    raw = path.read_bytes()
    assert b"PK\x06\x06" in raw and b"PK\x06\x07" in raw  # the zip64 end record and locator
    ours = _our_view(path)
    assert ours == _zipfile_view(path)
    assert [r[5] for r in ours] == [1500] * 6
    with ExportSource([path]) as src:
        assert [e.read_bytes() for e in src.entries] == [bytes([i]) * 1500 for i in range(6)]


def _central(path: Path) -> tuple[bytearray, int]:
    raw = bytearray(path.read_bytes())
    return raw, raw.index(b"PK\x01\x02")


def test_a_directory_cut_short_or_damaged_is_refused(tmp_path: Path) -> None:
    path = _varied(tmp_path / "a.zip")
    raw, at = _central(path)
    raw[at + 1] = ord("X")  # the first central header's signature
    (tmp_path / "sig.zip").write_bytes(bytes(raw))
    with pytest.raises(ZipListingError, match="signature"):
        list(read_records(str(tmp_path / "sig.zip")))

    raw, at = _central(path)
    struct.pack_into("<H", raw, at + 28, 0xFFFF)  # a name longer than the rest of the file
    (tmp_path / "long.zip").write_bytes(bytes(raw))
    with pytest.raises(ZipListingError):
        list(read_records(str(tmp_path / "long.zip")))

    (tmp_path / "cut.zip").write_bytes(path.read_bytes()[: at + 10])
    with pytest.raises(ZipListingError, match="no end of central directory"):
        list(read_records(str(tmp_path / "cut.zip")))


def test_a_zip64_extra_field_without_the_value_it_stands_for(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.bin", b"a" * 10)
    raw, at = _central(path)
    struct.pack_into("<L", raw, at + 24, 0xFFFFFFFF)  # the size says "in the zip64 field", and there is none
    (tmp_path / "b.zip").write_bytes(bytes(raw))
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:  # zipfile takes it (no zip64 field at all)...
        assert zf.infolist()[0].file_size == 0xFFFFFFFF
    assert _our_view(tmp_path / "b.zip") == _zipfile_view(tmp_path / "b.zip")  # ...and so do we

    with_extra = bytearray(raw)
    name_len = struct.unpack_from("<H", with_extra, at + 28)[0]
    with_extra[at + 46 + name_len:at + 46 + name_len] = struct.pack("<HH", 0x0001, 4) + b"\0" * 4
    struct.pack_into("<H", with_extra, at + 30, 8)  # an extra field of 8 bytes: zip64, 4 of them
    end = with_extra.rindex(b"PK\x05\x06")
    struct.pack_into("<L", with_extra, end + 12, struct.unpack_from("<L", with_extra, end + 12)[0] + 8)
    (tmp_path / "c.zip").write_bytes(bytes(with_extra))
    with pytest.raises(zipfile.BadZipFile, match="zip64"):
        zipfile.ZipFile(tmp_path / "c.zip")
    with pytest.raises(ZipListingError, match="zip64"):
        list(read_records(str(tmp_path / "c.zip")))


def test_random_damage_to_the_directory_is_a_refusal_or_a_skipped_member(tmp_path: Path) -> None:
    # Whatever bytes of the listing (and the end of the data before it) are changed or cut,
    # the export is either refused with the documented error or read, members that do not
    # read whole being each an ArchiveMemberError: never another exception.
    import random

    from vault.errors import UnsupportedInputError
    from vault.importing.archive import ArchiveMemberError

    raw = _varied(tmp_path / "a.zip", comment=b"c").read_bytes()
    start = raw.index(b"PK\x01\x02") - 40
    rng = random.Random(12)
    outcomes = {"refused": 0, "read": 0}
    for i in range(400):
        data = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(start, len(data))] = rng.randrange(256)
        if rng.random() < 0.1:
            data = data[: rng.randrange(start, len(data))]
        path = tmp_path / f"{i}.zip"
        path.write_bytes(bytes(data))
        try:
            with ExportSource([path]) as src:
                for entry in src.entries:
                    try:
                        entry.read_bytes()
                    except ArchiveMemberError:
                        pass
            outcomes["read"] += 1
        except UnsupportedInputError:
            outcomes["refused"] += 1
        path.unlink()
    assert outcomes["refused"] > 50 and outcomes["read"] > 50, outcomes
