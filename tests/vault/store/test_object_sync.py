"""How a batch of objects written in the background is made durable: a few are synced one by
one, with the folders that name them (not the whole file system, which would also wait for
everything else written to it); many, with one file system sync."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from vault.store import files, objects
from vault.store.objects import BackgroundWriter, ObjectStore


@pytest.fixture
def synced(monkeypatch):
    """What was synced: the paths given to fsync, and the file system syncs."""
    seen: dict[str, list] = {"fsync": [], "syncfs": []}
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        seen["fsync"].append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(objects, "sync_filesystem", lambda path: seen["syncfs"].append(str(path)))
    return seen


def _store(tmp_path: Path) -> ObjectStore:
    (tmp_path / "tmp").mkdir()
    return ObjectStore(tmp_path / "objects", tmp_path / "tmp")


def _write(store: ObjectStore, count: int) -> list[tuple[str, str]]:
    writer = BackgroundWriter(store)
    try:
        for i in range(count):
            writer.submit(f"{i:02x}{i:02x}" + "ab" * 30, b"cipher %d" % i)
        return writer.drain()
    finally:
        writer.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name the synced files")
def test_a_few_objects_are_synced_each_with_their_new_folders(tmp_path: Path, synced):
    store = _store(tmp_path)
    done = _write(store, 3)
    assert len(done) == 3 and synced["syncfs"] == []
    root = store.root.resolve()
    files_synced = {p for p in synced["fsync"] if os.path.isfile(p)}
    assert files_synced == {str((tmp_path / rel).resolve()) for rel, _ in done}
    # Each object's folder, the folder above it and objects/ itself: their entries may be new.
    folders = {p for p in synced["fsync"] if os.path.isdir(p)}
    for rel, _ in done:
        leaf = (tmp_path / rel).resolve().parent
        assert {str(leaf), str(leaf.parent), str(root)} <= folders
    # ... and tmp/, which held their temporary names; nothing else.
    assert folders - {str(store.tmpdir.resolve())} == {p for p in folders if p.startswith(str(root))}
    assert str(store.tmpdir.resolve()) in folders
    assert len(synced["fsync"]) == len(files_synced) + len(folders)  # each folder once


def test_many_objects_are_synced_with_one_file_system_sync(tmp_path: Path, synced):
    store = _store(tmp_path)
    done = _write(store, objects.SYNC_EACH_UP_TO + 1)
    assert len(done) == objects.SYNC_EACH_UP_TO + 1
    assert synced["syncfs"] == [str(store.root)] and synced["fsync"] == []


def test_a_failed_sync_is_a_storage_error(tmp_path: Path, monkeypatch):
    store = _store(tmp_path)

    def fail(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files.os, "fsync", fail)
    with pytest.raises(objects.StorageError) as caught:
        _write(store, 1)
    assert "Input/output error" in str(caught.value)


def test_folders_made_for_objects_are_0700_at_every_level_whatever_the_umask(tmp_path: Path):
    """``objects/ab/cd``: both levels private, also when the process umask would give 0755 (the
    CLI sets 077; the library does not rely on it), by a writer in another process too."""
    old = os.umask(0o022)
    try:
        store = ObjectStore(tmp_path / "objects", tmp_path / "tmp")
        (tmp_path / "tmp").mkdir()
        oid = "ab" + "cd" + "ef" * 30
        tmp = tmp_path / "tmp" / "x.obj.tmp"
        tmp.write_bytes(b"cipher")
        assert files.commit_exclusive(str(tmp), store.file(oid))
        files.make_folders(str(tmp_path / "objects" / "ab" / "cd"))  # there already: fine
    finally:
        os.umask(old)
    for folder in (tmp_path / "objects", tmp_path / "objects" / "ab", tmp_path / "objects" / "ab" / "cd"):
        assert (folder.stat().st_mode & 0o777) == 0o700, folder
    assert store.path(oid).read_bytes() == b"cipher"
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(FileExistsError):
        files.make_folders(str(tmp_path / "plain"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_a_file_system_sync_is_one_syncfs_call_and_starts_no_process(tmp_path: Path, monkeypatch):
    """An import syncs every second: looking ``syncfs`` up must not run ``ldconfig`` in a child
    (``ctypes.util.find_library`` did, forking the importer each time), nor fall back to a
    ``sync`` of every file system."""
    import subprocess

    def no_process(*args, **kwargs):
        raise AssertionError(f"a process was started: {args[:1]}")

    fell_back: list[bool] = []
    files._libc_syncfs.cache_clear()  # looked up again, under this test's eyes
    monkeypatch.setattr(subprocess.Popen, "__init__", no_process)
    monkeypatch.setattr(files.os, "sync", lambda: fell_back.append(True))
    for _ in range(3):
        files.sync_filesystem(tmp_path)
    assert fell_back == [] and callable(files._libc_syncfs())
