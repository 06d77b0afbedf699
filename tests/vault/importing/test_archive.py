"""Tests for vault.importing.archive: every fixture is built in tmp_path, hostile members included."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import unicodedata
import zipfile
from pathlib import Path
from typing import Iterable, Literal

import pytest

from tests.support.builders import Member, write_zip
from vault.errors import ExitCode, UnsupportedInputError, UsageError, VaultError
from vault.importing.archive import (
    REASON_ABSOLUTE,
    REASON_BOMB,
    REASON_BUDGET,
    REASON_DOTDOT,
    REASON_ENCRYPTED,
    REASON_HARDLINK,
    REASON_METHOD,
    REASON_NUL,
    REASON_SPECIAL,
    REASON_SYMLINK,
    REASON_TOO_LARGE,
    REASON_UNREADABLE,
    ArchiveMemberError,
    Entry,
    ExportSource,
    Limits,
)
from vault.importing.archive.readers import BoundedReader

MiB = 2**20

# ---------------------------------------------------------------------------------------------
# Fixture builders
# ---------------------------------------------------------------------------------------------

def tar_file(name: str, data: bytes, mtime: int = 1_700_000_000) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    return info, data


def tar_special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, b""


def write_tar(path: Path, members: Iterable[tuple[tarfile.TarInfo, bytes]],
              mode: Literal["w", "w:gz"] = "w:gz") -> Path:
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def patch_bytes(path: Path, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` (same length) everywhere in the file: local and central headers."""
    assert len(old) == len(new)
    raw = path.read_bytes()
    assert old in raw
    path.write_bytes(raw.replace(old, new))


def patch_central_directory(path: Path, offset: int, value: int) -> None:
    """Overwrite a 2-byte field of the first central directory record (offset from its signature)."""
    raw = bytearray(path.read_bytes())
    at = raw.rindex(b"PK\x01\x02")
    raw[at + offset: at + offset + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(raw))


def reasons(source: ExportSource) -> dict[str, str]:
    return {p.path: p.reason for p in source.problems}


def paths(source: ExportSource) -> list[str]:
    return [e.path for e in source.entries]


def read(entry: Entry | None) -> bytes:
    assert entry is not None
    with entry.open() as fh:
        return fh.read()


# ---------------------------------------------------------------------------------------------
# Kinds of input
# ---------------------------------------------------------------------------------------------


def test_zip_entries_sizes_fingerprints_and_reading(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "export.zip", [("posts/1.json", b'{"a": 1}'), ("media/p.jpg", b"\xff\xd8jpeg"),
                                                ("posts/", b"")])
    with ExportSource([zpath]) as src:
        assert [(p.kind, p.name, p.path) for p in src.parts] == [("zip", "export.zip", zpath)]
        assert paths(src) == ["posts/1.json", "media/p.jpg"]  # archive order; the folder is no entry
        entry = src.get("posts/1.json")
        assert entry is not None and entry.size == 8 and entry.rel == entry.path
        crc = zipfile.ZipFile(zpath).getinfo("posts/1.json").CRC
        assert entry.fingerprint == f"zip:{crc:08x}:8"
        assert read(entry) == b'{"a": 1}'
        assert entry.read_bytes() == b'{"a": 1}'
        assert src.problems == [] and src.display_name == "export.zip"


