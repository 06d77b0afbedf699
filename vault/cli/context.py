"""Global options and output helpers shared by every command.

stdout carries data (text or ``--json``); stderr carries messages and progress bars.  Progress
bars appear only when stderr is a terminal and ``--quiet`` is off.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import typer


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


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, sort_keys=False, default=str) + "\n")


def print_jsonl(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def say(text: str = "") -> None:
    """Data for people on stdout (not used with --json)."""
    sys.stdout.write(text + "\n")


def info(text: str) -> None:
    """A message on stderr, silenced by --quiet."""
    if not STATE.quiet:
        sys.stderr.write(text + "\n")


def warn(text: str) -> None:
    if not STATE.quiet:
        sys.stderr.write(f"vault: warning: {text}\n")


def render(obj: Any, text: Callable[[Any], None]) -> None:
    """Print ``obj`` as JSON with --json, else through the ``text`` renderer."""
    if STATE.json:
        print_json(obj)
    else:
        text(obj)


def show_progress() -> bool:
    return not STATE.quiet and not STATE.json and sys.stderr.isatty()


@contextmanager
def progress_bar(description: str, total: int | None, unit_bytes: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n, description=None)``; draws a rich progress bar on stderr only when it
    is a terminal (a new description replaces the label, e.g. with a running count of files)."""
    if not show_progress():
        yield lambda n, description=None: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn()]
    columns += [DownloadColumn(), TransferSpeedColumn()] if unit_bytes else [MofNCompleteColumn()]
    columns.append(TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task(description, total=total or None)

        def advance(n: int, description: str | None = None) -> None:
            if description is not None:
                prog.update(task, description=description)
            prog.advance(task, n)

        yield advance


def exit_with(code: int) -> None:
    if code:
        raise typer.Exit(code)
