"""The catalog knows its own extent: a MAC'd head lists the live segments and snapshot, readers
refuse a missing, extra or rolled-back piece, and gc/compact refuse to run on an incomplete
catalog.  Real files, real kills, real tampering."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.support.env import REPO
from tests.support.media_fixtures import camera_roll
from vault.errors import ExitCode


def _segments(vault_dir):
    return sorted((vault_dir / "catalog" / "journal").iterdir())


def _head(vault_dir) -> dict:
    return json.loads((vault_dir / "catalog" / "head.json").read_text())


def _objects(vault_dir):
    return sorted(p for p in (vault_dir / "objects").rglob("*") if p.is_file())


def test_a_new_vault_has_a_head_and_every_write_advances_it(vault_env, tmp_path):
    h0 = _head(vault_env.path)
    assert h0["counter"] == 0 and h0["segments"] == [] and h0["snapshot"] is None and h0["mac"]
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=2)).code == 0
    h1 = _head(vault_env.path)
    assert h1["counter"] == 1 and h1["segments"] == [p.name for p in _segments(vault_env.path)]
    assert vault_env.run("compact").code == 0
    h2 = _head(vault_env.path)
    assert h2["counter"] == 3 and h2["segments"] == [] and h2["retired"] == []
    assert h2["snapshot"] == sorted(os.listdir(vault_env.path / "catalog" / "snapshots"))[-1]


def test_deleted_snapshot_after_compact_is_refused_and_gc_deletes_nothing(vault_env, tmp_path):
    """Issue case 1: once, `status` said 0 records and gc then deleted every object."""
    for i in range(2):
        assert vault_env.run("import", camera_roll(tmp_path / f"r{i}", n=3, prefix=f"R{i}")).code == 0
    assert vault_env.run("compact").code == 0
    objects = _objects(vault_env.path)
    snap = next((vault_env.path / "catalog" / "snapshots").iterdir())
    snap.unlink()
    rel = f"catalog/snapshots/{snap.name}"
    for args in (["status"], ["list"], ["gc", "--grace-hours", "0", "--yes"], ["compact"], ["check"], ["check", "--read-data"]):
        res = vault_env.run(*args)
        assert res.code == ExitCode.INTEGRITY, (args, res.out, res.err)
        assert rel in res.err, (args, res.err)
    assert _objects(vault_env.path) == objects  # gc removed nothing


def test_deleted_newest_segment_and_its_checksum_file_is_detected(vault_env, tmp_path, monkeypatch):
    """Issue case 2: deleting the segment of a `mark --private` (and its checksum file) undid the
    mark without any key and without detection."""
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=2)).code == 0
    assert vault_env.run("mark", "--all", "--public").code == 0
    rid = vault_env.records()[0]["id"]
    sums_before = set(os.listdir(vault_env.path / "checksums"))
    assert vault_env.run("mark", rid, "--private").code == 0
    newest = _segments(vault_env.path)[-1]
    newest.unlink()
    for name in set(os.listdir(vault_env.path / "checksums")) - sums_before:
        (vault_env.path / "checksums" / name).unlink()
    rel = f"catalog/journal/{newest.name}"
    res = vault_env.run("list")
    assert res.code == ExitCode.INTEGRITY and rel in res.err and "vault: hint:" in res.err
    res = vault_env.run("check", "--read-data", "--json")
    assert res.code == ExitCode.INTEGRITY and rel in {p["path"] for p in res.json()["problems"]}
    monkeypatch.delenv("VAULT_IDENTITY_FILE")  # the key-free check sees it too
    res = vault_env.run("check")
    assert res.code == ExitCode.INTEGRITY and rel in res.out


def test_segment_from_a_sibling_copy_is_refused_as_extra(vault_env, tmp_path):
    sibling = tmp_path / "sibling"
    shutil.copytree(vault_env.path, sibling)
    assert vault_env.run("--vault", sibling, "import", camera_roll(tmp_path / "s", n=1, prefix="S")).code == 0
    assert vault_env.run("import", camera_roll(tmp_path / "a", n=1, prefix="A")).code == 0  # our head is newer
    stray = _segments(sibling)[-1]
    shutil.copy(stray, vault_env.path / "catalog" / "journal" / stray.name)
    res = vault_env.run("list")
    assert res.code == ExitCode.INTEGRITY and stray.name in res.err and "not listed by the catalog head" in res.err


def test_tampered_head_fails_its_mac(vault_env, tmp_path):
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=1)).code == 0
    path = vault_env.path / "catalog" / "head.json"
    head = json.loads(path.read_text())
    head["counter"] += 5
    path.write_text(json.dumps(head))
    res = vault_env.run("list")
    assert res.code == ExitCode.INTEGRITY and "catalog/head.json fails its MAC" in res.err
    res = vault_env.run("check", "--read-data", "--json")
    assert res.code == ExitCode.INTEGRITY and "catalog/head.json" in {p["path"] for p in res.json()["problems"]}


def test_kill_between_segment_and_head_resumes_exactly(vault_env, tmp_path):
    """A real SIGKILL in the crash window: the segment is on disk, the head does not list it."""
    roll = camera_roll(tmp_path / "roll", n=4)
    code = (
        "import os, signal, sys\n"
        "from vault.store import head\n"
        "def die(self, *a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "head.CatalogHead.record = die\n"
        "from vault.cli import main\n"
        f"sys.exit(main(['import', {str(roll)!r}]))\n"
    )
    env = dict(os.environ, VAULT_DIR=str(vault_env.path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    seg = _segments(vault_env.path)
    assert len(seg) == 1 and _head(vault_env.path)["segments"] == []
    res = vault_env.run("check", "--read-data", "--json")
    assert res.code == 0, res.out
    assert any("interruption" in n for n in res.json()["notes"])
    assert len(vault_env.records()) == 4  # replayed as before heads existed
    assert vault_env.run("import", roll).code == 0
    assert len(vault_env.records()) == 4
    assert seg[0].name in _head(vault_env.path)["segments"]  # listed by the next write
    assert vault_env.run("check", "--read-data").code == 0


def test_rollback_of_the_whole_folder_is_reported_and_can_be_accepted(vault_env, tmp_path, monkeypatch):
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=2)).code == 0
    assert vault_env.records()  # seen here at this head
    old = tmp_path / "old-copy"
    shutil.copytree(vault_env.path, old)
    assert vault_env.run("mark", "--all", "--public").code == 0
    bk = tmp_path / "backup"
    assert vault_env.run("backup", bk).code == 0
    newest = sorted(os.listdir(bk / "catalog" / "journal"))[-1]
    shutil.rmtree(vault_env.path)
    shutil.copytree(old, vault_env.path)  # every file consistent, only older
    res = vault_env.run("list")
    assert res.code == ExitCode.INTEGRITY and "rolled back" in res.err and "--accept-rollback" in res.err
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    res = vault_env.run("check")
    assert res.code == ExitCode.INTEGRITY and "rolled back" in res.out
    # The nightly backup does not push the newer catalog at the destination into its trash.
    res = vault_env.run("backup", bk)
    assert res.code == ExitCode.INTEGRITY and "rolled back" in res.err
    assert (bk / "catalog" / "journal" / newest).is_file()
    monkeypatch.setenv("VAULT_IDENTITY_FILE", str(vault_env.identity_file))
    res = vault_env.run("check", "--accept-rollback", "--json")
    assert res.code == 0, res.out + res.err
    assert res.json()["accepted_rollback"]["previously_seen"] == 2
    assert {r["visibility"] for r in vault_env.records()} == {"private"}
    # A copy at another location is another vault as far as rollbacks go.
    assert vault_env.run("--vault", old, "list").code == 0


def test_vault_made_before_heads_gets_one_and_says_so(vault_env, tmp_path):
    from vault.repository import open_vault
    from vault.store import head as head_mod

    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=2)).code == 0
    assert vault_env.run("compact").code == 0
    assert vault_env.run("import", camera_roll(tmp_path / "roll2", n=1, prefix="B")).code == 0
    before = vault_env.records()
    # Make it a format-1 vault as older versions wrote it: no head, no flag, no state.
    (vault_env.path / "catalog" / "head.json").unlink()
    with open_vault(vault_env.path, exclusive=True, wait=5) as vault:
        keys = vault.unlock(vault_env.identity_file)
        header = vault.header
        del header.extra[head_mod.HEADER_FLAG]
        header.sign(keys.writer_key)
        (vault_env.path / "vault.json").write_bytes(header.to_bytes())
    head_mod.forget(vault_env.path, header.vault_id)
    res = vault_env.run("list", "--json")
    assert res.code == 0 and "had no catalog head" in res.err
    assert res.jsonl() == before
    assert _head(vault_env.path)["segments"] == [p.name for p in _segments(vault_env.path)][-1:]
    assert json.loads((vault_env.path / "vault.json").read_text())[head_mod.HEADER_FLAG] == 1
    assert vault_env.run("check", "--read-data").code == 0
    # From now on a deleted head is noticed, not read as an older vault.
    (vault_env.path / "catalog" / "head.json").unlink()
    res = vault_env.run("list")
    assert res.code == ExitCode.INTEGRITY and "catalog/head.json" in res.err


def _orphans(vault_dir, n):
    """Objects no record references, older than gc's grace period."""
    old = 1_000_000_000
    for i in range(n):
        oid = f"fe{i:02x}" + "0" * 60
        p = vault_dir / "objects" / oid[:2] / oid[2:4] / oid
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"age-encryption.org/v1\n" + os.urandom(100))
        os.utime(p, (old, old))


