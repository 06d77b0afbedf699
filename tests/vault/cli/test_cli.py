"""Command-line conventions: version, help as people write it, JSON errors for usage mistakes,
ambiguous id prefixes, arguments checked before keys, units and totals of progress bars, the
manual page."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys

import pytest

from tests.support.env import run_cli
from tests.support.media_fixtures import camera_roll
from vault import __version__
from vault.cli import context
from vault.cli.helptext import tree
from vault.errors import ExitCode


def _commands(node=None):
    node = node or tree()
    yield node
    for child in node.children:
        yield from _commands(child)


# --- version ---------------------------------------------------------------------------------


def test_version_command_and_flag(capsys):
    text = run_cli(["version"], capsys)
    assert text.code == 0 and text.out.startswith(f"vault {__version__} (python ")
    flag = run_cli(["--version"], capsys)
    assert flag.code == 0 and flag.out == text.out
    for args in (["version", "--json"], ["--json", "--version"], ["--version", "--json"]):
        res = run_cli(args, capsys)
        info = json.loads(res.out)
        assert res.code == 0 and info["version"] == __version__
        assert info["vault_format_version"] == 1 and info["age_implementation"] == "pyrage"
        assert info["age_writer"] == "vault.agefile" and info["cryptography"]
        assert info["pyrage"] and info["python"] == ".".join(map(str, sys.version_info[:3]))


# --- help ------------------------------------------------------------------------------------


def test_help_shows_metavars_as_people_write_them(capsys):
    seen = 0
    for cmd in _commands():
        res = run_cli([*cmd.path[1:], "--help"], capsys)
        assert res.code == 0, cmd.path
        out = res.out
        seen += 1
        assert not re.search(r"<(bool|str|int|float|path|list\[[^\]]*\])>", out), f"{cmd.path}: Python type in help"
        assert "{" not in out.splitlines()[0], f"{cmd.path}: braces in the usage line"
        # Flags take no value; lists are NAME...
        for line in out.splitlines():
            if re.match(r"\s+(-\w, )?--(json|dry-run|quiet|verbose|all|public|read-data|verify|no-keyring)\b", line):
                assert not re.match(r"\s+(-\w, )?--[\w-]+ [A-Z<]", line), f"{cmd.path}: a flag with a value: {line}"
        # Every command (and group) shows examples that are vault command lines.
        assert "\nExamples:\n  vault " in out, f"{cmd.path}: no examples"
    assert seen > 25
    usage = {tuple(c.path): c.usage for c in _commands()}
    assert usage[("vault", "import")] == "vault import [OPTIONS] PATH..."
    assert usage[("vault", "mark")] == "vault mark [OPTIONS] [ID...]"
    assert usage[("vault", "publish")] == "vault publish [OPTIONS] [TARGET]"
    assert usage[("vault", "restore")] == "vault restore [OPTIONS] SRC PATH"
    mark = run_cli(["mark", "--help"], capsys).out
    assert re.search(r"\n  --add-tag TAG +Add this tag", mark) and re.search(r"\n  --public +Publish", mark)
    assert "--limit N" in run_cli(["list", "--help"], capsys).out


def test_a_flag_given_a_value_is_a_clear_usage_error(vault_env):
    res = vault_env.run("--json", "status", "true")
    assert res.code == ExitCode.USAGE and json.loads(res.err)["exit_code"] == 2


def test_bare_vault_and_bare_group_print_help(capsys):
    for args in ([], ["key"]):
        res = run_cli(args, capsys)
        assert res.code == 0 and res.out.startswith("Usage: vault") and res.err == ""


# --- JSON errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("args,words", [
    (["--json", "nosuch"], "No such command"),
    (["--json", "--bogus", "status"], "No such option"),
    (["status", "--bogus", "--json"], "No such option"),
    (["--json", "import"], "Missing argument"),
    (["--json", "list", "--limit", "many"], "--limit"),
    (["--json", "unlock", "--for"], "requires an argument"),
])
def test_usage_errors_are_json_under_json(args, words, capsys):
    res = run_cli(args, capsys)
    assert res.code == ExitCode.USAGE and res.out == ""
    err = json.loads(res.err)
    assert err["exit_code"] == 2 and err["type"] == "UsageError" and words in err["error"] and err["hint"]


def test_json_state_does_not_leak_between_runs(capsys):
    run_cli(["--json", "version"], capsys)
    res = run_cli(["nosuch"], capsys)
    assert res.err.startswith("vault: error: No such command")


# --- ids, and arguments before keys ----------------------------------------------------------


@pytest.fixture
def photos(vault_env, tmp_path):
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=4), "--source", "files").code == 0
    return sorted(r["id"] for r in vault_env.records("--kind", "media"))


def test_ambiguous_prefix_lists_candidates(vault_env, photos):
    common = os.path.commonprefix(photos)
    assert len(common) >= 2
    for args in (["show", common], ["get", common, "-o", "x.jpg"], ["mark", common, "--public"]):
        res = vault_env.run(*args)
        assert res.code == ExitCode.USAGE, args
        assert "matches several records" in res.err and photos[0] in res.err, res.err
        assert "give more characters" in res.err
    err = json.loads(vault_env.run("--json", "show", common).err)
    assert err["exit_code"] == 2 and set(err["candidates"]) <= set(photos) and len(err["candidates"]) >= 2
    # A unique prefix still works, however short.
    unique = next(p[: i] for p in photos for i in range(2, len(p)) if sum(q.startswith(p[:i]) for q in photos) == 1)
    assert vault_env.run("--json", "show", unique).json()["id"].startswith(unique)


def test_arguments_are_checked_before_keys(vault_env, tmp_path, monkeypatch):
    monkeypatch.delenv("VAULT_IDENTITY_FILE")  # no key source at all
    res = vault_env.run("import", tmp_path / "missing.zip")
    assert res.code == ExitCode.USAGE and "no such file or folder" in res.err and "no key" not in res.err
    res = vault_env.run("import", tmp_path, "--source", "myspace")
    assert res.code == ExitCode.USAGE and "unknown source 'myspace'" in res.err
    res = vault_env.run("key", "add-recipient", "age1nonsense")
    assert res.code == ExitCode.USAGE and "not an age X25519 recipient" in res.err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    res = vault_env.run("export", tmp_path / "full")
    assert res.code == ExitCode.USAGE and "not an empty folder" in res.err
    res = vault_env.run("publish")
    assert res.code == ExitCode.USAGE and "nothing to publish to" in res.err
    res = vault_env.run("key", "passwd", "--new-passphrase-file", tmp_path / "nope")
    assert res.code == ExitCode.USAGE and "cannot read passphrase file" in res.err
    # With arguments in order, the missing key is what is reported.
    assert vault_env.run("import", tmp_path / "full").code == ExitCode.KEY_UNAVAILABLE


# --- progress bars ---------------------------------------------------------------------------


def _draw_on_a_terminal(monkeypatch, body) -> str:
    master, slave = pty.openpty()
    stream = os.fdopen(slave, "w")
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(context, "STATE", context.Options())
    body()
    stream.flush()
    out = b""
    while select.select([master], [], [], 0.5)[0]:
        out += os.read(master, 65536)
    stream.close()
    os.close(master)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode("utf-8", "replace"))


def test_progress_bars_count_in_binary_units_with_totals(monkeypatch):
    def body():
        with context.progress_bar("copying", 3 * 2**20) as advance:
            advance(2**20)
            advance(2**20)
        with context.progress_bar("checking", None, unit_bytes=False) as advance:
            advance(0, total=7)
            advance(3)

    shown = _draw_on_a_terminal(monkeypatch, body)
    assert "2.0/3.0 MiB" in shown and re.search(r"\d [KMG]iB/s", shown) and not re.search(r"\b[kMG]B\b", shown)
    assert "3/7" in shown and "/?" not in shown.split("checking")[-1]
    assert context.human_bytes(5 * 2**20) == "5.0 MiB" and context.human_bytes(512) == "512 B"


def test_check_and_publish_report_their_totals(vault_env, photos, tmp_path):
    from vault.maintenance import check
    from vault.publish.pipeline import publish
    from vault.repository import open_vault

    (vault_env.path / "vault.yaml").write_text("publish:\n  title: T\n  base_url: https://example.org/\n")
    assert vault_env.run("mark", "--all", "--public").code == 0
    for run in ("check", "check --read-data", "publish"):
        seen = {"done": 0, "totals": []}

        def progress(n, description=None, total=None):
            seen["done"] += n
            if total is not None:
                seen["totals"].append(total)

        with open_vault(vault_env.path, exclusive=True) as vault:
            vault.unlock()
            if run == "publish":
                publish(vault, target=None, out=tmp_path / "site", to=None, dry_run=False, progress=progress)
            else:
                check(vault, read_data=run.endswith("data"), progress=progress)
        assert seen["totals"] and seen["totals"][-1] == seen["done"] > 0, (run, seen)


# --- manual page -----------------------------------------------------------------------------


def test_man_page_renders_without_warnings(capsys, tmp_path):
    res = run_cli(["man"], capsys)
    assert res.code == 0 and res.out.startswith('.\\"') and '.TH "VAULT" "1"' in res.out
    page = tmp_path / "vault.1"
    page.write_text(res.out)
    for cmd in _commands():
        if len(cmd.path) > 1:
            assert f'.SS "{" ".join(cmd.path[1:])}"' in res.out.replace("\\-", "-")
    groff = shutil.which("groff")
    if groff is None:
        if os.environ.get("CI") == "true":
            raise RuntimeError("CI needs groff (groff-base); .ci/run installs it")
        pytest.skip("groff is not installed")
    proc = subprocess.run([groff, "-man", "-ww", "-z", "-Tutf8", str(page)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    text = subprocess.run([groff, "-man", "-Tutf8", "-P-c", "-P-b", "-P-u", str(page)], capture_output=True, text=True).stdout
    for words in ("vault import [OPTIONS] PATH...", "--tag TAG", "EXIT STATUS", "vault unlock --for 90s", "VAULT_PASSPHRASE_FILE"):
        assert words in text.replace("‐", "-").replace("−", "-"), words
    if shutil.which("man"):
        proc = subprocess.run(["man", "-l", "--warnings", str(page)], capture_output=True, text=True,
                              env=dict(os.environ, MANPAGER="cat", MANWIDTH="100"))
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
