"""The unlock agent: keeps a vault's identity in the memory of a small background process for a
bounded time, so that later commands of the same user need no passphrase (``vault unlock``).

Like ssh-agent, the agent listens on a Unix socket in a per-user runtime folder
(``$XDG_RUNTIME_DIR/vault``, else ``$TMPDIR/vault-UID``) that MUST be a 0700 folder owned by the
user; the socket is 0600.  The agent additionally checks every connection's peer credentials
(``SO_PEERCRED``) and answers only processes of its own uid.  Clients check the agent's uid too.

Contract:
* the identity MUST NOT be written to any file, argument or environment variable: the agent is a
  fork of the unlocking process and only ever holds it in memory;
* the agent exits (removing its socket) when its time is up, on ``lock``, or on SIGTERM/SIGHUP,
  and it refuses core dumps and tracing by other processes of the user;
* looking the agent up (``fetch_identity``) never fails loudly: no folder, no socket, a stale
  socket, a foreign owner or a timeout all mean "no agent".

Protocol: one JSON line each way per connection.  Requests ``{"op": "identity", "vault_id"}``,
``{"op": "status"}``, ``{"op": "lock"}``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import struct
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import KeyUnavailableError, UsageError

if TYPE_CHECKING:
    from .secret import Secret

DEFAULT_SECONDS = 15 * 60
MAX_SECONDS = 7 * 24 * 3600
_REQUEST_LIMIT = 64 * 1024
_CLIENT_TIMEOUT = 2.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``1h30m``, ``2d`` or bare seconds (as ssh-add -t) to seconds."""
    given = text.strip().lower()
    if re.fullmatch(r"\d+", given):
        seconds = float(given)
    else:
        parts = re.findall(r"(\d+)([smhd])", given)
        if not parts or "".join(n + u for n, u in parts) != given:
            raise UsageError(f"not a duration: {text!r}", hint="use e.g. 90s, 15m, 1h30m or 2d")
        seconds = float(sum(int(n) * _UNITS[u] for n, u in parts))
    if seconds <= 0 or seconds > MAX_SECONDS:
        raise UsageError(f"duration {text!r} is out of range", hint="between 1s and 7d")
    return seconds


def _now() -> float:
    # CLOCK_BOOTTIME keeps counting while the machine sleeps: a laptop closed for the night does
    # not come back with the vault still unlocked.
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(clock) if clock is not None else time.monotonic()


def runtime_dir() -> Path:
    """The per-user folder that holds agent sockets (not created here)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base:
        return Path(base) / "vault"
    return Path(tempfile.gettempdir()) / f"vault-{os.getuid()}"


def _dir_is_private(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not (st.st_mode & 0o077)


def _ensure_runtime_dir() -> Path:
    path = runtime_dir()
    try:
        path.mkdir(mode=0o700, parents=False, exist_ok=True)
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise KeyUnavailableError(f"cannot create the agent folder {path}: {exc.strerror}") from None
    if not _dir_is_private(path):
        raise KeyUnavailableError(
            f"the agent folder {path} is not a private folder of this user",
            hint="it must be a directory owned by you with mode 0700; remove it or set XDG_RUNTIME_DIR",
        )
    return path


def socket_path(vault_id: str) -> Path:
    # A short name: a socket's whole path must fit in 107 bytes.
    import hashlib

    return runtime_dir() / f"{hashlib.sha256(vault_id.encode()).hexdigest()[:16]}.sock"


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


# --- client ----------------------------------------------------------------------------------


def _request(vault_id: str, message: dict) -> dict | None:
    """Send one request to this vault's agent; None when there is no (trustworthy) agent."""
    path = socket_path(vault_id)
    if not _dir_is_private(path.parent):
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.getuid():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(_CLIENT_TIMEOUT)
    try:
        try:
            conn.connect(str(path))
        except ConnectionRefusedError:
            # The agent died without cleaning up (kill -9): the socket is stale.
            _unlink_quietly(path)
            return None
        if _peer_uid(conn) != os.getuid():
            return None
        conn.sendall(json.dumps(message).encode() + b"\n")
        data = _read_line(conn)
    except OSError:
        return None
    finally:
        conn.close()
    try:
        reply = json.loads(data)
    except ValueError:
        return None
    return reply if isinstance(reply, dict) and reply.get("ok") else None


