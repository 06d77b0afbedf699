"""The passphrase KDF within a fixed memory bound: identity files are written with scrypt work
factor 2^18 (256 MiB, the stock age tool's default) instead of whatever rage measured (2^19 and
512 MiB on this machine, more on faster ones); they still open with the stock `age -d`, older
identity files still unlock, and a file claiming an absurd work factor is refused up front."""

from __future__ import annotations

import os
import select
import subprocess
import time

import pyrage
import pytest

from tests.support.env import PASSPHRASE, requires_age
from tests.support.hostile_files import run_measured
from vault import crypto
from vault.errors import ExitCode


def _secret(text: str) -> str:
    """The AGE-SECRET-KEY line of `vault key export` output (it has comment lines too)."""
    return next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-1"))


def test_new_identity_files_use_work_factor_18(template_vault):
    vdir, _, _ = template_vault
    assert crypto.scrypt_work_factor((vdir / "keys/identity.age").read_bytes()) == 18


def test_a_passphrase_unlock_stays_under_350_mib(vault_env):
    # Before: about 570 MB, nearly all of it scrypt's 128 * 8 * 2**19 bytes.
    res = run_measured(["key", "export"], env={"VAULT_IDENTITY_FILE": "", "VAULT_PASSPHRASE_FILE": str(vault_env.passphrase_file)})
    assert res.code == 0, res.err
    assert _secret(res.out)
    assert res.peak_mib < 350, f"peak {res.peak_mib:.0f} MiB"


def test_an_identity_file_written_by_rage_still_unlocks(vault_env, monkeypatch):
    ident = _secret(vault_env.identity_file.read_text())
    # rage chooses its own work factor; vaults made before this change hold such a file.
    written = pyrage.passphrase.encrypt(ident.encode(), PASSPHRASE)
    log_n = crypto.scrypt_work_factor(written)
    assert log_n is not None
    if log_n > 20:  # rage times its work factor: a very fast machine would need 2 GiB or more here
        pytest.skip(f"rage chose scrypt 2^{log_n} on this machine ({128 * 8 << log_n >> 20} MiB to unlock)")
    (vault_env.path / "keys/identity.age").write_bytes(written)
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(vault_env.passphrase_file))
    res = vault_env.run("key", "export")
    assert res.code == 0, res.err
    assert _secret(res.out) == ident


def test_an_absurd_work_factor_is_refused_before_allocating(vault_env, monkeypatch):
    path = vault_env.path / "keys/identity.age"
    forged = path.read_bytes().replace(b" 18\n", b" 40\n", 1)
    assert forged != path.read_bytes()
    path.write_bytes(forged)
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(vault_env.passphrase_file))
    res = vault_env.run("key", "export")
    assert res.code == ExitCode.INTEGRITY
    assert "2^40" in res.err and "Traceback" not in res.err


@requires_age
def test_stock_age_decrypts_the_identity_file(template_vault, tmp_path):
    vdir, ident, _ = template_vault
    out = tmp_path / "identity.txt"
    # age reads a passphrase only from a terminal: give it one.
    master, slave = os.openpty()
    slave_name = os.ttyname(slave)

    def own_terminal() -> None:
        os.setsid()
        os.close(os.open(slave_name, os.O_RDWR))  # becomes the controlling terminal

    proc = subprocess.Popen(["age", "-d", "-o", str(out), str(vdir / "keys/identity.age")],
                            stdin=slave, stdout=slave, stderr=slave, preexec_fn=own_terminal)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while b"passphrase" not in seen.lower() and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            seen += os.read(master, 1024)
    os.write(master, PASSPHRASE.encode() + b"\n")
    assert proc.wait(timeout=60) == 0, seen
    os.close(master)
    assert out.read_text().strip() == _secret(ident.read_text())
