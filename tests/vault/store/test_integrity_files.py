"""`vault check` covers keys/ and vault.json, refuses links and special files, and fails when
the checksum files are gone; backup and restore verify everything they copy.  Real files, real
tampering, real restores."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from tests.support.media_fixtures import camera_roll
from vault.errors import ExitCode


def _flip(path, offset=None):
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def _objects(vault_dir):
    return sorted(p for p in (vault_dir / "objects").rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture
def filled(vault_env, tmp_path):
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=3)).code == 0
    return vault_env


def test_flipped_identity_file_is_reported_even_when_the_key_comes_from_elsewhere(filled):
    """The identity comes from an identity file (as from the keyring): identity.age is never
    decrypted, yet its damage is found, key-free and with --read-data."""
    _flip(filled.path / "keys" / "identity.age")
    for args in (["check", "--json"], ["check", "--read-data", "--json"]):
        res = filled.run(*args)
        assert res.code == ExitCode.INTEGRITY, args
        assert "keys/identity.age" in {p["path"] for p in res.json()["problems"]}


def test_deleted_key_file_is_reported(filled):
    (filled.path / "keys" / "writer.key.age").unlink()
    res = filled.run("check", "--json")
    assert res.code == ExitCode.INTEGRITY
    assert {"path": "keys/writer.key.age", "problem": "missing"} in res.json()["problems"]


def test_key_changes_keep_the_checksums_right(filled):
    res = filled.run("key", "add-recipient", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p")
    assert res.code == 0, res.err
    res = filled.run("check", "--read-data", "--json")
    assert res.code == 0, res.out
    # One line per file again, so `sha256sum -c` passes.
    lines = [ln for f in sorted((filled.path / "checksums").iterdir()) for ln in f.read_text().splitlines()]
    assert sum(ln.endswith("  vault.json") for ln in lines) == 1
    assert sum(ln.endswith("  keys/writer.key.age") for ln in lines) == 1


def test_every_checksum_file_deleted_is_a_failure(filled, monkeypatch):
    for f in (filled.path / "checksums").iterdir():
        f.unlink()
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    res = filled.run("check")
    assert res.code == ExitCode.INTEGRITY and "checksums/" in res.out and "ok:" not in res.err


def test_object_replaced_by_a_symlink_fails_check_and_backup(filled, tmp_path):
    victim = _objects(filled.path)[0]
    keep = tmp_path / "elsewhere"
    shutil.move(victim, keep)
    victim.symlink_to(keep)  # same bytes: every checksum would still match through the link
    rel = victim.relative_to(filled.path).as_posix()
    res = filled.run("check", "--read-data", "--json")
    assert res.code == ExitCode.INTEGRITY
    assert any(p["path"] == rel and "symbolic link" in p["problem"] for p in res.json()["problems"])
    res = filled.run("backup", tmp_path / "b")
    assert res.code == ExitCode.INTEGRITY and rel in res.err and "symbolic link" in res.err
    assert not (tmp_path / "b").exists()  # the backup was not touched


def test_special_file_in_the_vault_fails_check(filled):
    os.mkfifo(filled.path / "catalog" / "journal" / "pipe")
    res = filled.run("check", "--json")
    assert res.code == ExitCode.INTEGRITY
    assert {"path": "catalog/journal/pipe", "problem": "is a special file (refused: a vault holds only regular files)"} in res.json()["problems"]


def test_backup_refuses_a_vault_that_lost_a_segment_and_keeps_the_good_copy(filled, tmp_path):
    bk = tmp_path / "b"
    assert filled.run("backup", bk).code == 0
    seg = sorted((filled.path / "catalog" / "journal").iterdir())[0]
    seg.unlink()
    res = filled.run("backup", bk)
    assert res.code == ExitCode.INTEGRITY and seg.name in res.err and "backup was not changed" in res.err
    assert (bk / "catalog" / "journal" / seg.name).is_file()


def _backup(vault_env, tmp_path):
    bk = tmp_path / "b"
    res = vault_env.run("backup", bk)
    assert res.code == 0, res.err
    return bk


def _restore_fails(vault_env, bk, tmp_path, rel):
    target = tmp_path / "restored"
    res = vault_env.run("restore", bk, target, "--json")
    assert res.code == ExitCode.INTEGRITY, res.out + res.err
    assert rel in res.err
    assert rel in {p["path"] for p in res.json()["problems"]}
    assert not (target / "vault.json").exists()  # no vault that would fail later
    return target


def test_restore_of_a_backup_that_lost_a_segment_fails_and_names_it(filled, tmp_path):
    """Issue case 3: 3,077 of 3,078 records came back with exit 0."""
    assert filled.run("import", camera_roll(tmp_path / "more", n=2, prefix="M")).code == 0
    bk = _backup(filled, tmp_path)
    seg = sorted((bk / "catalog" / "journal").iterdir())[-1]
    seg.unlink()
    for f in (bk / "checksums").iterdir():  # the lines naming it are gone too
        f.write_text("".join(ln + "\n" for ln in f.read_text().splitlines() if seg.name not in ln))
    target = _restore_fails(filled, bk, tmp_path, f"catalog/journal/{seg.name}")
    # Once the backup is repaired, running the restore again completes it.
    shutil.copy(filled.path / "catalog" / "journal" / seg.name, seg)
    res = filled.run("restore", bk, target)
    assert res.code == 0, res.err
    assert filled.run("--vault", target, "check", "--read-data").code == 0
    assert filled.records("--vault", str(target)) == filled.records()


@pytest.mark.parametrize("damage", ["flip", "delete"])
def test_restore_checks_the_identity_file(filled, tmp_path, damage):
    bk = _backup(filled, tmp_path)
    victim = bk / "keys" / "identity.age"
    _flip(victim) if damage == "flip" else victim.unlink()
    _restore_fails(filled, bk, tmp_path, "keys/identity.age")


def test_restore_checks_the_writer_key_and_vault_json(filled, tmp_path):
    bk = _backup(filled, tmp_path)
    _flip(bk / "keys" / "writer.key.age", offset=-3)
    _restore_fails(filled, bk, tmp_path, "keys/writer.key.age")
    shutil.copy(filled.path / "keys" / "writer.key.age", bk / "keys" / "writer.key.age")
    header = json.loads((bk / "vault.json").read_text())
    header["recipients"].append("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p")
    (bk / "vault.json").write_text(json.dumps(header))
    shutil.rmtree(tmp_path / "restored")
    _restore_fails(filled, bk, tmp_path, "vault.json")


def test_restore_without_the_catalog_head_fails(filled, tmp_path):
    bk = _backup(filled, tmp_path)
    (bk / "catalog" / "head.json").unlink()
    _restore_fails(filled, bk, tmp_path, "catalog/head.json")


def test_deleted_identity_file_with_a_passphrase_is_a_named_integrity_error(filled, monkeypatch):
    (filled.path / "keys" / "identity.age").unlink()
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(filled.passphrase_file))
    res = filled.run("list")
    assert res.code == ExitCode.INTEGRITY and "keys/identity.age is missing" in res.err
    assert "unexpected" not in res.err


def test_backup_killed_between_head_and_trash_still_restores(filled, tmp_path):
    """A real SIGKILL after the backup put the new catalog head in place and before it moved the
    segments that `vault compact` removed to its trash: the destination holds catalog files no
    head lists; restore leaves them out and makes a sound vault."""
    import signal
    import subprocess
    import sys

    from tests.support.env import REPO

    bk = _backup(filled, tmp_path)
    assert filled.run("import", camera_roll(tmp_path / "more", n=2, prefix="M")).code == 0
    assert filled.run("compact").code == 0
    code = (
        "import os, signal, sys\n"
        "from vault.backup import run\n"
        "real = run._put_head\n"
        "def put_then_die(*a, **k):\n"
        "    real(*a, **k)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "run._put_head = put_then_die\n"
        "from vault.cli import main\n"
        f"sys.exit(main(['backup', {str(bk)!r}]))\n"
    )
    env = dict(os.environ, VAULT_DIR=str(filled.path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    leftovers = sorted(os.listdir(bk / "catalog" / "journal"))
    assert leftovers  # superseded segments still there, unlisted by the new head
    res = filled.run("restore", bk, tmp_path / "r", "--json")
    assert res.code == 0, res.err
    assert sorted(p.rsplit("/", 1)[1] for p in res.json()["skipped"]) == leftovers
    assert filled.run("--vault", tmp_path / "r", "check", "--read-data").code == 0
    assert filled.records("--vault", str(tmp_path / "r")) == filled.records()
    assert filled.run("backup", bk).code == 0  # the next run completes it
    assert not (bk / "catalog" / "journal").exists() or not os.listdir(bk / "catalog" / "journal")


def _as_a_newer_release_wrote_it(root, change: dict) -> None:
    """``vault.json`` with ``change``, and its checksum line agreeing, as a newer release writes it."""
    header = root / "vault.json"
    old_sha = hashlib.sha256(header.read_bytes()).hexdigest()
    header.write_text(json.dumps(dict(json.loads(header.read_text()), **change)))
    new_sha = hashlib.sha256(header.read_bytes()).hexdigest()
    for lines in (root / "checksums").iterdir():
        lines.write_text(lines.read_text().replace(f"{old_sha}  vault.json", f"{new_sha}  vault.json"))


NEWER = [
    ({"version": 2}, "this vault uses format version 2; this program reads version 1"),
    ({"object_format": "packs"}, "this vault uses the object format 'packs' (objects named by 'hmac-sha256'); "
                                 "this program reads 'whole-file' ('hmac-sha256')"),
]


@pytest.mark.parametrize("change, words", NEWER)
def test_a_backup_of_a_newer_format_is_refused_before_anything_is_copied(filled, tmp_path, change, words):
    bk = _backup(filled, tmp_path)
    _as_a_newer_release_wrote_it(bk, change)
    target = tmp_path / "restored"
    res = filled.run("restore", bk, target)
    assert res.code == ExitCode.UNEXPECTED, (res.code, res.err)
    assert f"vault: error: {words}" in res.err and "upgrade vault to a newer release" in res.err, res.err
    assert not target.exists() or not any(target.iterdir())


@pytest.mark.parametrize("change, words", NEWER)
@pytest.mark.parametrize("command", [("status",), ("list",), ("check",), ("backup", "DEST"), ("import", "ROLL")])
def test_a_vault_of_a_newer_format_is_refused_and_left_alone(filled, tmp_path, change, words, command):
    """A vault written by a newer release (a new format version, or an object format such as the
    packs of docs/proposals/packed-objects.md) is refused by every command, key-free ones too,
    with what it is and what to do; nothing in it changes."""
    _as_a_newer_release_wrote_it(filled.path, change)
    before = {p: p.read_bytes() for p in filled.path.rglob("*") if p.is_file() and "index" not in p.parts}
    roll = camera_roll(tmp_path / "later", n=1, prefix="L")
    dest = tmp_path / "backup"
    res = filled.run(*[{"ROLL": str(roll), "DEST": str(dest)}.get(arg, arg) for arg in command])
    assert res.code == ExitCode.UNEXPECTED, (res.code, res.err)
    assert f"vault: error: {words}" in res.err and "vault: hint: upgrade vault to a newer release" in res.err, res.err
    assert "Traceback" not in res.err
    after = {p: p.read_bytes() for p in filled.path.rglob("*") if p.is_file() and "index" not in p.parts}
    assert after == before
    assert not dest.exists() or not any(dest.rglob("*"))