def test_a_zip_listing_is_not_kept_a_member_costs_a_few_hundred_bytes(tmp_path: Path) -> None:
    # A lifetime export lists hundreds of thousands of members, and the import keeps their
    # entries to the end: zipfile's listing (a ZipInfo per member) once took 1.5 kB of each.
    import gc
    import tracemalloc

    n = 4000
    zpath = tmp_path / "big.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for i in range(n):
            zf.writestr(f"your_facebook_activity/posts/media/album_{i % 40}/photo_{i:06d}.jpg", b"x")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        src = ExportSource([zpath])
        gc.collect()
        kept = (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()
    with src:
        assert len(src.entries) == n
        assert kept < 800, f"{kept:.0f} bytes kept per member"
        # Members still open, and from the zip as it is now: one rewritten under the same
        # name is noticed by its local header, not read from a stale listing.
        assert read(src.entries[17]) == b"x"
        assert src.entries[17].fingerprint == f"zip:{zipfile.crc32(b'x'):08x}:1"


def test_a_zip_member_whose_local_header_changed_since_the_listing_is_refused(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "export.zip", [("a.json", b"[1]"), ("b.json", b"[2]")])
    with ExportSource([zpath]) as src:
        data = bytearray(zpath.read_bytes())
        at = data.index(b"b.json")  # the second member's local header name comes first
        data[at:at + 6] = b"c.json"
        zpath.write_bytes(bytes(data))
        with pytest.raises(ArchiveMemberError, match="b.json"):
            read(src.get("b.json"))
        assert read(src.get("a.json")) == b"[1]"


def test_tar_gz_members_are_streamed_and_reopenable(tmp_path: Path) -> None:
    tpath = write_tar(tmp_path / "mastodon.tar.gz", [tar_file("outbox.json", b"x" * 5000),
                                                     tar_file("media/a.png", b"png-bytes", mtime=1234)])
    with ExportSource([tpath]) as src:
        assert src.parts[0].kind == "tar"
        media = src.get("media/a.png")
        assert media is not None and media.fingerprint == "tar:9:1234" and media.size == 9
        outbox = src.get("outbox.json")
        # Open both, read in reverse archive order and twice: random access must stay correct.
        assert read(media) == b"png-bytes"
        assert read(outbox) == b"x" * 5000
        assert read(media) == b"png-bytes"
        assert outbox is not None
        with outbox.open() as first, outbox.open() as second:
            assert first.read(10) == b"x" * 10 and second.read(5000) == b"x" * 5000


def test_plain_tar(tmp_path: Path) -> None:
    tpath = write_tar(tmp_path / "export.tar", [tar_file("a/b.txt", b"hello")], mode="w")
    with ExportSource([tpath]) as src:
        assert src.parts[0].kind == "tar" and paths(src) == ["a/b.txt"]
        assert read(src.get("b.txt")) == b"hello"


def test_folder_input(tmp_path: Path) -> None:
    root = tmp_path / "twitter-2024"
    (root / "data" / "media").mkdir(parents=True)
    (root / "data" / "tweets.js").write_bytes(b"window.x = []")
    (root / "data" / "media" / "1.jpg").write_bytes(b"jpg")
    (root / "Your archive.html").write_bytes(b"<html>")
    (root / "empty").mkdir()
    with ExportSource([root]) as src:
        assert src.parts[0].kind == "dir" and src.parts[0].wrapper is None
        assert paths(src) == ["Your archive.html", "data/media/1.jpg", "data/tweets.js"]  # sorted, depth first
        entry = src.get("data/tweets.js")
        assert entry is not None
        st = (root / "data" / "tweets.js").stat()
        assert entry.fingerprint == f"file:{st.st_size}:{st.st_mtime_ns}"
        assert read(entry) == b"window.x = []"


def test_bare_json_file(tmp_path: Path) -> None:
    fpath = tmp_path / "feedback.json"
    fpath.write_bytes(b'[{"stars": 5}]')
    with ExportSource([str(fpath)]) as src:
        (entry,) = src.entries
        assert src.parts[0].kind == "file" and src.parts[0].wrapper is None
        assert entry.path == entry.rel == "feedback.json"
        assert entry.fingerprint.startswith("file:14:")
        assert entry.read_bytes() == b'[{"stars": 5}]'


def test_empty_zip(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "empty.zip", [])
    assert zpath.read_bytes().startswith(b"PK\x05\x06")
    with ExportSource([zpath]) as src:
        assert src.parts[0].kind == "zip" and src.entries == [] and src.parts[0].wrapper is None


# ---------------------------------------------------------------------------------------------
# Detection by content
# ---------------------------------------------------------------------------------------------


def test_zip_named_json_is_a_zip(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "posts.json", [("inner.json", b"{}")])
    with ExportSource([zpath]) as src:
        assert src.parts[0].kind == "zip" and paths(src) == ["inner.json"]


def test_tar_gz_named_zip_is_a_tar(tmp_path: Path) -> None:
    tpath = write_tar(tmp_path / "archive.zip", [tar_file("outbox.json", b"{}")])
    with ExportSource([tpath]) as src:
        assert src.parts[0].kind == "tar" and paths(src) == ["outbox.json"]


def test_gzip_that_is_not_a_tar_is_a_bare_file(tmp_path: Path) -> None:
    gpath = tmp_path / "log.tar.gz"
    gpath.write_bytes(gzip.compress(b"just some text, no tar header here\n" * 100))
    with ExportSource([gpath]) as src:
        assert src.parts[0].kind == "file" and paths(src) == ["log.tar.gz"]
        assert src.entries[0].read_bytes()[:2] == b"\x1f\x8b"  # the raw file, not decompressed


def test_text_named_zip_is_a_bare_file(tmp_path: Path) -> None:
    fpath = tmp_path / "not-really.zip"
    fpath.write_text("name,stars\nx,5\n")
    with ExportSource([fpath]) as src:
        assert src.parts[0].kind == "file"


def test_nonexistent_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or folder") as info:
        ExportSource([tmp_path / "missing.zip"])
    assert info.value.exit_code == ExitCode.USAGE


def test_no_paths_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        ExportSource([])


# ---------------------------------------------------------------------------------------------
# Path safety
# ---------------------------------------------------------------------------------------------

HOSTILE_ZIP_NAMES = {
    "../evil.txt": REASON_DOTDOT,
    "a/../../b.txt": REASON_DOTDOT,
    "..\\win\\evil.txt": REASON_DOTDOT,
    "/etc/passwd": REASON_ABSOLUTE,
    "C:\\Windows\\x.txt": REASON_ABSOLUTE,
    "C:/x.txt": REASON_ABSOLUTE,
    "//server/share.txt": REASON_ABSOLUTE,
    "\\\\server\\share.txt": REASON_ABSOLUTE,
}


def test_unsafe_zip_members_are_refused_and_reported(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("data/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    fifo = zipfile.ZipInfo("data/fifo")
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    members: list[Member] = [(name, b"pwned") for name in HOSTILE_ZIP_NAMES]
    members += [(link, b"/etc/shadow"), (fifo, b""), ("data/ok.json", b"{}"),
                ("data\\win.txt", b"w"), ("./data/./lead.txt", b"l")]
    with ExportSource([write_zip(tmp_path / "x.zip", members)]) as src:
        assert paths(src) == ["data/ok.json", "data/win.txt", "data/lead.txt"]
        assert reasons(src) == {**HOSTILE_ZIP_NAMES, "data/link": REASON_SYMLINK, "data/fifo": REASON_SPECIAL}
        assert all(e.path not in HOSTILE_ZIP_NAMES for e in src.entries)


def test_zip_name_with_nul_is_refused(tmp_path: Path) -> None:
    # zipfile cuts names at NUL when writing, so patch the bytes: "photo.jpg\0.exe" tricks.
    zpath = write_zip(tmp_path / "x.zip", [("safe.jpgX.exe", b"MZ"), ("ok.txt", b"ok")])
    patch_bytes(zpath, b"safe.jpgX.exe", b"safe.jpg\x00.exe")
    with ExportSource([zpath]) as src:
        assert paths(src) == ["ok.txt"]
        assert reasons(src) == {"safe.jpg\\x00.exe": REASON_NUL}  # escaped for display


@pytest.mark.parametrize(
    ("offset", "value", "reason"),
    [(8, 0x1, REASON_ENCRYPTED), (10, 99, REASON_METHOD)],  # flag bits; compression method
    ids=["encrypted", "unknown-method"],
)
def test_zip_members_zipfile_cannot_read_are_refused(tmp_path: Path, offset: int, value: int, reason: str) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("ok.txt", b"ok"), ("secret.txt", b"s")], compression=zipfile.ZIP_STORED)
    patch_central_directory(zpath, offset, value)  # the last record is secret.txt
    with ExportSource([zpath]) as src:
        assert paths(src) == ["ok.txt"] and reasons(src) == {"secret.txt": reason}


def test_unsafe_tar_members_are_refused_and_reported(tmp_path: Path) -> None:
    nul = tarfile.TarInfo("placeholder")
    nul.pax_headers = {"path": "x/a\x00b.txt"}  # a pax path can carry a NUL; a ustar name cannot
    nul.size = 1
    members = [
        tar_file("x/ok.json", b"{}"),
        tar_file("../escape.txt", b"e"),
        tar_file("/etc/passwd", b"root"),
        (nul, b"n"),
        tar_special("x/sym", tarfile.SYMTYPE, "/etc/shadow"),
        tar_special("x/hard", tarfile.LNKTYPE, "x/ok.json"),
        tar_special("x/fifo", tarfile.FIFOTYPE),
        tar_special("x/tty", tarfile.CHRTYPE),
        tar_special("x/dir", tarfile.DIRTYPE),
    ]
    with ExportSource([write_tar(tmp_path / "t.tar.gz", members)]) as src:
        assert paths(src) == ["x/ok.json"]
        assert reasons(src) == {
            "../escape.txt": REASON_DOTDOT, "/etc/passwd": REASON_ABSOLUTE, "x/a\\x00b.txt": REASON_NUL,
            "x/sym": REASON_SYMLINK, "x/hard": REASON_HARDLINK, "x/fifo": REASON_SPECIAL, "x/tty": REASON_SPECIAL,
        }


def test_tar_root_directory_entry_is_not_a_problem(tmp_path: Path) -> None:
    tpath = write_tar(tmp_path / "t.tgz", [tar_special("./", tarfile.DIRTYPE), tar_file("./a.json", b"{}")])
    with ExportSource([tpath]) as src:
        assert paths(src) == ["a.json"] and src.problems == []


@pytest.mark.skipif(not hasattr(os, "symlink") or not hasattr(os, "mkfifo"), reason="needs POSIX links and FIFOs")
def test_folder_symlinks_and_fifos_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    (secret / "keys").mkdir(parents=True)
    (secret / "keys" / "id").write_bytes(b"private")
    root = tmp_path / "export"
    root.mkdir()
    (root / "ok.txt").write_bytes(b"ok")
    os.symlink(secret / "keys" / "id", root / "file-link")
    os.symlink(secret / "keys", root / "dir-link")
    os.mkfifo(root / "pipe")
    with ExportSource([root]) as src:
        assert paths(src) == ["ok.txt"]
        assert reasons(src) == {"file-link": REASON_SYMLINK, "dir-link": REASON_SYMLINK, "pipe": REASON_SPECIAL}


def test_unreadable_file_in_folder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "export"
    root.mkdir()
    (root / "ok.txt").write_bytes(b"ok")
    (root / "locked.txt").write_bytes(b"no")
    real_access = os.access
    # chmod 0 does not stop root (tests may run as root), so simulate the permission check.
    monkeypatch.setattr(os, "access", lambda p, mode: not str(p).endswith("locked.txt") and real_access(p, mode))
    with ExportSource([root]) as src:
        assert paths(src) == ["ok.txt"] and reasons(src) == {"locked.txt": REASON_UNREADABLE}


# ---------------------------------------------------------------------------------------------
# Names: encoding and normalization
# ---------------------------------------------------------------------------------------------


def test_utf8_name_without_flag_is_recovered(tmp_path: Path) -> None:
    # zipfile sets the UTF-8 flag for any non-ASCII name, so write an ASCII placeholder of the
    # same byte length and patch in the raw UTF-8 bytes: UTF-8 bytes, flag clear.
    utf8 = "fotos/café.jpg".encode()
    placeholder = b"fotos/cafXX.jpg"
    zpath = write_zip(tmp_path / "x.zip", [(placeholder.decode(), b"jpg")])
    patch_bytes(zpath, placeholder, utf8)
    assert not zipfile.ZipFile(zpath).infolist()[0].flag_bits & 0x800
    assert zipfile.ZipFile(zpath).namelist() == [utf8.decode("cp437")]  # what zipfile alone gives
    with ExportSource([zpath]) as src:
        assert paths(src) == ["fotos/café.jpg"]
        assert read(src.get("fotos/café.jpg")) == b"jpg"


def test_real_cp437_name_is_kept(tmp_path: Path) -> None:
    # "é" in cp437 is byte 0x82, which is not valid UTF-8: the cp437 reading must stand.
    zpath = write_zip(tmp_path / "x.zip", [("cafX.txt", b"t")])
    patch_bytes(zpath, b"cafX.txt", b"caf\x82.txt")
    with ExportSource([zpath]) as src:
        assert paths(src) == ["café.txt"]


def test_nfd_names_become_nfc(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "Fotos/Öl-Gemälde.jpg")
    nfc = unicodedata.normalize("NFC", nfd)
    assert nfd != nfc
    with ExportSource([write_zip(tmp_path / "mac.zip", [(nfd, b"img")])]) as src:
        assert paths(src) == [nfc]
        assert src.get(nfd) is src.get(nfc) is src.entries[0]
        assert src.by_name(unicodedata.normalize("NFD", "Öl-Gemälde.jpg")) == src.entries


# ---------------------------------------------------------------------------------------------
# Wrapper folder and lookups
# ---------------------------------------------------------------------------------------------


def test_single_top_folder_is_stripped(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("facebook-jana/posts/1.json", b"1"), ("facebook-jana/index.html", b"i")])
    with ExportSource([zpath]) as src:
        assert src.parts[0].wrapper == "facebook-jana"
        assert [e.rel for e in src.entries] == ["posts/1.json", "index.html"]
        assert src.get("posts/1.json") is src.get("facebook-jana/posts/1.json") is src.entries[0]


