"""Vault creation, the identity lookup order, wrong passphrases and key management."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from tests.support.env import requires_age, run_subprocess
from vault.errors import ExitCode


def test_init_layout_permissions_and_header(template_vault):
    vdir, _, _ = template_vault
    header = json.loads((vdir / "vault.json").read_text())
    assert header["format"] == "vault" and header["version"] == 1
    assert header["object_id"] == "hmac-sha256" and header["object_format"] == "whole-file"
    assert header["recipients"][0].startswith("age1") and len(header["mac"]) == 64
    for root, dirs, files in os.walk(vdir):
        for d in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(root, d)).st_mode) == 0o700, d
        for f in files:
            assert stat.S_IMODE(os.stat(os.path.join(root, f)).st_mode) == 0o600, f


def test_init_refuses_existing_vault(vault_env):
    res = vault_env.run("init", vault_env.path, "--passphrase-file", vault_env.passphrase_file, "--no-keyring")
    assert res.code == ExitCode.USAGE
    assert "vault: error: a vault already exists" in res.err


@requires_age
def test_identity_file_export_is_age_format_and_opens_stock_age(vault_env, tmp_path):
    text = vault_env.identity_file.read_text()
    assert "AGE-SECRET-KEY-1" in text
    # The writer key file is an age file the stock tool can open with that identity.
    proc = subprocess.run(["age", "-d", "-i", str(vault_env.identity_file), str(vault_env.path / "keys/writer.key.age")], capture_output=True)
    assert proc.returncode == 0 and len(proc.stdout) == 32


def test_passphrase_file_env_unlocks(vault_env, monkeypatch):
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(vault_env.passphrase_file))
    res = vault_env.run("status", "--json")
    assert res.code == 0, res.err
    assert res.json()["counts"] == {"post": 0, "media": 0, "rating": 0}


def test_passphrase_command_unlocks(vault_env, monkeypatch):
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    monkeypatch.setenv("VAULT_PASSPHRASE_COMMAND", f"cat {vault_env.passphrase_file}")
    assert vault_env.run("list").code == 0


def test_wrong_passphrase_exits_12_without_traceback(vault_env, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    env = {"VAULT_IDENTITY_FILE": "", "VAULT_PASSPHRASE_FILE": str(wrong), "VAULT_DIR": str(vault_env.path)}
    proc = run_subprocess(["list"], env=env)
    assert proc.returncode == ExitCode.KEY_UNAVAILABLE
    err = proc.stderr.decode()
    assert "vault: error: wrong passphrase" in err
    assert "Traceback" not in err and "not it" not in err


def test_no_key_source_and_no_tty_exits_12_at_once(vault_env):
    env = {"VAULT_IDENTITY_FILE": "", "VAULT_DIR": str(vault_env.path)}
    proc = run_subprocess(["list"], env=env, timeout=30, input=b"")
    assert proc.returncode == ExitCode.KEY_UNAVAILABLE
    err = proc.stderr.decode()
    assert "VAULT_PASSPHRASE_FILE" in err and "--identity-file" in err  # the hint names the options


def test_keyring_is_used_when_available(vault_env, monkeypatch, tmp_path):
    """A working keyring backend (a file-backed one, as a real OS keyring would) is consulted."""
    import keyring
    from keyring.backend import KeyringBackend

    store: dict = {}

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def get_password(self, service, username):
            return store.get((service, username))

        def set_password(self, service, username, password):
            store[(service, username)] = password

        def delete_password(self, service, username):
            store.pop((service, username), None)

    monkeypatch.delenv("VAULT_NO_KEYRING")
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        vid = json.loads((vault_env.path / "vault.json").read_text())["vault_id"]
        ident = [l for l in vault_env.identity_file.read_text().splitlines() if l.startswith("AGE-SECRET-KEY")][0]
        store[("vault", vid)] = ident
        monkeypatch.delenv("VAULT_IDENTITY_FILE")
        res = vault_env.run("status", "--json")
        assert res.code == 0, res.err
        assert "keyring" in res.json()["key_sources"]
    finally:
        keyring.set_keyring(previous)


def test_failing_keyring_is_skipped_not_fatal(vault_env, monkeypatch):
    monkeypatch.delenv("VAULT_NO_KEYRING")  # the fail backend is configured by conftest
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(vault_env.passphrase_file))
    assert vault_env.run("list").code == 0


def test_key_show_needs_no_secret(vault_env, monkeypatch):
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    res = vault_env.run("key", "show", "--json")
    assert res.code == 0 and res.json()["recipients"][0].startswith("age1")


def test_key_passwd_changes_passphrase(vault_env, tmp_path, monkeypatch):
    new = tmp_path / "new"
    new.write_text("a new passphrase\n")
    assert vault_env.run("key", "passwd", "--new-passphrase-file", new).code == 0
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(vault_env.passphrase_file))
    assert vault_env.run("list").code == ExitCode.KEY_UNAVAILABLE
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(new))
    assert vault_env.run("list").code == 0


@requires_age
def test_add_recipient_encrypts_new_objects_to_it(vault_env, tmp_path):
    proc = subprocess.run(["age-keygen", "-o", str(tmp_path / "recovery.txt")], capture_output=True, text=True)
    assert proc.returncode == 0
    recovery_public = proc.stderr.strip().split()[-1]
    res = vault_env.run("key", "add-recipient", recovery_public, "--json")
    assert res.code == 0 and recovery_public in res.json()["recipients"]
    # The recovery key alone now opens the vault (writer key re-encrypted to it).
    photo = tmp_path / "roll"
    photo.mkdir()
    from PIL import Image

    Image.new("RGB", (5, 5), (9, 9, 9)).save(photo / "a.jpg")
    assert vault_env.run("import", photo).code == 0
    obj = next((vault_env.path / "objects").rglob("*"))
    while obj.is_dir():
        obj = next(obj.iterdir())
    out = subprocess.run(["age", "-d", "-i", str(tmp_path / "recovery.txt"), str(obj)], capture_output=True)
    assert out.returncode == 0 and out.stdout[:2] == b"\xff\xd8"
    res = vault_env.run("--identity-file", tmp_path / "recovery.txt", "list", "--json")
    assert res.code == 0 and len(res.jsonl()) == 1


def test_bad_recipient_is_a_usage_error(vault_env):
    res = vault_env.run("key", "add-recipient", "age1notakey")
    assert res.code == ExitCode.USAGE and "not an age X25519 recipient" in res.err


def test_tampered_recipients_in_header_refused(vault_env):
    header = json.loads((vault_env.path / "vault.json").read_text())
    header["recipients"].append("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p")
    (vault_env.path / "vault.json").write_text(json.dumps(header))
    res = vault_env.run("list")
    assert res.code == ExitCode.INTEGRITY and "vault.json" in res.err


def test_newer_format_version_refused(vault_env):
    header = json.loads((vault_env.path / "vault.json").read_text())
    header["version"] = 2
    (vault_env.path / "vault.json").write_text(json.dumps(header))
    res = vault_env.run("status")
    assert res.code == ExitCode.UNEXPECTED and "format version 2" in res.err


def test_no_vault_exits_10(tmp_path, capsys):
    from tests.support.env import run_cli

    res = run_cli(["--vault", tmp_path / "nothing", "status"], capsys)
    assert res.code == ExitCode.NO_VAULT and res.err.startswith("vault: error: no vault at")


def test_secret_repr_is_redacted():
    from vault.keys.secret import Secret

    s = Secret("AGE-SECRET-KEY-1XYZ")
    assert "XYZ" not in repr(s) and "XYZ" not in str(s) and "XYZ" not in f"{s}"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(s)
