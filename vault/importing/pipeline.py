"""The import pipeline: importers yield items; this module dedups, encrypts and commits them.

Contract for importers (``Importer``):

* ``recognize(src)`` is cheap and decides by content, returning 0 (not mine) to 100 (certain).
  It may raise ``UnsupportedInputError`` when it recognises a variant it cannot read (e.g. a
  Facebook export in HTML format), so the user learns what to do instead.
* ``read(src)`` yields ``PostItem``/``MediaItem``/``RatingItem``/``CaptureItem`` and per-item
  problems as ``Skipped``/``Warning_`` values; one bad item never aborts the import.  Importers
  never write storage, print or prompt.
* Before reading a big member whole (a posts file, tweets.js, a CSV of ratings) an importer asks
  ``src.unchanged(entry)`` and skips the member when the answer is yes (``replay.MemberMemory``).

The pipeline makes imports idempotent: record ids are keyed HMACs of (kind, source, source id),
media are named by content, an unchanged record writes nothing, and keyed fingerprints let a
re-import skip reading unchanged files altogether.  An import's catalog operations are committed as
one journal segment, after the objects they reference: an interrupted import leaves at worst
unreferenced objects (never a half-visible import), and running it again completes it.

Where the parts live: ``run`` (one import's state, dedup and commit), ``records`` (posts and
ratings), ``media`` (files and captures), ``provenance``, ``replay`` (what re-imports skip),
``report``.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence

from ..errors import UnsupportedInputError, UsageError
from ..models import Item, counted
from .report import Event, ImportReport
from .run import Run

if TYPE_CHECKING:
    from ..repository import Vault
    from .archive import ExportSource

__all__ = ["Event", "ImportReport", "Importer", "choose_importer", "run_import", "run_items"]


class Importer(Protocol):
    name: str
    version: str
    description: str

    def recognize(self, src: "ExportSource") -> int: ...

    def read(self, src: "ExportSource") -> Iterator[Item]: ...


# --- choosing an importer ---------------------------------------------------------------------


def choose_importer(src: "ExportSource", name: str | None) -> Importer:
    from .. import plugins

    if name:
        imp = plugins.importers.get(name)
        if imp is None:
            known = ", ".join(sorted(plugins.importers.specs()))
            raise UsageError(f"unknown source {name!r}", hint=f"known sources: {known}")
        return imp
    best, best_score = None, 0
    for imp in plugins.importers.load_all().values():
        score = imp.recognize(src)
        if score > best_score:
            best, best_score = imp, score
    if best is None:
        refused = ""
        # What was refused or could not be read may be exactly what would have been recognised
        # (a zip of bombs, a damaged posts file).
        problems = [*src.problems, *src.unreadable()]
        if problems:
            first = problems[0]
            more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
            refused = f" (refused: {first.path}: {first.reason}{more})"
        raise UnsupportedInputError(f"{src.display_name}: not a recognised export{refused}", hint=_unrecognised_hint(src))
    return best


# What a downloaded export usually comes as; a folder of them is not itself an export.
_ARCHIVE_ENDINGS = (".zip", ".tar", ".tar.gz", ".tgz")


def _unrecognised_hint(src: "ExportSource") -> str:
    """What to do about an export nobody recognised.  A folder holding the export's archives
    (a download folder with a Facebook export's three zips) is not read as those archives: the
    user is shown the command that would read them."""
    import shlex

    from .archive.names import printable

    usual = "run `vault sources` to see what can be imported, or name the source with --source"
    archives = [str(entry.part.path / entry.path) for entry in src.entries
                if entry.part.kind == "dir" and entry.path.lower().endswith(_ARCHIVE_ENDINGS)]
    if not archives:
        return usual
    archives.sort()
    command = " ".join(shlex.quote(printable(path)) for path in archives[:4])
    more = f" (and {len(archives) - 4} more)" if len(archives) > 4 else ""
    what = f"{len(archives)} archives" if len(archives) > 1 else "an archive"
    return (f"the folder holds {what}, and an archive is read only when it is named: "
            f"`vault import {command}`{more}; or {usual}")


def _remembered_importer(vault: "Vault", src: "ExportSource") -> tuple[Importer | None, str]:
    """The importer that recognised this very export last time (a re-import asks no importer
    to recognise it again: that reads members), and the hint under which this import's choice
    is remembered."""
    from .. import plugins
    from .replay import chosen_key

    keys = vault.keys or vault.unlock()
    key = chosen_key(keys.writer_key, src, plugins.importers.fingerprint())
    name = vault.catalog().hint(key)
    return (plugins.importers.get(name) if name else None), key


# --- running it --------------------------------------------------------------------------


def run_import(
    vault: "Vault",
    paths: Sequence[str | Path],
    *,
    source: str | None = None,
    dry_run: bool = False,
    on_event: Callable[[Event], None] | None = None,
) -> ImportReport:
    """Import the export at ``paths`` (several paths = parts of one export) into ``vault``.

    The caller holds the vault's exclusive lock.  Returns the report; raises VaultError for a
    failure of the whole import (unrecognised input, key unavailable, disk full).
    """
    from .archive import ExportSource

    with ExportSource(paths) as src, fewer_collections():
        importer, chosen = (None, None) if source else _remembered_importer(vault, src)
        importer = importer or choose_importer(src, source)
        run = Run(vault, src, importer, dry_run, on_event)
        run.export_replay.chosen = chosen
        try:
            if run.export_replay.replay():
                run.finish()
                return run.report
            run.provenances.hash_ahead()  # its records will need the export's SHA-256
            for problem in src.problems:
                run.report.skipped.append({"path": problem.path, "reason": problem.reason})
            total = sum(e.size or 0 for e in src.entries)
            run.use_workers(total)
            run.emit(Event("start", total=total, label=importer.name))
            # On failure nothing of the import becomes visible; objects already stored are
            # reused by the next run (or removed by `vault gc`).
            run.handle_all(importer.read(src))
            _report_unreadable(src, run.report)
            if run.report.total == 0 and not run.report.skipped:
                _nothing_imported(src, importer, source, run.report)
            run.finish()
        finally:
            run.close()
        return run.report


def _report_unreadable(src: "ExportSource", report: ImportReport) -> None:
    """Members whose bytes could not be read are skipped items, also when the importer never
    said so: a damaged file that failed while being recognised must not vanish silently."""
    named = {item["path"] for item in report.skipped}
    for problem in src.unreadable():
        if problem.path not in named and not any(path.startswith(problem.path + ":") for path in named):
            report.skipped.append({"path": problem.path, "reason": problem.reason})


def _nothing_imported(src: "ExportSource", importer: Importer, named: str | None, report: ImportReport) -> None:
    """An export that gave no record at all: fine when it is this source's export with nothing
    to import (a note says what it held), an error when it is not this source's export at all
    (``--source`` named a source that does not recognise it)."""
    if named and not importer.recognize(src):
        reads = getattr(importer, "reads", "")
        raise UnsupportedInputError(
            f"{src.display_name}: nothing in it is what the {importer.name} importer reads",
            hint=(f"the {importer.name} importer reads: {reads}; " if reads else "")
            + "run `vault sources` to see what can be imported, or leave out --source to detect the source",
        )
    held = ", ".join(counted(what, count) for what, count in report.held.items())
    report.notes.append("nothing to import: 0 posts, 0 media, 0 ratings" + (f"; it held {held}" if held else ""))


def run_items(
    vault: "Vault",
    importer: Importer,
    items: Iterator[Item],
    *,
    label: str,
    dry_run: bool = False,
    on_event: Callable[[Event], None] | None = None,
) -> ImportReport:
    """Commit items that do not come from an export file (live captures such as `vault scrape`).

    Same guarantees as ``run_import``: one atomic catalog segment, idempotent upserts.
    """
    run = Run(vault, None, importer, dry_run, on_event, label=label)
    try:
        with fewer_collections():
            run.handle_all(items)
            run.finish()
    finally:
        run.close()
    return run.report


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cycle collector after 10,000 new container objects instead of 700, for the
    duration of an import.  An import makes millions of short-lived dicts and lists (records,
    JSON), which reference counting frees as they go; collecting every 700 of them cost about
    0.3 s of CPU (650 collections) in the importer's 5 s for a 1 GB Facebook export, 0.06 s
    so.  Reference cycles are still collected, a little later."""
    import gc

    before = gc.get_threshold()
    gc.set_threshold(10_000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