def test_two_top_folders_are_not_stripped(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("a/1.json", b"1"), ("b/2.json", b"2")])
    with ExportSource([zpath]) as src:
        assert src.parts[0].wrapper is None
        assert [e.rel for e in src.entries] == ["a/1.json", "b/2.json"]


def test_top_level_file_prevents_stripping(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("a/1.json", b"1"), ("readme.txt", b"r")])
    with ExportSource([zpath]) as src:
        assert src.parts[0].wrapper is None


def test_get_glob_and_by_name(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("w/posts/1.json", b"1"), ("w/posts/deep/2.json", b"2"),
                                           ("w/media/1.json", b"m"), ("w/media/a.JPG", b"j")])
    with ExportSource([zpath]) as src:
        assert src.get(".\\posts\\1.json") is src.get("./posts//1.json") is src.entries[0]
        assert src.get("posts/missing.json") is None
        assert [e.rel for e in src.glob("posts/*.json")] == ["posts/1.json", "posts/deep/2.json"]  # "*" crosses "/"
        assert [e.rel for e in src.glob("w/media/*")] == ["media/1.json", "media/a.JPG"]  # matches path too
        assert src.glob("*.jpg") == []  # case-sensitive
        asked = ["1.json", "1.JSON", "2.json", "a.JPG", "deep/2.json", "json", "", "w"]
        scanned = [[e.rel for e in src.by_name(name)] for name in asked]
        assert src._by_name is None  # a few questions: answered by looking through the entries
        for _ in range(8):
            src.by_name("x")
        assert src._by_name is not None  # asked often: an index of the names
        assert [[e.rel for e in src.by_name(name)] for name in asked] == scanned == [
            ["posts/1.json", "media/1.json"], [], ["posts/deep/2.json"], ["media/a.JPG"], [], [], [], []]


