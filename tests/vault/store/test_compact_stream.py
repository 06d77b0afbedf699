"""`vault compact` and index rebuilds in bounded memory: the snapshot's database is built in an
encrypted scratch file and streamed through age, in the same format as before (the stock `age`
CLI and stock SQLite read it), with no plaintext left on disk."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import tracemalloc

import pytest

from tests.support.env import requires_age
from vault.repository import open_vault
from vault.store.catalog import Catalog
from vault.store.catalog_write import BATCH
from vault.store.scratch import BLOCK, ScratchFile, connect

SECRET = "Quetzalhornpipe"


def _record(i: int) -> dict:
    # About 1.2 KB of text each, distinct so that nothing compresses into sharing.
    text = f"{SECRET} {i} " + " ".join(hashlib.sha256(f"{i}-{j}".encode()).hexdigest() for j in range(18))
    return {"id": f"p_{i:07d}", "kind": "post", "source": "mastodon", "source_id": str(i),
            "created_at": f"2024-01-01T00:00:{i % 60:02d}Z", "text": text,
            "provenance": {"importer": "mastodon", "importer_version": "1", "export": "a.zip", "export_sha256": "ab" * 32,
                           "captured_at": "2024-02-01T00:00:00Z", "member": "outbox.json"}}


def _add(cat, start: int, stop: int) -> None:
    for i in range(start, stop):
        cat.stage({"op": "put", "r": _record(i)})
    cat.flush()


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_compact_and_rebuild_memory_does_not_grow_with_the_catalog(vault_env, tmp_path):
    """Python-side peak memory of a compaction and of an index rebuild from its snapshot, at N
    and at 4N records: the same, and far below the snapshot's size (the whole-database code held
    the database as one bytes object, several times over)."""
    n = BATCH + 500  # above the rebuild's batch of rows, so the batch is full both times
    peaks = {}
    with open_vault(vault_env.path, exclusive=True) as v:
        keys = v.unlock(vault_env.identity_file)
        cat = v.catalog()
        for size in (n, 4 * n):
            _add(cat, cat.counts()["post"], size)
            assert cat.counts()["post"] == size
            compact_peak = _peak(cat.write_snapshot)
            snap = v.path / "catalog" / "snapshots" / cat.snapshot_name
            # A new index, built from the snapshot alone.
            fresh = Catalog(v.path / "catalog", v.tmpdir, keys.identity, keys.writer_key, v.recipients,
                            index_path=tmp_path / f"index-{size}.db")
            try:
                rebuild_peak = _peak(fresh.load)
                assert fresh.snapshot_name == snap.name and fresh.counts()["post"] == size
            finally:
                fresh.close()
            peaks[size] = (compact_peak, rebuild_peak, snap.stat().st_size)
    (c1, r1, _), (c4, r4, size4) = peaks[n], peaks[4 * n]
    assert size4 > 4 * n * 1000, size4  # the snapshot really is large
    assert c4 < 1.5 * c1 + (256 << 10), peaks
    assert r4 < 1.5 * r1 + (256 << 10), peaks
    assert c4 < size4 / 4, peaks
    assert r4 < size4, peaks  # the whole-database rebuild held the ciphertext and the plaintext


@requires_age
def test_snapshot_is_read_by_stock_age_and_sqlite_and_leaves_no_plaintext(vault_env):
    with open_vault(vault_env.path, exclusive=True) as v:
        keys = v.unlock(vault_env.identity_file)
        cat = v.catalog()
        _add(cat, 0, 300)
        cat.stage({"op": "curate", "id": "p_0000007", "visibility": "public", "add": ["kept"]})
        cat.stage({"op": "hint", "k": "capture:x", "v": "y"})
        cat.flush()
        writer_key = keys.writer_key
    res = vault_env.run("compact", "--json")
    assert res.code == 0, res.out
    rel = res.json()["snapshot"]
    path = vault_env.path / rel
    plain = subprocess.run(["age", "-d", "-i", str(vault_env.identity_file), str(path)], capture_output=True, check=True).stdout
    line, _, db_bytes = plain.partition(b"\n")
    header = json.loads(line)
    assert header["format"] == "vault-snapshot" and header["version"] == 1 and header["seq"] >= 1
    mac = header.pop("mac")
    body = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    want = hmac.new(writer_key, b"snapshot\0" + path.name.encode() + b"\0" + body + b"\0" + db_bytes, hashlib.sha256).hexdigest()
    assert mac == want
    db = sqlite3.connect(":memory:")
    db.deserialize(db_bytes)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert db.execute("SELECT count(*) FROM records").fetchone() == (300,)
    assert db.execute("SELECT count(*) FROM digests").fetchone() == (300,)
    assert db.execute("SELECT visibility FROM explicit WHERE id='p_0000007'").fetchone() == ("public",)
    assert db.execute("SELECT tag FROM tags WHERE id='p_0000007'").fetchall() == [("kept",)]
    assert db.execute("SELECT v FROM hints WHERE k='capture:x'").fetchone() == ("y",)
    # The scratch database is gone, and no file under the vault holds the records' text.
    tmp = vault_env.path / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())
    for root, _, files in os.walk(vault_env.path):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                assert SECRET.encode() not in fh.read(), name
    # A rebuilt index reads the same records back from the snapshot alone.
    for p in (vault_env.path / "index").iterdir():
        p.unlink()
    got = {r["id"]: r for r in vault_env.records()}
    assert len(got) == 300 and got["p_0000007"]["visibility"] == "public" and got["p_0000007"]["tags"] == ["kept"]
    assert vault_env.run("search", "--json", "p_0000123").code == 0


def test_scratch_file_round_trips_and_refuses_a_changed_block(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")  # SQLite resolves links in the path it opens
    tmp_path = tmp_path / "link"
    scratch = ScratchFile(tmp_path / "s.db")
    try:
        with connect(scratch) as db:
            db.execute("CREATE TABLE t(k TEXT PRIMARY KEY, v TEXT)")
            db.executemany("INSERT INTO t VALUES (?,?)", ((f"k{i}", SECRET * (i % 50)) for i in range(2000)))
        raw = (tmp_path / "s.db").read_bytes()
        assert SECRET.encode() not in raw and b"SQLite format 3" not in raw
        assert oct(os.stat(tmp_path / "s.db").st_mode & 0o777) == "0o600"
        plain = b"".join(scratch.chunks())
        assert len(plain) == scratch.size() and len(plain) % BLOCK == 0
        check = sqlite3.connect(":memory:")
        check.deserialize(plain)
        assert check.execute("SELECT count(*) FROM t").fetchone() == (2000,)
        # Unaligned writes and reads, across block edges and past the end.
        scratch.write(b"x" * 5000, len(plain) - 10)
        assert scratch.read(5020, len(plain) - 20) == plain[-20:-10] + b"x" * 5000
        with open(tmp_path / "s.db", "r+b") as fh:  # one flipped bit in the second block
            fh.seek(BLOCK + 28 + 100)
            byte = fh.read(1)
            fh.seek(-1, 1)
            fh.write(bytes([byte[0] ^ 1]))
        from vault.errors import IntegrityError

        with pytest.raises(IntegrityError):
            b"".join(scratch.chunks())
    finally:
        scratch.remove()
    assert not (tmp_path / "s.db").exists()


def test_compact_on_a_full_disk_changes_nothing(vault_env, monkeypatch):
    """The scratch database fills the disk half-way: a clear error, no snapshot, no file left in
    tmp/, every segment still there, and the next compact succeeds."""
    import errno

    from vault.store import scratch as scratch_mod

    with open_vault(vault_env.path, exclusive=True) as v:
        v.unlock(vault_env.identity_file)
        cat = v.catalog()
        _add(cat, 0, 200)
        _add(cat, 200, 400)
    catalog_dir = vault_env.path / "catalog"
    before = sorted(p.relative_to(catalog_dir) for p in catalog_dir.rglob("*"))
    real, calls = scratch_mod.ScratchFile._write_block, []

    def full_after_a_while(self, i, data):
        calls.append(i)
        if len(calls) > 40:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, i, data)

    monkeypatch.setattr(scratch_mod.ScratchFile, "_write_block", full_after_a_while)
    res = vault_env.run("compact")
    assert res.code == 1 and "vault: error: disk full" in res.err and "Traceback" not in res.err, res.err
    assert sorted(p.relative_to(catalog_dir) for p in catalog_dir.rglob("*")) == before
    assert not any((vault_env.path / "tmp").iterdir())
    monkeypatch.setattr(scratch_mod.ScratchFile, "_write_block", real)
    assert len(vault_env.records()) == 400
    res = vault_env.run("compact", "--json")
    assert res.code == 0 and res.json()["segments_merged"] == 2
    assert len(vault_env.records()) == 400 and vault_env.run("check", "--read-data").code == 0


def test_compact_killed_while_streaming_leaves_a_sound_vault_and_only_ciphertext(vault_env):
    """kill -9 in the middle of the second pass (scratch database into age): no snapshot appears,
    the files left in tmp/ hold no plaintext, and the next compact works."""
    import subprocess
    import sys

    from tests.support.env import REPO

    with open_vault(vault_env.path, exclusive=True) as v:
        v.unlock(vault_env.identity_file)
        cat = v.catalog()
        _add(cat, 0, 300)
        _add(cat, 300, 600)
    code = (
        "import os, signal, sys\n"
        "from vault.store import scratch\n"
        "real = scratch.ScratchFile.chunks\n"
        "passes = []\n"
        "def chunks(self, size=None):\n"
        "    passes.append(1)\n"
        "    for n, block in enumerate(real(self, size)):\n"
        "        if len(passes) == 2 and n == 20:\n"
        "            os.kill(os.getpid(), signal.SIGKILL)\n"
        "        yield block\n"
        "scratch.ScratchFile.chunks = chunks\n"
        "from vault.cli import main\n"
        "sys.exit(main(['compact']))\n"
    )
    env = dict(os.environ, VAULT_DIR=str(vault_env.path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert not (vault_env.path / "catalog" / "snapshots").exists() or not any((vault_env.path / "catalog" / "snapshots").iterdir())
    left = list((vault_env.path / "tmp").iterdir())
    assert len(left) == 2  # the scratch database and the half-written age file
    for f in left:
        assert SECRET.encode() not in f.read_bytes() and b"SQLite format 3" not in f.read_bytes()
    assert len(vault_env.records()) == 600 and vault_env.run("check", "--read-data").code == 0
    res = vault_env.run("compact", "--json")
    assert res.code == 0 and res.json()["segments_merged"] == 2
    assert len(vault_env.records()) == 600 and vault_env.run("check", "--read-data").code == 0


def test_check_reads_segments_streamed_and_still_refuses_a_forged_one(vault_env):
    import io

    with open_vault(vault_env.path, exclusive=True) as v:
        v.unlock(vault_env.identity_file)
        cat = v.catalog()
        _add(cat, 0, 50)
        for name in cat.segments:
            assert cat.check_segment(name) == len(cat.read_segment(name)) > 50  # puts and the shared provenance
        body = b'{"op":"hint","k":"x","v":"y"}\n'
        name = cat.segments[0]
        # Same name, re-encrypted to the vault's recipient with a MAC made without the writer key.
        forged = body + json.dumps({"mac": hashlib.sha256(body).hexdigest()}).encode() + b"\n"
        cat._write_encrypted(cat.journal_dir / name, io.BytesIO(forged), "test segment")
        from vault.errors import IntegrityError

        with pytest.raises(IntegrityError, match="fails its MAC"):
            cat.check_segment(name)
    res = vault_env.run("check", "--read-data", "--json")
    assert res.code != 0 and any(p["path"] == f"catalog/journal/{name}" for p in res.json()["problems"]), res.out


def test_rebuild_after_a_snapshot_on_the_same_catalog_keeps_every_record(vault_env):
    """A catalog that wrote a snapshot and then more segments rebuilds from what is on disk now,
    not from the pieces it listed when it was opened (the old list named segments the snapshot
    had superseded and none written since)."""
    with open_vault(vault_env.path, exclusive=True) as v:
        v.unlock(vault_env.identity_file)
        cat = v.catalog()
        _add(cat, 0, 30)
        cat.write_snapshot()
        _add(cat, 30, 45)
        cat.rebuild("test")
        assert cat.counts()["post"] == 45
        assert cat.get("p_0000044") is not None and cat.get("p_0000000") is not None
