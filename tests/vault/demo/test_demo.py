"""The README's first set-up command: `vault demo DIR` runs end to end on bundled samples."""

from __future__ import annotations

import json

from tests.support.env import run_subprocess


def test_demo_runs_end_to_end(tmp_path):
    target = tmp_path / "demo"
    proc = run_subprocess(["demo", target, "--json"])
    assert proc.returncode == 0, proc.stderr.decode()
    steps = json.loads(proc.stdout)["steps"]
    titles = [s["step"] for s in steps]
    assert titles[0] == "sample exports written" and "vault created" in titles
    assert "imported files" in titles
    env = {"VAULT_DIR": str(target / "vault"), "VAULT_PASSPHRASE_FILE": str(target / "demo-passphrase.txt")}
    listed = run_subprocess(["list", "--json"], env=env)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) >= 3
    assert run_subprocess(["check", "--read-data"], env=env).returncode == 0
    # A second run refuses to overwrite.
    assert run_subprocess(["demo", target]).returncode == 2
