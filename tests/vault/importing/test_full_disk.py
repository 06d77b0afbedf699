"""A full disk mid-import: clear error, nothing half-visible, the vault still checks clean."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support.env import run_subprocess
from tests.support.media_fixtures import camera_roll
from vault.errors import ExitCode


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_during_import(small_disk, template_vault, tmp_path):
    vdir = small_disk / "vault"
    shutil.copytree(template_vault[0], vdir)
    roll = camera_roll(tmp_path / "roll", n=3)
    big = tmp_path / "roll" / "VID_big.mp4"
    big.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(6 * 2**20))  # more than the disk holds
    env = {"VAULT_DIR": str(vdir), "VAULT_IDENTITY_FILE": str(template_vault[1])}
    proc = run_subprocess(["import", roll], env=env)
    assert proc.returncode == ExitCode.UNEXPECTED
    err = proc.stderr.decode()
    assert "vault: error: disk full" in err and "Traceback" not in err
    assert list((vdir / "tmp").iterdir()) == []
    listed = run_subprocess(["list", "--json"], env=env)
    assert listed.returncode == 0 and listed.stdout == b""  # nothing of the failed import is visible
    assert run_subprocess(["check", "--read-data"], env=env).returncode == 0
    big.unlink()
    assert run_subprocess(["import", roll], env=env).returncode == 0
    assert len(run_subprocess(["list", "--json"], env=env).stdout.splitlines()) == 3


def test_disk_full_in_a_worker_process(small_disk, template_vault, tmp_path, monkeypatch, capsys):
    """The same, with the media stored by worker processes (a big import)."""
    from tests.support.env import run_cli
    from vault.importing import sealing

    monkeypatch.setattr(sealing, "MIN_BYTES", 0)
    monkeypatch.setattr(sealing, "START_AFTER", 0)
    vdir = small_disk / "vault"
    shutil.copytree(template_vault[0], vdir)
    monkeypatch.setenv("VAULT_DIR", str(vdir))
    monkeypatch.setenv("VAULT_IDENTITY_FILE", str(template_vault[1]))
    roll = camera_roll(tmp_path / "roll", n=3)
    for i in range(2):  # more than the disk holds, in files the workers store whole
        (roll / f"VID_{i}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(3 * 2**20))
    res = run_cli(["import", roll], capsys)
    assert res.code == ExitCode.UNEXPECTED
    assert "vault: error: disk full" in res.err and "Traceback" not in res.err
    assert list((vdir / "tmp").iterdir()) == []
    assert run_cli(["list", "--json"], capsys).out == ""
    assert run_cli(["check", "--read-data"], capsys).code == 0
    for i in range(2):
        (roll / f"VID_{i}.mp4").unlink()
    assert run_cli(["import", roll], capsys).code == 0
    assert len(run_cli(["list", "--json"], capsys).out.splitlines()) == 3
