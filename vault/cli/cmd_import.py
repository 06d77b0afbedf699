"""`vault import`: read an export into the vault, without duplicates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app, context


@app.command(
    "import",
    epilog=(
        "Examples:\n\n"
        "  vault import facebook-jana-2024-05-14-abc.zip\n\n"
        "  vault import part1.zip part2.zip            # the parts of one export\n\n"
        "  vault import ~/Pictures/2024 --source files --dry-run\n\n"
        "Exit codes: 0 imported (or nothing to import in a recognised export), 3 some items were skipped (listed), 20 not a supported export."
    ),
)
def import_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Export zip(s), tar.gz, file or unpacked folder; several paths are parts of one export.")],
    source: Annotated[Optional[str], typer.Option(help="Name the source instead of detecting it (see `vault sources`).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and report what would be added; write nothing.")] = False,
) -> None:
    """Import an export into the vault, without duplicates however often it is run."""
    from ..importing.pipeline import Event, run_import

    _check_import_args(paths, source)
    with context.open_vault(exclusive=not dry_run, unlock=True) as vault:
        state: dict = {}

        def on_event(ev: Event) -> None:
            if ev.kind == "start":
                state["label"], state["items"] = ev.label, 0
                state["bar"] = context.progress_bar(f"importing {ev.label}", ev.total)
                state["advance"] = state["bar"].__enter__()
            elif ev.kind == "bytes" and "advance" in state:
                state["advance"](ev.amount)
            elif ev.kind == "item" and "advance" in state:
                state["items"] += 1
                state["advance"](0, f"importing {state['label']}: {state['items']} items")

        try:
            report = run_import(vault, paths, source=source, dry_run=dry_run, on_event=on_event)
        finally:
            if "bar" in state:
                state["bar"].__exit__(None, None, None)
    render_import_report(report.to_json())
    context.exit_with(3 if report.skipped else 0)


def _check_import_args(paths: list[Path], source: str | None) -> None:
    """Mistakes in the arguments are reported before any key is asked for."""
    from .. import plugins
    from ..errors import UsageError

    for path in paths:
        if not os.path.exists(path):
            raise UsageError(f"no such file or folder: {path}")
    if source is not None and source not in plugins.importers.specs():
        known = ", ".join(sorted(plugins.importers.specs()))
        raise UsageError(f"unknown source {source!r}", hint=f"known sources: {known}")


def render_import_report(rep: dict) -> None:
    """The import report (also used by `vault scrape`): text for people, or the JSON object."""
    def text(r: dict) -> None:
        verb = "would add" if r.get("dry_run") else "added"
        def fmt(d: dict) -> str:
            return ", ".join(f"{n} {k}" for k, n in d.items() if n) or "nothing"
        context.say(f"{r['source']}: {r['export']}", one_line=True)
        context.say(f"  {verb}:     {fmt(r['added'])}")
        if any(r["updated"].values()):
            context.say(f"  updated:   {fmt(r['updated'])}")
        context.say(f"  unchanged: {fmt(r['unchanged'])}")
        for s in r["skipped"]:
            context.say(f"  skipped:   {s['path']}: {s['reason']}", one_line=True)
        for w in r["warnings"]:
            context.say(f"  warning:   {w}", one_line=True)
        if r.get("held"):
            from ..models import counted

            context.say("  held:      " + ", ".join(counted(what, n) for what, n in r["held"].items()) + " (not imported)")
        for note in r.get("notes", []):
            context.say(f"  note:      {note}", one_line=True)

    context.render(rep, text)
