"""Integrity and crash safety: tampering, bit rot, kill -9, Ctrl-C, locks, compact and gc."""

from __future__ import annotations

import fcntl
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.support.env import REPO, run_subprocess
from tests.support.media_fixtures import camera_roll
from vault.errors import ExitCode


def _flip(path, offset=None):
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def _some_object(vault_dir):
    return sorted(p for p in (vault_dir / "objects").rglob("*") if p.is_file())[0]


def test_check_passes_on_a_healthy_vault(vault_env, tmp_path):
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=3)).code == 0
    res = vault_env.run("check", "--json")
    assert res.code == 0 and res.json()["ok"] and res.json()["checked_files"] >= 4
    res = vault_env.run("check", "--read-data", "--json")
    assert res.code == 0 and res.json()["decrypted"] >= 4


@pytest.mark.parametrize("target", ["object", "segment"])
def test_flipped_byte_fails_check_and_names_the_file(vault_env, tmp_path, monkeypatch, target):
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=3)).code == 0
    if target == "object":
        victim = _some_object(vault_env.path)
    else:
        victim = sorted((vault_env.path / "catalog" / "journal").iterdir())[0]
    _flip(victim)
    rel = str(victim.relative_to(vault_env.path))
    monkeypatch.delenv("VAULT_IDENTITY_FILE")  # key-free check needs no key at all
    res = vault_env.run("check")
    assert res.code == ExitCode.INTEGRITY
    assert rel in res.out and rel in res.err
    monkeypatch.setenv("VAULT_IDENTITY_FILE", str(vault_env.identity_file))
    res = vault_env.run("check", "--read-data", "--json")
    assert res.code == ExitCode.INTEGRITY
    assert rel in {p["path"] for p in res.json()["problems"]}


def test_swapped_object_detected_by_read_data(vault_env, tmp_path):
    """A valid age file under another object's name: ciphertext checksums are rewritten too, so
    only the keyed name check can catch it."""
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=2)).code == 0
    a, b = sorted(p for p in (vault_env.path / "objects").rglob("*") if p.is_file())[:2]
    b.write_bytes(a.read_bytes())
    import hashlib

    for sums in (vault_env.path / "checksums").iterdir():
        lines = []
        for line in sums.read_text().splitlines():
            sha, _, rel = line.partition("  ")
            if rel.endswith(b.name):
                sha = hashlib.sha256(b.read_bytes()).hexdigest()
            lines.append(f"{sha}  {rel}")
        sums.write_text("\n".join(lines) + "\n")
    assert vault_env.run("check").code == 0
    res = vault_env.run("check", "--read-data", "--json")
    assert res.code == ExitCode.INTEGRITY
    assert any("does not match its name" in p["problem"] for p in res.json()["problems"])


def test_tampered_object_never_yields_output(vault_env, tmp_path):
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=1)).code == 0
    rid = vault_env.records()[0]["id"]
    _flip(_some_object(vault_env.path), offset=-5)
    out = tmp_path / "o.jpg"
    res = vault_env.run("get", rid, "-o", out)
    assert res.code == ExitCode.INTEGRITY
    assert not out.exists() and not list(tmp_path.glob(".o.jpg*"))
    proc = run_subprocess(["get", rid])
    assert proc.returncode == ExitCode.INTEGRITY and proc.stdout == b""


def _comparable(jsonl: bytes) -> list[dict]:
    """Records without the capture time, which differs between two runs by nature."""
    import json

    out = []
    for line in jsonl.splitlines():
        rec = json.loads(line)
        rec["provenance"].pop("captured_at", None)
        out.append(rec)
    return out


