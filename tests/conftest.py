"""Shared fixtures: every test runs with its own vault, no real keyring, no real home.

Creating a vault costs a scrypt run (about a second), so one template vault is made per test
session and copied for each test.  Tests unlock it with an identity file (fast), exactly as a
user with `VAULT_IDENTITY_FILE` would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSPHRASE = "correct horse battery staple"
REPO = Path(__file__).resolve().parent.parent


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


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)

    def jsonl(self) -> list:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def run_cli(args: list[str], capsys) -> Result:
    from vault.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def run_subprocess(args: list[str], env: dict | None = None, timeout: float = 120, input: bytes | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "vault", *map(str, args)], capture_output=True, env=full_env,
                          timeout=timeout, input=input, cwd=REPO)


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


@dataclass
class VaultEnv:
    path: Path
    identity_file: Path
    passphrase_file: Path
    capsys: object

    def run(self, *args) -> Result:
        return run_cli(list(args), self.capsys)

    def records(self, *filters) -> list[dict]:
        res = self.run("list", "--json", *filters)
        assert res.code == 0, res.err
        return res.jsonl()


@pytest.fixture
def vault_env(template_vault, tmp_path, monkeypatch, capsys) -> VaultEnv:
    """A fresh vault (a copy of the template), with VAULT_DIR and VAULT_IDENTITY_FILE set."""
    src, ident, pfile = template_vault
    dest = tmp_path / "vault"
    shutil.copytree(src, dest)
    monkeypatch.setenv("VAULT_DIR", str(dest))
    monkeypatch.setenv("VAULT_IDENTITY_FILE", str(ident))
    return VaultEnv(dest, ident, pfile, capsys)


def _tool_marker(tool: str, why: str):
    """Skip on a developer machine without ``tool``; in CI (CI=true) a missing tool fails."""
    import shutil as _sh

    missing = _sh.which(tool) is None
    if missing and os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs `{tool}` ({why}); .ci/run installs it")
    return pytest.mark.skipif(missing, reason=f"`{tool}` is not installed ({why}); `apt-get install {tool}`")


requires_age = _tool_marker("age", "stock age interoperability")
