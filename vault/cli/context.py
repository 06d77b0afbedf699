"""Global options and output helpers shared by every command.

stdout carries data (text or ``--json``); stderr carries messages and progress bars.  Progress
bars appear only when stderr is a terminal and ``--quiet`` is off.
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import typer

if TYPE_CHECKING:
    from ..repository import Vault


@dataclass
class Options:
    vault: Path | None = None
    json: bool = False
    quiet: bool = False
    verbose: bool = False
    lock_wait: float = 60.0
    identity_file: Path | None = None

    def vault_path(self) -> Path:
        from ..repository import default_location

        return self.vault if self.vault is not None else default_location()


STATE = Options()


def opts() -> Options:
    return STATE


# Characters that a terminal acts on instead of showing: C0 and C1 controls (ESC starts colour,
# cursor and title sequences; U+009B is a one-character CSI in some terminals), DEL, and the
# bidirectional overrides that make text display in another order than it is stored.  Text from
# exports (file names, posts) reaches the terminal, so these are shown as escapes instead.
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{_CONTROLS}]")
_UNSAFE_IN_LINE = re.compile(f"[{_CONTROLS}\t\n]")
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text: str, one_line: bool = False) -> str:
    """``text`` with terminal control characters escaped visibly (ESC -> ``\\x1b``).

    Newlines and tabs are kept unless ``one_line``, where they are escaped too so that one
    record stays one line.
    """
    return (_UNSAFE_IN_LINE if one_line else _UNSAFE).sub(_escape, text)


def json_text(obj: Any, **kwargs: Any) -> str:
    """``obj`` as one line of JSON that cannot drive a terminal (for stdout and for errors on stderr)."""
    # json escapes C0 controls itself; the rest are escaped as \uXXXX, which is the same JSON
    # value, so the output stays exact JSON and still cannot drive a terminal.
    text = json.dumps(obj, ensure_ascii=False, default=str, **kwargs)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_json(obj: Any) -> None:
    sys.stdout.write(json_text(obj, sort_keys=False) + "\n")


def print_jsonl(obj: Any) -> None:
    sys.stdout.write(json_text(obj) + "\n")


def say(text: str = "", one_line: bool = False) -> None:
    """Data for people on stdout (not used with --json), control characters escaped."""
    sys.stdout.write(printable(text, one_line) + "\n")


def info(text: str) -> None:
    """A message on stderr, silenced by --quiet."""
    if not STATE.quiet:
        sys.stderr.write(printable(text) + "\n")


def warn(text: str) -> None:
    if not STATE.quiet:
        sys.stderr.write(f"vault: warning: {printable(text)}\n")


def render(obj: Any, text: Callable[[Any], None]) -> None:
    """Print ``obj`` as JSON with --json, else through the ``text`` renderer."""
    if STATE.json:
        print_json(obj)
    else:
        text(obj)


def show_progress() -> bool:
    return not STATE.quiet and not STATE.json and sys.stderr.isatty()


@contextmanager
def progress_bar(description: str, total: int | None, unit_bytes: bool = True) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n, description=None, total=None)``; draws a rich progress bar on stderr only
    when it is a terminal.  A new description replaces the label (e.g. with a running count of
    files); ``total`` sets the bar's end once the caller knows it.  Sizes are in binary units
    (KiB, MiB, GiB), as in every summary line."""
    if not show_progress():
        yield lambda n, description=None, total=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description}"), BarColumn()]
    columns += [DownloadColumn(binary_units=True), _binary_speed_column()] if unit_bytes else [MofNCompleteColumn()]
    columns.append(TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task(description, total=total or None)

        def advance(n: int, description: str | None = None, total: int | None = None) -> None:
            if description is not None:
                prog.update(task, description=description)
            if total is not None:
                prog.update(task, total=total)
            prog.advance(task, n)

        yield advance


def human_bytes(n: float) -> str:
    """A byte count in binary units, as the progress bars show them: ``12.3 MiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _binary_speed_column():
    from rich.progress import ProgressColumn
    from rich.text import Text

    class BinarySpeedColumn(ProgressColumn):
        """Transfer speed in MiB/s (rich's own column counts in MB/s)."""

        def render(self, task) -> Text:  # noqa: ANN001
            speed = task.finished_speed or task.speed
            return Text("?" if speed is None else f"{human_bytes(speed)}/s", style="progress.data.speed")

    return BinarySpeedColumn()


def exit_with(code: int) -> None:
    if code:
        raise typer.Exit(code)


@contextmanager
def open_vault(*, exclusive: bool = False, unlock: bool = False, wait: float | None = None, lock: bool = True) -> Iterator[Vault]:
    """Open the vault the global options name, for the duration of one command.

    The one way commands open the vault.  ``exclusive`` takes the exclusive lock (key changes,
    curation, publish, compact, gc), otherwise the shared one; the lock is waited for at most
    ``--lock-wait`` seconds, or ``wait`` seconds (shell completion must not hang).  ``unlock``
    finds the identity (``--identity-file``, agent, keyring, passphrase) before the command runs.
    ``lock=False`` takes no lock at all, for commands that only read ``vault.json``.
    """
    from ..repository import open_vault as open_locked

    with open_locked(STATE.vault_path(), exclusive=exclusive, wait=STATE.lock_wait if wait is None else wait, lock=lock) as vault:
        if not STATE.json:  # with --json, stderr holds nothing but an error object
            vault.on_note = lambda text: info(f"vault: {text}")
        if unlock:
            vault.unlock(STATE.identity_file)
        yield vault