# ---------------------------------------------------------------------------------------------
# Multi-part exports
# ---------------------------------------------------------------------------------------------


def test_multipart_merge_dedupes_identical_and_keeps_differing(tmp_path: Path) -> None:
    part1 = write_zip(tmp_path / "facebook-jana-1.zip", [
        ("facebook-jana-1/posts/your_posts_1.json", b'{"uri": "media/p2.jpg"}'),
        ("facebook-jana-1/media/p1.jpg", b"one"),
        ("facebook-jana-1/index.html", b"same-index"),
        ("facebook-jana-1/profile.json", b"short"),
    ])
    part2 = write_zip(tmp_path / "facebook-jana-2.zip", [
        ("facebook-jana-2/media/p2.jpg", b"two"),
        ("facebook-jana-2/index.html", b"same-index"),
        ("facebook-jana-2/profile.json", b"longer content"),
    ])
    with ExportSource([part1, part2]) as src:
        assert [p.wrapper for p in src.parts] == ["facebook-jana-1", "facebook-jana-2"]
        assert [(e.part.name, e.rel) for e in src.entries] == [
            ("facebook-jana-1.zip", "posts/your_posts_1.json"),
            ("facebook-jana-1.zip", "media/p1.jpg"),
            ("facebook-jana-1.zip", "index.html"),
            ("facebook-jana-1.zip", "profile.json"),
            ("facebook-jana-2.zip", "media/p2.jpg"),
            ("facebook-jana-2.zip", "profile.json"),  # different size: both kept
        ]
        assert read(src.get("media/p2.jpg")) == b"two"  # referenced from part 1, stored in part 2
        assert read(src.get("profile.json")) == b"short"  # the first wins
        assert src.display_name == "facebook-jana-1.zip (+1 part)"


