"""The completion scripts are package data generated from the CLI (stale scripts fail here), are
printed by `vault completion SHELL`, and complete commands, options and option values."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from tests.support.env import REPO
from tests.support.media_fixtures import camera_roll
from vault.cli.completions import CHECKOUT_DIR, PACKAGE_DIR, SHELLS, render_all


def test_committed_completions_are_current():
    for name, text in render_all().items():
        for folder in (PACKAGE_DIR, CHECKOUT_DIR):
            committed = (folder / name).read_text(encoding="utf-8")
            assert committed == text, f"{folder.relative_to(REPO)}/{name} is stale: run `python -m vault.cli.completions`"


def test_scripts_ship_with_the_package_and_print(vault_env):
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["vault"]
    assert "cli/shell/*" in data and PACKAGE_DIR == REPO / "vault" / "cli" / "shell"
    for shell, name in SHELLS.items():
        res = vault_env.run("completion", shell)
        assert res.code == 0 and res.out == (PACKAGE_DIR / name).read_text(encoding="utf-8")
    res = vault_env.run("--json", "completion", "tcsh")
    assert res.code == 2 and "bash, zsh or fish" in res.err and res.err.startswith("{")
    assert "bash-completion/completions/vault" in vault_env.run("completion", "--help").out


@pytest.fixture
def shell_env(vault_env, tmp_path):
    """PATH with a `vault` that runs this worktree's code, as the scripts call it."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "vault"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -m vault \"$@\"\n")
    wrapper.chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", PYTHONPATH=str(REPO))
    return env


def _bash(lines: str, env: dict, tmp_path) -> list[str]:
    script = tmp_path / "t.sh"
    script.write_text(
        f"source {PACKAGE_DIR / 'vault.bash'}\n"
        't() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); _vault; echo "${COMPREPLY[*]}"; }\n'
        + lines
    )
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout.splitlines()


def test_bash_completes_commands_options_and_static_values(tmp_path):
    out = _bash(
        "t vault imp\nt vault key ''\nt vault import --dr\nt vault --json sea\n"
        "t vault list --kind ''\nt vault import --source fa\nt vault mark --visibility p\n"
        "t vault list --kind post --so\nt vault completion ''\n",
        dict(os.environ), tmp_path,
    )
    assert out[0] == "import"
    assert set(out[1].split()) >= {"show", "export", "passwd", "add-recipient"}
    assert out[2] == "--dry-run"
    assert out[3] == "search"
    assert out[4].split() == ["post", "media", "rating"]
    assert out[5] == "facebook"
    assert set(out[6].split()) == {"public", "premium", "private"}
    assert out[7] == "--source", "an option's value is not taken for a command"
    assert set(out[8].split()) >= {"bash", "zsh", "fish"}
    # Where a path is expected, nothing is offered so that bash falls back to file names.
    assert _bash("t vault import ''\nt vault import --so\n", dict(os.environ), tmp_path) == ["", "--source"]


def test_bash_completes_tags_and_targets_from_the_vault(vault_env, shell_env, tmp_path):
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=1), "--source", "files").code == 0
    assert vault_env.run("mark", "--all", "--add-tag", "blog", "--add-tag", "travel").code == 0
    settings = vault_env.path / "vault.yaml"
    settings.write_text(settings.read_text() + "\ntargets:\n  mysite: dir:/tmp/nowhere\n")
    out = _bash("t vault list --tag ''\nt vault mark --untag tr\nt vault publish ''\nt vault publish --dr\n", shell_env, tmp_path)
    assert out[0].split() == ["blog", "travel"]
    assert out[1] == "travel"
    assert "mysite" in out[2].split() and "--dry-run" in out[2].split()
    assert out[3] == "--dry-run"
    # Without a key at hand: nothing, silently (and no prompt, no passphrase command run).
    locked = {k: v for k, v in shell_env.items() if k != "VAULT_IDENTITY_FILE"}
    marker = tmp_path / "asked"
    locked["VAULT_PASSPHRASE_COMMAND"] = f"touch {marker}"
    assert _bash("t vault list --tag ''\n", locked, tmp_path) == [""]
    assert not marker.exists()


@pytest.mark.parametrize("shell,name", [("zsh", "_vault"), ("fish", "vault.fish")])
def test_other_shells_parse_the_scripts(shell, name):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    flag = ["-n"] if shell == "zsh" else ["--no-execute"]
    proc = subprocess.run([shell, *flag, str(PACKAGE_DIR / name)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_fish_completes_values(vault_env, shell_env, tmp_path):
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=1), "--source", "files").code == 0
    assert vault_env.run("mark", "--all", "--add-tag", "blog").code == 0

    def complete(line: str) -> list[str]:
        proc = subprocess.run(["fish", "--no-config", "-c", f"source {PACKAGE_DIR / 'vault.fish'}; complete -C '{line}'"],
                              capture_output=True, text=True, env=shell_env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return [line.split("\t")[0] for line in proc.stdout.splitlines()]

    assert complete("vault list --kind ") == ["media", "post", "rating"]
    assert "facebook" in complete("vault import --source ")
    assert complete("vault list --tag ") == ["blog"]
    assert "unlock" in complete("vault unl")
    assert {"bash", "zsh", "fish"} <= set(complete("vault completion "))
