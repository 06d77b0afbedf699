"""Objects a big import's workers write around the page cache (``O_DIRECT``): the same files,
with the usual way taken wherever the file system refuses direct I/O, and a full disk reported
as one, with nothing left in ``tmp/``."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import pyrage
import pytest

from vault.errors import StorageError
from vault.keys.secret import Secret
from vault.store import direct
from vault.store.direct import ALIGN, AlignedBuffer, DirectWriter
from vault.store.objects import ObjectStore

pytestmark = pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="no O_DIRECT on this system")

# Empty, shorter than a block, one short, exactly one, one over, and several blocks and a bit.
SIZES = [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, 30 * ALIGN + 123]


@pytest.fixture
def opened(monkeypatch):
    """The flags of every file the writer opened."""
    seen: list[int] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, **kw):
        seen.append(flags)
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(direct.os, "open", spy)
    return seen


def _buffered(data: bytes) -> memoryview:
    view = AlignedBuffer().get(len(data))
    view[:] = data
    return view


@pytest.mark.parametrize("size", SIZES)
def test_the_file_holds_the_bytes_and_is_private(size, tmp_path, opened):
    writer = DirectWriter()
    data = os.urandom(size)
    path = tmp_path / "obj"
    writer.write_new(str(path), _buffered(data))
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Whole blocks went direct, unless this file system refused it (then the writer says so).
    if size < ALIGN:
        assert not opened[-1] & os.O_DIRECT
    elif writer.enabled:
        assert opened[-1] & os.O_DIRECT


def test_an_existing_file_is_never_replaced(tmp_path):
    path = tmp_path / "obj"
    path.write_bytes(b"first")
    with pytest.raises(FileExistsError):
        DirectWriter().write_new(str(path), _buffered(os.urandom(3 * ALIGN)))
    assert path.read_bytes() == b"first"


def test_a_file_system_that_refuses_o_direct_at_open_gets_the_usual_writes(tmp_path, monkeypatch, opened):
    real_open = os.open

    def no_direct(path, flags, mode=0o777, **kw):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(direct.os, "open", no_direct)
    writer = DirectWriter()
    data = os.urandom(5 * ALIGN + 7)
    writer.write_new(str(tmp_path / "a"), _buffered(data))
    writer.write_new(str(tmp_path / "b"), _buffered(data))
    assert (tmp_path / "a").read_bytes() == data == (tmp_path / "b").read_bytes()
    assert writer.enabled is False


def test_a_refused_direct_write_is_done_the_usual_way(tmp_path, monkeypatch):
    real_pwrite = os.pwrite
    refused: list[int] = []

    def pwrite(fd, data, offset):
        import fcntl

        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(direct.os, "pwrite", pwrite)
    writer = DirectWriter()
    data = os.urandom(9 * ALIGN + 100)
    writer.write_new(str(tmp_path / "obj"), _buffered(data))
    assert (tmp_path / "obj").read_bytes() == data
    assert writer.enabled is False and refused in ([], [0])  # [] where the open itself was refused


def _store(tmp_path: Path) -> ObjectStore:
    (tmp_path / "tmp").mkdir()
    return ObjectStore(tmp_path / "objects", tmp_path / "tmp", direct_io=True)


def test_objects_written_direct_decrypt_to_their_content_and_name(tmp_path):
    ident = pyrage.x25519.Identity.generate()
    store = _store(tmp_path)
    wk = os.urandom(32)
    for size in (0, 100, 200_000, 70_000, 3 * ALIGN):  # the scratch buffer reused, and grown
        data = os.urandom(size)
        res = store.put_bytes(data, wk, [str(ident.to_public())], exclusive=True)
        assert res.new and res.object_id == ObjectStore.object_id(wk, data)
        cipher = store.path(res.object_id).read_bytes()
        assert hashlib.sha256(cipher).hexdigest() == res.cipher_sha256
        assert store.read_bytes(res.object_id, Secret(str(ident)), wk) == data
    again = store.put_bytes(data, wk, [str(ident.to_public())], exclusive=True)
    assert not again.new and again.cipher_sha256 is None
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_full_disk_during_a_direct_write_is_a_storage_error_and_leaves_no_temp_file(tmp_path, monkeypatch):
    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(direct.os, "pwrite", full)
    store = _store(tmp_path)
    with pytest.raises(StorageError, match="disk full"):
        store.put_bytes(os.urandom(50_000), os.urandom(32), [str(pyrage.x25519.Identity.generate().to_public())],
                        exclusive=True)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert [p for p in (tmp_path / "objects").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("size", [0, 100, 3 * ALIGN, (1 << 20) * 2 + 5])
def test_a_stream_gathered_in_blocks_holds_every_byte_written(size, tmp_path, opened):
    writer = DirectWriter()
    data = os.urandom(size)
    with writer.stream(str(tmp_path / "obj"), AlignedBuffer().get(64 * ALIGN)) as out:
        for at in range(0, size, 70_001):  # pieces that straddle the blocks and the buffer
            assert out.write(data[at:at + 70_001]) == len(data[at:at + 70_001])
        out.flush()
    assert (tmp_path / "obj").read_bytes() == data
    if writer.enabled:  # else this file system refused O_DIRECT
        assert opened[-1] & os.O_DIRECT


def test_a_stream_whose_direct_writes_are_refused_midway_is_finished_the_usual_way(tmp_path, monkeypatch):
    import fcntl

    real_pwrite = os.pwrite
    direct_writes = []

    def pwrite(fd, data, offset):
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            direct_writes.append(offset)
            if len(direct_writes) > 1:  # the first buffer went direct; then the file system refuses
                raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(direct.os, "pwrite", pwrite)
    writer = DirectWriter()
    data = os.urandom(10 * 16 * ALIGN + 99)
    with writer.stream(str(tmp_path / "obj"), AlignedBuffer().get(16 * ALIGN)) as out:  # halves of 8 blocks
        out.write(data)
    assert (tmp_path / "obj").read_bytes() == data
    # [0, 8 blocks]: the first half went direct, the second was refused.  Fewer where this file
    # system refused O_DIRECT itself, at the open ([]) or at the first write ([0]).
    assert direct_writes in ([], [0], [0, 8 * ALIGN])
    assert writer.enabled is False or not direct_writes


def test_a_stream_that_fails_leaves_what_the_caller_removes_and_a_bad_buffer_is_refused(tmp_path):
    writer = DirectWriter()
    with pytest.raises(RuntimeError):
        with writer.stream(str(tmp_path / "obj"), AlignedBuffer().get(2 * ALIGN)) as out:
            out.write(b"x" * 10)
            raise RuntimeError("the encryption failed")
    assert (tmp_path / "obj").read_bytes() == b""  # the tail is not written after a failure
    with pytest.raises(ValueError, match="two whole numbers of blocks"):
        writer.stream(str(tmp_path / "other"), AlignedBuffer().get(3 * ALIGN))
    assert not (tmp_path / "other").exists()


def test_big_objects_streamed_direct_decrypt_to_their_content(tmp_path):
    import io

    from vault.store import objects

    ident = pyrage.x25519.Identity.generate()
    store = _store(tmp_path)
    wk = os.urandom(32)
    data = os.urandom(objects.SMALL + 3 * objects.STREAM_BLOCK + 12345)
    res = store.put_stream(io.BytesIO(data), wk, [str(ident.to_public())], exclusive=True)
    assert res.new and res.size == len(data) and res.object_id == ObjectStore.object_id(wk, data)
    assert hashlib.sha256(store.path(res.object_id).read_bytes()).hexdigest() == res.cipher_sha256
    assert store.read_bytes(res.object_id, Secret(str(ident)), wk) == data
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_full_disk_under_the_writing_thread_is_raised_to_the_stream_writer(tmp_path, monkeypatch):
    import threading

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(direct.os, "pwrite", full)
    with pytest.raises(OSError) as raised:
        with DirectWriter().stream(str(tmp_path / "obj"), AlignedBuffer().get(4 * ALIGN)) as out:
            for _ in range(10):
                out.write(os.urandom(ALIGN))
    assert raised.value.errno == errno.ENOSPC
    assert not any(t.name.startswith("vault-direct") for t in threading.enumerate())
