"""Shared fixtures: every test runs with its own vault, no real keyring, no real home.

Creating a vault costs a scrypt run (about a second), so one template vault is made per test
session and copied for each test.  Tests unlock it with an identity file (fast), exactly as a
user with `VAULT_IDENTITY_FILE` would.  Helpers that tests import live in ``tests/support/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.env import PASSPHRASE, VaultEnv, run_subprocess


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    for var in list(os.environ):
        if var.startswith("VAULT_") or var in ("NETLIFY_AUTH_TOKEN", "NEOCITIES_API_KEY"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("VAULT_NO_KEYRING", "1")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("TMPDIR", str(tmp_path_factory.mktemp("systmp")))


@pytest.fixture(scope="session")
def template_vault(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(vault dir, identity file, passphrase file) of a vault created once per session."""
    base = tmp_path_factory.mktemp("template")
    pfile = base / "passphrase"
    pfile.write_text(PASSPHRASE + "\n")
    vdir = base / "vault"
    env = {"VAULT_NO_KEYRING": "1", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    proc = run_subprocess(["init", vdir, "--passphrase-file", pfile, "--no-keyring"], env=env)
    assert proc.returncode == 0, proc.stderr
    ident = base / "identity.txt"
    proc = run_subprocess(["--vault", vdir, "key", "export"], env=dict(env, VAULT_PASSPHRASE_FILE=str(pfile)))
    assert proc.returncode == 0, proc.stderr
    ident.write_bytes(proc.stdout)
    os.chmod(ident, 0o600)
    return vdir, ident, pfile


@pytest.fixture
def vault_env(template_vault, tmp_path, monkeypatch, capsys) -> VaultEnv:
    """A fresh vault (a copy of the template), with VAULT_DIR and VAULT_IDENTITY_FILE set."""
    src, ident, pfile = template_vault
    dest = tmp_path / "vault"
    shutil.copytree(src, dest)
    monkeypatch.setenv("VAULT_DIR", str(dest))
    monkeypatch.setenv("VAULT_IDENTITY_FILE", str(ident))
    return VaultEnv(dest, ident, pfile, capsys)