def _read_line(conn: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < _REQUEST_LIMIT:
        chunk = conn.recv(4096)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if b"\n" in chunk:
            break
    return b"".join(chunks).split(b"\n", 1)[0]


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def fetch_identity(vault_id: str) -> "Secret | None":
    """The identity held by this vault's agent, or None (silently) when there is none."""
    if os.environ.get("VAULT_NO_AGENT"):
        return None
    reply = _request(vault_id, {"op": "identity", "vault_id": vault_id})
    if not reply or not isinstance(reply.get("identity"), str):
        return None
    from .secret import Secret

    return Secret(reply["identity"])


def status(vault_id: str) -> dict | None:
    """``{"pid", "expires_in", "expires_at"}`` of this vault's agent, or None."""
    reply = _request(vault_id, {"op": "status"})
    if not reply:
        return None
    expires_in = float(reply.get("expires_in", 0))
    at = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    return {"pid": reply.get("pid"), "expires_in": round(expires_in), "expires_at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def stop(vault_id: str, wait: float = 5.0) -> bool:
    """Tell this vault's agent to forget the identity and exit; True if one was running."""
    reply = _request(vault_id, {"op": "lock"})
    if not reply:
        return False
    path = socket_path(vault_id)
    deadline = _now() + wait
    while path.exists() and _now() < deadline:
        time.sleep(0.02)
    return True


# --- agent -----------------------------------------------------------------------------------


def start(vault_id: str, identity: "Secret", seconds: float) -> dict:
    """Start an agent holding ``identity`` for ``seconds``, replacing any running one.

    The socket is bound before the fork, so it accepts connections as soon as this returns.
    Returns ``{"pid", "socket", "expires_at", "expires_in"}``.
    """
    if not hasattr(os, "fork") or not hasattr(socket, "SO_PEERCRED"):
        raise KeyUnavailableError("the unlock agent needs Linux (fork and SO_PEERCRED)",
                                  hint="use the OS keyring (`vault init` without --no-keyring) instead")
    _ensure_runtime_dir()
    stop(vault_id)
    path = socket_path(vault_id)
    # Bound and listening under a temporary name first: a client that finds `path` refusing
    # connections takes it for a dead agent's leftover and removes it.
    staging = path.with_name(f".{path.stem}.{os.getpid()}")
    _unlink_quietly(staging)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        server.bind(str(staging))
    except OSError as exc:
        server.close()
        raise KeyUnavailableError(f"cannot create the agent socket {path}: {exc.strerror or exc}",
                                  hint="a shorter XDG_RUNTIME_DIR helps when the path is too long") from None
    finally:
        os.umask(old_umask)
    os.chmod(staging, 0o600)
    server.listen(16)
    os.replace(staging, path)
    inode = os.lstat(path).st_ino
    deadline = _now() + seconds
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked agent
        try:
            os.close(read_end)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            _detach(keep={server.fileno(), write_end})
            os.write(write_end, str(os.getpid()).encode())
            os.close(write_end)
            _serve(server, path, inode, vault_id, identity, deadline)
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as pipe:
        pid_text = pipe.read().decode() or "0"
    server.close()
    if pid_text == "0":
        raise KeyUnavailableError("the unlock agent failed to start")
    at = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return {"pid": int(pid_text), "socket": str(path), "expires_in": round(seconds),
            "expires_at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _detach(keep: set[int]) -> None:  # pragma: no cover - runs in the forked agent
    """Standard streams to /dev/null, every other inherited descriptor (vault lock, index
    database, a caller's pipes) closed, no core dumps, no tracing by the user's other processes."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    lowest = 3
    for fd in sorted(keep | {null}):
        if fd >= lowest:
            os.closerange(lowest, fd)
            lowest = fd + 1
    os.closerange(lowest, 1 << 16)
    os.close(null)
    os.chdir("/")
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    except (OSError, AttributeError):
        pass


def _serve(server: socket.socket, path: Path, inode: int, vault_id: str, identity: "Secret", deadline: float) -> None:  # pragma: no cover - runs in the forked agent
    def leave(signum, frame):  # noqa: ANN001
        raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, leave)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    uid = os.getuid()
    try:
        while True:
            remaining = deadline - _now()
            if remaining <= 0:
                return
            server.settimeout(min(remaining, 60.0))
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            with conn:
                if not _answer(conn, uid, vault_id, identity, deadline):
                    return
    finally:
        try:
            if os.lstat(path).st_ino == inode:
                path.unlink()
        except OSError:
            pass
        server.close()


def _answer(conn: socket.socket, uid: int, vault_id: str, identity: "Secret", deadline: float) -> bool:  # pragma: no cover - runs in the forked agent
    """Answer one request; False when the agent must exit."""
    try:
        if _peer_uid(conn) != uid:
            return True  # another user: no answer at all
        conn.settimeout(_CLIENT_TIMEOUT)
        request = json.loads(_read_line(conn) or b"null")
    except (OSError, ValueError):
        return True
    op = request.get("op") if isinstance(request, dict) else None
    if op == "identity" and request.get("vault_id") == vault_id:
        reply: dict = {"ok": True, "identity": str(identity.reveal())}
    elif op == "status":
        reply = {"ok": True, "pid": os.getpid(), "expires_in": max(0.0, deadline - _now())}
    elif op == "lock":
        reply = {"ok": True}
    else:
        reply = {"ok": False}
    try:
        conn.sendall(json.dumps(reply).encode() + b"\n")
    except OSError:
        pass
    return op != "lock"