def test_gc_reports_its_share_and_needs_yes_above_a_quarter(vault_env, tmp_path):
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=3)).code == 0
    _orphans(vault_env.path, 12)
    res = vault_env.run("gc", "--grace-hours", "0", "--dry-run", "--json")
    assert res.code == 0
    out = res.json()
    assert out["objects_removed"] == 12 and out["objects_total"] == 15 and out["share_objects"] == 0.8
    res = vault_env.run("gc", "--grace-hours", "0")
    assert res.code == ExitCode.USAGE and "12 of 15 objects (80%)" in res.err and "--yes" in res.err
    assert len(_objects(vault_env.path)) == 15
    res = vault_env.run("gc", "--grace-hours", "0", "--yes", "--json")
    assert res.code == 0 and res.json()["objects_removed"] == 12
    assert len(_objects(vault_env.path)) == 3 and len(vault_env.records()) == 3
    assert vault_env.run("check", "--read-data").code == 0


def test_compact_killed_between_snapshot_and_head_leaves_a_sound_vault(vault_env, tmp_path):
    for i in range(2):
        assert vault_env.run("import", camera_roll(tmp_path / f"r{i}", n=2, prefix=f"R{i}")).code == 0
    before = vault_env.records()
    code = (
        "import os, signal, sys\n"
        "from vault.store import head\n"
        "real = head.CatalogHead.record\n"
        "def die_on_snapshot(self, snapshot, segments):\n"
        "    if snapshot is not None:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return real(self, snapshot, segments)\n"
        "head.CatalogHead.record = die_on_snapshot\n"
        "from vault.cli import main\n"
        "sys.exit(main(['compact']))\n"
    )
    env = dict(os.environ, VAULT_DIR=str(vault_env.path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert len(os.listdir(vault_env.path / "catalog" / "snapshots")) == 1 and _head(vault_env.path)["snapshot"] is None
    res = vault_env.run("check", "--read-data", "--json")
    assert res.code == 0, res.out
    assert any("interrupted compaction" in n for n in res.json()["notes"])
    assert vault_env.records() == before
    assert vault_env.run("compact").code == 0
    assert len(os.listdir(vault_env.path / "catalog" / "snapshots")) == 1
    assert vault_env.records() == before and vault_env.run("check", "--read-data").code == 0
