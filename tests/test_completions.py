"""completions/ is generated from the CLI; stale scripts fail here."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import REPO
from vault.cli.completions import render_all


def test_committed_completions_are_current():
    for name, text in render_all().items():
        committed = (REPO / "completions" / name).read_text(encoding="utf-8")
        assert committed == text, f"completions/{name} is stale: run `python -m vault.cli.completions completions`"


def test_bash_completion_completes_commands_and_options(tmp_path):
    script = tmp_path / "t.sh"
    script.write_text(
        f"source {REPO / 'completions/vault.bash'}\n"
        't() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _vault; echo "${COMPREPLY[*]}"; }\n'
        "t vault imp\nt vault key ''\nt vault import --dr\nt vault --json sea\n"
    )
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "import"
    assert set(out[1].split()) >= {"show", "export", "passwd", "add-recipient"}
    assert out[2] == "--dry-run"
    assert out[3] == "search"


@pytest.mark.parametrize("shell,name", [("zsh", "_vault"), ("fish", "vault.fish")])
def test_other_shells_parse_the_scripts(shell, name):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    flag = ["-n"] if shell == "zsh" else ["--no-execute"]
    proc = subprocess.run([shell, *flag, str(REPO / "completions" / name)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
