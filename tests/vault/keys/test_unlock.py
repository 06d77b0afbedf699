"""`vault unlock` / `vault lock`: the identity lives in an agent process for a bounded time, answers
only its own user, never lands on disk, and spares later commands the passphrase's scrypt."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from vault import crypto
from vault.errors import ExitCode, UsageError
from vault.keys import agent


@pytest.fixture
def locked_env(vault_env, tmp_path, monkeypatch):
    """A vault that only a passphrase opens, with a private runtime folder; stops any agent after."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.delenv("VAULT_IDENTITY_FILE")
    vault_id = vault_env.run("--json", "key", "show").json()["vault_id"]
    vault_env.vault_id = vault_id
    vault_env.runtime = run
    yield vault_env
    agent.stop(vault_id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (the agent is not our child, but be safe).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, path: Path, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while (_alive(pid) or path.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid) and not path.exists()


def test_passphrase_unlock_pays_scrypt_once(locked_env, monkeypatch):
    calls = []
    real = crypto.passphrase_decrypt

    def counting(data, passphrase):
        calls.append(1)
        return real(data, passphrase)

    monkeypatch.setattr(crypto, "passphrase_decrypt", counting)
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(locked_env.passphrase_file))
    res = locked_env.run("--json", "unlock", "--for", "5m")
    assert res.code == 0, res.err
    info = res.json()
    assert info["unlocked"] and info["source"] == "passphrase-env" and 290 <= info["expires_in"] <= 300
    assert len(calls) == 1
    for args in (["list"], ["search", "anything"], ["reputation"], ["status"]):
        assert locked_env.run(*args).code == 0
    assert len(calls) == 1, "later commands must use the agent, not scrypt again"
    status = locked_env.run("--json", "status").json()
    assert "agent" in status["key_sources"]
    # The passphrase is not needed at all while unlocked.
    monkeypatch.delenv("VAULT_PASSPHRASE_FILE")
    assert locked_env.run("list").code == 0
    res = locked_env.run("--json", "lock")
    assert res.code == 0 and res.json()["was_unlocked"] is True
    _wait_gone(info["pid"], Path(info["socket"]))
    res = locked_env.run("list")
    assert res.code == ExitCode.KEY_UNAVAILABLE, "after `vault lock` the key must be gone at once"
    assert locked_env.run("--json", "lock").json()["was_unlocked"] is False


def test_identity_never_lands_on_disk(locked_env, monkeypatch):
    secret = locked_env.identity_file.read_text().split("AGE-SECRET-KEY-1", 1)[1].split()[0]
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(locked_env.passphrase_file))
    info = locked_env.run("--json", "unlock").json()
    monkeypatch.delenv("VAULT_PASSPHRASE_FILE")
    assert locked_env.run("list").code == 0
    sock = Path(info["socket"])
    assert sock.parent == locked_env.runtime / "vault"
    assert oct(sock.parent.stat().st_mode & 0o777) == "0o700" and oct(sock.stat().st_mode & 0o777) == "0o600"
    roots = [locked_env.runtime, Path(os.environ["TMPDIR"]), Path(os.environ["HOME"]), locked_env.path]
    scanned = 0
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                scanned += 1
                assert secret.encode() not in path.read_bytes().upper(), f"identity found in {path}"
    assert scanned > 3
    cmdline = Path(f"/proc/{info['pid']}/cmdline").read_bytes()
    assert secret.encode() not in cmdline.upper()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to become another user")
def test_another_user_cannot_reach_the_agent(locked_env, monkeypatch):
    # A runtime folder whose parents another user may traverse (pytest's own are 0700).
    import shutil
    import tempfile

    run = Path(tempfile.mkdtemp(prefix="vault-test-", dir="/tmp"))
    os.chmod(run, 0o711)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.setattr(locked_env, "runtime", run)
    try:
        _another_user(locked_env, monkeypatch)
    finally:
        agent.stop(locked_env.vault_id)
        shutil.rmtree(run, ignore_errors=True)


def _another_user(locked_env, monkeypatch):
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(locked_env.passphrase_file))
    info = locked_env.run("--json", "unlock").json()
    sock = Path(info["socket"])

    def as_nobody() -> str:
        """Connect as uid 65534 in a forked child; the child's verdict comes back as its exit code."""
        child = os.fork()
        if child == 0:
            verdict = 9
            try:
                os.setgid(65534)
                os.setuid(65534)
                conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.settimeout(5)
                try:
                    conn.connect(str(sock))
                except PermissionError:
                    verdict = 1
                else:
                    try:
                        conn.sendall(b'{"op": "identity", "vault_id": "%s"}\n' % locked_env.vault_id.encode())
                        reply = conn.recv(4096)
                    except ConnectionError:  # the agent hung up without a word
                        reply = b""
                    verdict = 3 if b"AGE-SECRET" in reply else 2
            finally:
                os._exit(verdict)
        _, status = os.waitpid(child, 0)
        return {1: "no permission", 2: "refused", 3: "answered"}.get(os.waitstatus_to_exitcode(status), "error")

    # The private folder alone stops another user...
    assert as_nobody() == "no permission"
    # ...and if the folder and socket were opened up by mistake, the peer-credential check still does.
    os.chmod(sock.parent, 0o755)
    os.chmod(sock, 0o666)
    try:
        assert as_nobody() == "refused"
    finally:
        os.chmod(sock.parent, 0o700)
        os.chmod(sock, 0o600)
    # The owner is still served.
    monkeypatch.delenv("VAULT_PASSPHRASE_FILE")
    assert locked_env.run("list").code == 0


def test_the_agent_expires(locked_env, monkeypatch):
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(locked_env.passphrase_file))
    info = locked_env.run("--json", "unlock", "--for", "2s").json()
    monkeypatch.delenv("VAULT_PASSPHRASE_FILE")
    assert agent.status(locked_env.vault_id) is not None
    _wait_gone(info["pid"], Path(info["socket"]))
    assert locked_env.run("list").code == ExitCode.KEY_UNAVAILABLE


def test_a_killed_agent_is_ignored(locked_env, monkeypatch):
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(locked_env.passphrase_file))
    info = locked_env.run("--json", "unlock").json()
    monkeypatch.delenv("VAULT_PASSPHRASE_FILE")
    os.kill(info["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(info["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    res = locked_env.run("list")
    assert res.code == ExitCode.KEY_UNAVAILABLE and "no key" in res.err
    assert not Path(info["socket"]).exists(), "a stale socket is cleaned up"


def test_an_unsafe_runtime_folder_is_refused(locked_env, monkeypatch):
    (locked_env.runtime / "vault").mkdir(mode=0o777)
    os.chmod(locked_env.runtime / "vault", 0o777)
    monkeypatch.setenv("VAULT_PASSPHRASE_FILE", str(locked_env.passphrase_file))
    res = locked_env.run("unlock")
    assert res.code == ExitCode.KEY_UNAVAILABLE and "not a private folder" in res.err


def test_bad_duration_is_a_usage_error_before_any_key(locked_env):
    res = locked_env.run("unlock", "--for", "soon")
    assert res.code == ExitCode.USAGE and "not a duration" in res.err
    assert agent.parse_duration("90s") == 90 and agent.parse_duration("1h30m") == 5400
    assert agent.parse_duration("2d") == 172800 and agent.parse_duration("45") == 45
    for bad in ("0s", "8d", "15 minutes", "m15", ""):
        with pytest.raises(UsageError):
            agent.parse_duration(bad)