def test_multipart_with_mixed_kinds(tmp_path: Path) -> None:
    folder = tmp_path / "unpacked"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"a")
    bare = tmp_path / "b.json"
    bare.write_bytes(b"{}")
    zpath = write_zip(tmp_path / "c.zip", [("c.txt", b"c")])
    with ExportSource([folder, bare, zpath]) as src:
        assert [p.kind for p in src.parts] == ["dir", "file", "zip"]
        assert paths(src) == ["a.txt", "b.json", "c.txt"]
        assert src.display_name == "unpacked (+2 parts)"


# ---------------------------------------------------------------------------------------------
# Size limits and bombs
# ---------------------------------------------------------------------------------------------


def test_zip_bomb_refused_with_low_limits(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("bomb.bin", bytes(2 * MiB)), ("ok.txt", b"ok"),
                                           ("small-zeros.bin", bytes(MiB // 2))])  # within the allowance
    with ExportSource([zpath], Limits(ratio_allowance=MiB, max_ratio=50)) as src:
        assert paths(src) == ["ok.txt", "small-zeros.bin"]
        assert reasons(src) == {"bomb.bin": REASON_BOMB}


def test_default_limits_refuse_a_highly_compressed_member(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("zeros.bin", bytes(17 * MiB)), ("ok.txt", b"ok")])
    info = zipfile.ZipFile(zpath).getinfo("zeros.bin")
    assert info.file_size / info.compress_size > 200  # ~1000 for zeros
    with ExportSource([zpath]) as src:
        assert paths(src) == ["ok.txt"] and reasons(src) == {"zeros.bin": REASON_BOMB}


def test_member_too_large_is_refused(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("big.bin", b"x" * 2000), ("ok.txt", b"ok")])
    with ExportSource([zpath], Limits(max_member_size=1000)) as src:
        assert paths(src) == ["ok.txt"] and reasons(src) == {"big.bin": REASON_TOO_LARGE}


def test_total_size_limit_refuses_the_members_over_it(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("a.bin", b"a" * 600), ("b.bin", b"b" * 600), ("c.bin", b"c" * 300)])
    with ExportSource([zpath], Limits(max_total_size=1000)) as src:
        assert paths(src) == ["a.bin", "c.bin"] and reasons(src) == {"b.bin": REASON_BUDGET}