def _import_proc(vault_dir, roll, extra=()):
    env = dict(os.environ, VAULT_DIR=str(vault_dir))
    return subprocess.Popen([sys.executable, "-m", "vault", "import", str(roll), *extra], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_9_at_random_moments_then_rerun_gives_exact_records(vault_env, tmp_path, template_vault):
    roll = camera_roll(tmp_path / "roll", n=60, big=3)
    # Reference: an uninterrupted import into a fresh copy of the same vault (same keys, so the
    # same record ids).
    import shutil

    ref_dir = tmp_path / "ref"
    shutil.copytree(template_vault[0], ref_dir)
    proc = run_subprocess(["import", roll], env={"VAULT_DIR": str(ref_dir)})
    assert proc.returncode == 0, proc.stderr
    ref = run_subprocess(["list", "--json"], env={"VAULT_DIR": str(ref_dir)}).stdout

    rng = random.Random(1234)
    for _ in range(4):
        p = _import_proc(vault_env.path, roll)
        time.sleep(rng.uniform(0.05, 1.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
        res = vault_env.run("check", "--read-data", "--json")
        assert res.code == 0, res.out
    assert vault_env.run("import", roll).code == 0
    got = run_subprocess(["list", "--json"]).stdout
    assert _comparable(got) == _comparable(ref)
    assert len(_comparable(ref)) == 63
    assert vault_env.run("check", "--read-data").code == 0


def _wait_until_writing(vault_dir, proc, timeout=30.0):
    """Block until the import has stored its first object (so the signal lands mid-import)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.is_file() for p in (vault_dir / "objects").rglob("*")):
            return
        time.sleep(0.01)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_exits_130_and_leaves_nothing_visible(vault_env, tmp_path, sig):
    roll = camera_roll(tmp_path / "roll", n=5, big=25)
    p = _import_proc(vault_env.path, roll)
    _wait_until_writing(vault_env.path, p)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    if p.returncode == 0:
        pytest.skip("the import finished before the signal arrived")
    assert p.returncode == ExitCode.INTERRUPTED, err
    assert b"vault: error: interrupted" in err
    assert vault_env.records() == []
    assert list((vault_env.path / "tmp").iterdir()) == []
    assert vault_env.run("check", "--read-data").code == 0


def test_locked_vault_exits_11_after_lock_wait(vault_env, tmp_path):
    roll = camera_roll(tmp_path / "roll", n=1)
    fd = os.open(vault_env.path / "lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        t0 = time.monotonic()
        res = vault_env.run("import", roll, "--lock-wait", "0.5")
        assert res.code == ExitCode.LOCKED and "locked by another process" in res.err
        assert time.monotonic() - t0 < 5
    finally:
        os.close(fd)
    assert vault_env.run("import", roll, "--lock-wait", "0.5").code == 0


def test_two_concurrent_imports_both_complete(vault_env, tmp_path):
    a = camera_roll(tmp_path / "a", n=30, big=2, prefix="A")
    b = camera_roll(tmp_path / "b", n=30, big=2, prefix="B")
    pa = _import_proc(vault_env.path, a, ("--lock-wait", "120"))
    pb = _import_proc(vault_env.path, b, ("--lock-wait", "120"))
    assert pa.wait(timeout=180) == 0, pa.stderr.read()
    assert pb.wait(timeout=180) == 0, pb.stderr.read()
    names = {r["filename"] for r in vault_env.records()}
    # A and B rolls hold the same pixel colours: media dedup by content keeps one of each pair
    # of identical files, but every file name of the first import is present.
    assert len(names) >= 32
    assert vault_env.run("check", "--read-data").code == 0


def test_compact_merges_segments_and_keeps_records(vault_env, tmp_path):
    for i in range(3):
        assert vault_env.run("import", camera_roll(tmp_path / f"r{i}", n=2, prefix=f"R{i}")).code == 0
    before = vault_env.records()
    res = vault_env.run("compact", "--json")
    assert res.code == 0 and res.json()["segments_merged"] == 3
    assert list((vault_env.path / "catalog" / "journal").iterdir()) == []
    assert vault_env.records() == before
    assert vault_env.run("check", "--read-data").code == 0
    # Writes after a compaction land in new segments on top of the snapshot.
    assert vault_env.run("mark", "--all", "--public").code == 0
    assert {r["visibility"] for r in vault_env.records()} == {"public"}


def test_automatic_compaction_adds_a_snapshot(vault_env, tmp_path, monkeypatch):
    from vault.store import catalog

    monkeypatch.setattr(catalog, "AUTO_COMPACT_SEGMENTS", 2)
    assert vault_env.run("import", camera_roll(tmp_path / "r0", n=1, prefix="X")).code == 0
    assert vault_env.run("import", camera_roll(tmp_path / "r1", n=2, prefix="Y")).code == 0  # Y_0000 == X_0000 by content
    assert len(list((vault_env.path / "catalog" / "snapshots").iterdir())) == 1
    assert len(vault_env.records()) == 2


def test_gc_removes_only_unreferenced_objects_after_grace(vault_env, tmp_path):
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=2)).code == 0
    # An orphan as an interrupted import would leave it.
    orphan = vault_env.path / "objects" / "ff" / "ff" / ("f" * 64)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"age-encryption.org/v1\n")
    res = vault_env.run("gc", "--json")
    assert res.code == 0 and res.json()["objects_removed"] == 0 and res.json()["kept_within_grace"] == 1
    res = vault_env.run("gc", "--grace-hours", "0", "--json")
    assert res.code == 0 and res.json()["objects_removed"] == 1
    assert not orphan.exists()
    assert vault_env.run("check", "--read-data").code == 0
    assert len(vault_env.records()) == 2
