"""Objects a big import's workers seal while the last one is still being written
(``ObjectStore.put_bytes_behind`` over ``direct.WriteBehind``): the same files as ``put_bytes``,
each reported once it is on disk, a full disk reported for the object it stopped, and never more
than a few buffers in use whatever the number of objects."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path

import pyrage
import pytest

from vault.errors import StorageError
from vault.keys.secret import Secret
from vault.store import direct
from vault.store.direct import WriteBehind
from vault.store.objects import ObjectStore, PutResult


def _store(tmp_path: Path, direct_io: bool = True) -> ObjectStore:
    (tmp_path / "tmp").mkdir()
    return ObjectStore(tmp_path / "objects", tmp_path / "tmp", direct_io=direct_io)


def test_work_runs_in_order_and_a_buffer_is_taken_again_only_once_its_work_is_done():
    behind = WriteBehind(buffers=2)
    release = threading.Event()
    ran: list[int] = []

    def work(n: int):
        def run() -> None:
            if n == 0:
                release.wait(10)
            ran.append(n)
        return run

    first, second = behind.take(), behind.take()
    behind.hand(first, work(0))  # held up until released
    behind.hand(second, work(1))
    taken: list[object] = []
    waiter = threading.Thread(target=lambda: taken.append(behind.take()))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and taken == []  # both buffers are being written: take() waits
    release.set()
    waiter.join(10)
    assert taken and taken[0] in (first, second)
    behind.give_back(taken[0])  # taken, nothing to write after all
    behind.close()
    assert ran == [0, 1]


def test_an_error_a_work_lets_out_is_raised_by_close_and_the_rest_still_runs():
    behind = WriteBehind(buffers=1)
    ran: list[int] = []

    def boom() -> None:
        raise RuntimeError("a bug in the work")

    behind.hand(behind.take(), boom)
    behind.hand(behind.take(), lambda: ran.append(1))  # the buffer came back after the failure
    with pytest.raises(RuntimeError, match="a bug in the work"):
        behind.close()
    assert ran == [1]
    behind.close()  # closing again, with nothing handed over, does nothing
    assert not any(t.name == "vault-write-behind" for t in threading.enumerate())


@pytest.mark.parametrize("direct_io", [True, False])
def test_objects_written_behind_are_the_objects_put_bytes_writes(direct_io, tmp_path):
    ident = pyrage.x25519.Identity.generate()
    recipients = [str(ident.to_public())]
    store = _store(tmp_path, direct_io)
    wk = os.urandom(32)
    datas = [os.urandom(size) for size in (0, 100, 200_000, 70_000, 3 * 4096, 5_000_000, 10)]
    done: list[PutResult | Exception] = []
    for data in datas:
        store.put_bytes_behind(data, wk, recipients, done.append)
    store.put_bytes_behind(datas[2], wk, recipients, done.append)  # the same bytes again
    store.close()
    assert len(done) == len(datas) + 1 and all(isinstance(res, PutResult) for res in done)
    by_id: dict[str, list[PutResult]] = {}
    for res in done:
        assert isinstance(res, PutResult)
        by_id.setdefault(res.object_id, []).append(res)
    for data in datas:
        found = by_id[ObjectStore.object_id(wk, data)]
        # The same bytes twice: written once, found written the second time (in either order).
        assert len(found) == (2 if data is datas[2] else 1)
        new = [res for res in found if res.new]
        assert len(new) == 1 and all(res.cipher_sha256 is None for res in found if not res.new)
        res = new[0]
        assert res.size == len(data) and res.head == data[:1 << 20]
        assert hashlib.sha256(store.path(res.object_id).read_bytes()).hexdigest() == res.cipher_sha256
        assert store.read_bytes(res.object_id, Secret(str(ident)), wk) == data
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_full_disk_is_the_answer_for_the_object_it_stopped_and_leaves_no_temp_file(tmp_path, monkeypatch):
    real_pwrite = os.pwrite
    writes = 0

    def fills_up(fd, data, offset):
        nonlocal writes
        writes += 1
        if writes > 1:  # the first object's first write fits; nothing after it does
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(direct.os, "pwrite", fills_up)
    monkeypatch.setattr(os, "pwrite", fills_up)
    store = _store(tmp_path)
    recipients = [str(pyrage.x25519.Identity.generate().to_public())]
    done: list[PutResult | Exception] = []
    for _ in range(4):
        store.put_bytes_behind(os.urandom(50_000), os.urandom(32), recipients, done.append)
    store.close()  # the errors were answers, not failures of the writing thread
    assert len(done) == 4
    failed = [res for res in done if isinstance(res, StorageError)]
    assert len(failed) >= 3 and all("disk full" in res.message for res in failed)
    assert list((tmp_path / "tmp").iterdir()) == []
    stored = [res for res in done if isinstance(res, PutResult)]
    assert sorted(p.name for p in (tmp_path / "objects").rglob("*") if p.is_file()) == sorted(r.object_id for r in stored)


def test_memory_stays_at_a_few_buffers_whatever_the_number_of_objects(tmp_path, monkeypatch):
    made: list[int] = []
    real_get = direct.AlignedBuffer.get

    def counting_get(self, size):
        if self._map is None or len(self._map) < size:
            made.append(size)
        return real_get(self, size)

    monkeypatch.setattr(direct.AlignedBuffer, "get", counting_get)
    store = _store(tmp_path)
    recipients = [str(pyrage.x25519.Identity.generate().to_public())]
    wk = os.urandom(32)
    for n in range(40):
        store.put_bytes_behind(os.urandom(20_000 + n), wk, recipients, lambda res: None)
    store.close()
    assert 1 <= len(made) <= 3  # one mapping per buffer of the ring, reused for all 40