def test_total_size_limit_spans_parts(tmp_path: Path) -> None:
    one = write_zip(tmp_path / "1.zip", [("a.bin", b"a" * 600)])
    two = write_tar(tmp_path / "2.tgz", [tar_file("b.bin", b"b" * 600)])
    with ExportSource([one, two], Limits(max_total_size=1000)) as src:
        assert paths(src) == ["a.bin"] and reasons(src) == {"b.bin": REASON_BUDGET}


def test_member_count_limit_refuses_the_part(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [(f"{i}.txt", b"") for i in range(6)])
    with ExportSource([zpath], Limits(max_members=5)) as src:
        assert src.entries == []
        assert [p.path for p in src.problems] == ["x.zip"]
        assert "more than 5 files" in src.problems[0].reason


# ---------------------------------------------------------------------------------------------
# Damaged archives and members
# ---------------------------------------------------------------------------------------------


def test_truncated_zip_raises_unsupported_input(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [(f"m{i}.txt", os.urandom(2000)) for i in range(5)])
    raw = zpath.read_bytes()
    zpath.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UnsupportedInputError, match="truncated or corrupt") as info:
        ExportSource([zpath])
    assert info.value.hint is not None and "download" in info.value.hint
    assert info.value.exit_code == ExitCode.UNSUPPORTED_INPUT


