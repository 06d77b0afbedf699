"""What every test shares beside the fixtures: the repository's paths, the CLI runners, the test
vault's passphrase and the markers for outside tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSPHRASE = "correct horse battery staple"
TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
DATA = TESTS / "data"          # samples and published vectors kept with the tests


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


def tool_marker(tool: str, why: str):
    """Skip on a developer machine without ``tool``; in CI (CI=true) a missing tool fails."""
    import shutil

    missing = shutil.which(tool) is None
    if missing and os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs `{tool}` ({why}); .ci/run installs it")
    return pytest.mark.skipif(missing, reason=f"`{tool}` is not installed ({why}); `apt-get install {tool}`")


requires_age = tool_marker("age", "stock age interoperability")
