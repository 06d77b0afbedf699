"""The cross-cutting command-line contract: exit codes, global options anywhere, JSON errors."""

from __future__ import annotations

import json

from tests.support.env import run_cli
from vault.cli import hoist_global_options
from vault.errors import ExitCode, IntegrityError, Interrupted, KeyUnavailableError, LockedError, NoVaultError, UnsupportedInputError, UsageError, VaultError, WrongPassphraseError


def test_exit_codes_are_pinned():
    assert {e.name: int(e) for e in ExitCode} == {
        "OK": 0, "UNEXPECTED": 1, "USAGE": 2, "PARTIAL": 3, "NO_VAULT": 10, "LOCKED": 11,
        "KEY_UNAVAILABLE": 12, "INTEGRITY": 13, "UNSUPPORTED_INPUT": 20, "INTERRUPTED": 130,
    }
    assert VaultError.exit_code == 1 and UsageError.exit_code == 2 and NoVaultError.exit_code == 10
    assert LockedError.exit_code == 11 and KeyUnavailableError.exit_code == 12 and WrongPassphraseError.exit_code == 12
    assert IntegrityError.exit_code == 13 and UnsupportedInputError.exit_code == 20 and Interrupted.exit_code == 130


def test_global_options_hoisted_from_after_the_command():
    assert hoist_global_options(["status", "--json"]) == ["--json", "status"]
    assert hoist_global_options(["list", "--vault", "/v", "--kind", "post"]) == ["--vault", "/v", "list", "--kind", "post"]
    assert hoist_global_options(["search", "--lock-wait=5", "x"]) == ["--lock-wait=5", "search", "x"]
    assert hoist_global_options(["search", "--", "--json"]) == ["search", "--", "--json"]


def test_json_before_or_after_command_is_the_same(vault_env):
    a = vault_env.run("--json", "status")
    b = vault_env.run("status", "--json")
    assert a.code == b.code == 0
    assert json.loads(a.out)["counts"] == json.loads(b.out)["counts"]


def test_usage_error_exits_2(vault_env):
    res = vault_env.run("list", "--kind", "nonsense")
    assert res.code == ExitCode.USAGE and "vault: error: unknown kind" in res.err
    res = vault_env.run("import")
    assert res.code == ExitCode.USAGE and res.err.startswith("vault: error:")


def test_errors_as_json_on_stderr(tmp_path, capsys):
    res = run_cli(["--json", "--vault", tmp_path / "none", "status"], capsys)
    assert res.code == ExitCode.NO_VAULT and res.out == ""
    err = json.loads(res.err)
    assert err["exit_code"] == 10 and "no vault" in err["error"] and "hint" in err


def test_help_has_examples(capsys):
    for cmd in (["import", "--help"], ["list", "--help"], ["check", "--help"]):
        res = run_cli(cmd, capsys)
        assert res.code == 0 and "Example" in res.out


def test_unknown_record_is_usage_error(vault_env):
    res = vault_env.run("show", "p_doesnotexist")
    assert res.code == ExitCode.USAGE and "no record with id" in res.err