def test_truncated_tar_gz_raises_unsupported_input(tmp_path: Path) -> None:
    tpath = write_tar(tmp_path / "x.tar.gz", [tar_file(f"m{i}.bin", os.urandom(4000)) for i in range(5)])
    raw = tpath.read_bytes()
    tpath.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UnsupportedInputError, match="truncated or corrupt"):
        ExportSource([tpath])


def test_truncated_plain_tar_raises_unsupported_input(tmp_path: Path) -> None:
    tpath = write_tar(tmp_path / "x.tar", [tar_file("a.bin", b"a" * 5000), tar_file("b.bin", b"b" * 5000)], mode="w")
    raw = tpath.read_bytes()
    tpath.write_bytes(raw[:8000])  # inside b.bin's data
    with pytest.raises(UnsupportedInputError, match="truncated or corrupt"):
        ExportSource([tpath])


def test_failed_part_closes_earlier_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = write_tar(tmp_path / "1.tar.gz", [tar_file("a.txt", b"a")])
    bad = tmp_path / "2.zip"
    bad.write_bytes(b"PK\x03\x04 garbage")
    closed: list[str] = []
    real_close = tarfile.TarFile.close

    def recording_close(self: tarfile.TarFile) -> None:
        closed.append(str(self.name))
        real_close(self)

    monkeypatch.setattr(tarfile.TarFile, "close", recording_close)
    with pytest.raises(UnsupportedInputError, match="2.zip"):
        ExportSource([good, bad])
    assert str(good) in closed


def test_a_zip_part_holds_no_open_file(tmp_path: Path) -> None:
    # Its members open the zip when they are read; nothing stays open between reads.
    zpath = write_zip(tmp_path / "export.zip", [("a.txt", b"a"), ("b.txt", b"b")])
    before = len(os.listdir("/proc/self/fd"))
    with ExportSource([zpath]) as src:
        assert len(os.listdir("/proc/self/fd")) == before
        assert read(src.entries[1]) == b"b"
        assert len(os.listdir("/proc/self/fd")) == before


def _corrupt_member_data(zpath: Path, name: str) -> None:
    with zipfile.ZipFile(zpath) as zf:
        info = zf.getinfo(name)
    raw = bytearray(zpath.read_bytes())
    # Local header: 30 fixed bytes, then the name and extra field (lengths at offsets 26 and 28).
    start = info.header_offset + 30 + int.from_bytes(raw[info.header_offset + 26: info.header_offset + 28], "little") \
        + int.from_bytes(raw[info.header_offset + 28: info.header_offset + 30], "little")
    middle = start + info.compress_size // 2
    for i in range(middle, middle + 16):
        raw[i] ^= 0xFF
    zpath.write_bytes(bytes(raw))


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED], ids=["deflated", "stored-crc"])
def test_corrupt_member_data_raises_archive_member_error(tmp_path: Path, compression: int) -> None:
    text = b"".join(b'{"id": %d, "text": "post number %d"}\n' % (i, i * 7) for i in range(3000))
    zpath = write_zip(tmp_path / "x.zip", [("posts/posts_1.json", text), ("ok.txt", b"ok")], compression=compression)
    _corrupt_member_data(zpath, "posts/posts_1.json")
    with ExportSource([zpath]) as src:
        entry = src.get("posts/posts_1.json")
        assert entry is not None
        with pytest.raises(ArchiveMemberError, match="posts/posts_1.json") as info:
            with entry.open() as fh:
                while fh.read(4096):
                    pass
        assert info.value.member == "posts/posts_1.json"
        assert isinstance(info.value, VaultError) and info.value.exit_code == ExitCode.UNEXPECTED
        assert read(src.get("ok.txt")) == b"ok"  # one damaged member does not spoil the rest


def test_tar_member_cut_short_raises_archive_member_error(tmp_path: Path) -> None:
    tpath = write_tar(tmp_path / "x.tar", [tar_file("a.txt", b"a"), tar_file("big.bin", b"b" * 20_000)], mode="w")
    with ExportSource([tpath]) as src:
        entry = src.get("big.bin")
        assert entry is not None
        with tpath.open("r+b") as fh:  # the file shrinks on disk while the import runs
            fh.truncate(5000)
        with pytest.raises(ArchiveMemberError, match="big.bin"):
            entry.read_bytes()
        assert read(src.get("a.txt")) == b"a"


def test_tar_gz_cut_short_after_listing_raises_archive_member_error(tmp_path: Path) -> None:
    # (Flipped bytes inside a deflate stream often decode to wrong data without any error, and
    # gzip's CRC is only checked at the very end, so truncation is the deterministic damage.)
    text = b"".join(b"line %d of the outbox, with some words\n" % i for i in range(20_000))
    tpath = write_tar(tmp_path / "x.tgz", [tar_file("a.txt", b"a"), tar_file("outbox.json", text)])
    with ExportSource([tpath]) as src:
        entry = src.get("outbox.json")
        assert entry is not None
        with tpath.open("r+b") as fh:
            fh.truncate(tpath.stat().st_size // 2)
        with pytest.raises(ArchiveMemberError, match="outbox.json") as info:
            entry.read_bytes()
        assert isinstance(info.value.__cause__, EOFError)


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------


def test_reader_never_yields_more_than_declared() -> None:
    reader = BoundedReader(io.BytesIO(b"0123456789"), "'x' in y.zip", "x", 4)
    assert reader.read(3) == b"012"
    assert reader.read(100) == b"3"  # capped at the declared size
    with pytest.raises(ArchiveMemberError, match="more data than its declared size"):
        reader.read(1)


def test_reader_readall_rejects_overflow_and_truncation() -> None:
    with pytest.raises(ArchiveMemberError, match="declared size"):
        BoundedReader(io.BytesIO(b"0123456789"), "'x'", "x", 4).read()
    with pytest.raises(ArchiveMemberError, match="truncated"):
        BoundedReader(io.BytesIO(b"01"), "'x'", "x", 4).read()
    assert BoundedReader(io.BytesIO(b"0123"), "'x'", "x", 4).read() == b"0123"


def test_file_that_grew_after_listing_is_not_read_past_its_size(tmp_path: Path) -> None:
    root = tmp_path / "export"
    root.mkdir()
    grow = root / "grow.txt"
    grow.write_bytes(b"12345")
    with ExportSource([root]) as src:
        with grow.open("ab") as fh:
            fh.write(b"-and-more")
        entry = src.get("grow.txt")
        assert entry is not None
        with entry.open() as reader:
            assert reader.read(5) == b"12345"
            with pytest.raises(ArchiveMemberError, match="declared size"):
                reader.read()


def test_reader_supports_readinto_readline_and_context_manager(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("a.csv", b"h1,h2\n1,2\n3,4\n")])
    with ExportSource([zpath]) as src:
        entry = src.entries[0]
        with entry.open() as fh:
            assert isinstance(fh, io.BufferedIOBase)  # so readinto/peek/read1 are there too
            assert fh.readline() == b"h1,h2\n"
            buf = bytearray(4)
            assert fh.readinto(buf) == 4 and bytes(buf) == b"1,2\n"
            assert fh.read() == b"3,4\n"
        assert fh.closed


def test_read_bytes_limit(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("a.bin", b"x" * 100)])
    with ExportSource([zpath]) as src:
        entry = src.entries[0]
        assert entry.read_bytes(limit=100) == b"x" * 100
        with pytest.raises(ArchiveMemberError, match="a.bin"):
            entry.read_bytes(limit=99)


def test_fingerprints_differ_when_content_differs(tmp_path: Path) -> None:
    one = write_zip(tmp_path / "1.zip", [("a.txt", b"aaaa")])
    two = write_zip(tmp_path / "2.zip", [("a.txt", b"aaab")])  # same size, other bytes
    with ExportSource([one]) as a, ExportSource([two]) as b:
        assert a.entries[0].fingerprint != b.entries[0].fingerprint
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"aaaa")
    with ExportSource([folder]) as before:
        first = before.entries[0].fingerprint
    (folder / "a.txt").write_bytes(b"aaaa-changed")
    with ExportSource([folder]) as after:
        assert after.entries[0].fingerprint != first


def test_closed_source_refuses_to_open(tmp_path: Path) -> None:
    zpath = write_zip(tmp_path / "x.zip", [("a.txt", b"a")])
    src = ExportSource([zpath])
    entry = src.entries[0]
    src.close()
    src.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        entry.open()
