"""Re-imports that read only what changed: the keyed hints that remember what was read.

Two levels, both remembered as catalog hints whose names are keyed HMACs (nothing about the
export can be learnt from them) and whose values live in the encrypted catalog:

* the whole export (``ExportReplay``): when every member is the same as in an earlier complete
  import, nothing is read and the earlier report is repeated;
* one member (``MemberMemory``): an importer asks ``ExportSource.unchanged(entry)`` before it
  reads a big member; when an earlier import read that very member (same importer version,
  path, size and fingerprint, and the same ``depends`` members) and the files it found only by
  reading it (``inputs``) are unchanged too, the answer is yes, the member's records count as
  unchanged and the problems its reading gave are repeated.  A member is not remembered when
  its outcome hung on something else (``unsettled``: a file it names was missing) or its bytes
  could not be read (a damaged or unreadable file may read next time).

A hint is staged into the same journal segment as the import that earned it, so it becomes
visible only when that import commits: an interrupted import remembers nothing, and a dry run
stages nothing at all.  Media files skip by their own fingerprint (``media.py``).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from ..ids import keyed

if TYPE_CHECKING:
    from .archive import Entry, ExportSource
    from .run import Run

# Part of the unchanged-export and unchanged-member keys: raise it when the pipeline starts to
# turn items into records differently, so that everything is read again once.
EXPORT_SKIP_VERSION = "1"

KINDS = ("post", "media", "rating")


def _totals(value: Any) -> dict[str, int]:
    return {k: int(value.get(k, 0)) for k in KINDS}


def _problems(earlier: dict) -> tuple[list[dict[str, str]], list[str]]:
    skipped = [{"path": str(x["path"]), "reason": str(x["reason"])} for x in earlier.get("skipped", [])]
    return skipped, [str(w) for w in earlier.get("warnings", [])]


def listing_digest(src: "ExportSource") -> str:
    """SHA-256 over every member's path, size and fingerprint and every refused member: the
    same for the same export, different when anything in it changed."""
    h = hashlib.sha256()
    for entry in sorted(src.entries, key=lambda e: (e.rel, e.path, e.part.name)):
        h.update(f"{entry.rel}\0{entry.size}\0{entry.fingerprint}\n".encode())
    for problem in src.problems:
        h.update(f"!{problem.path}\0{problem.reason}\n".encode())
    return h.hexdigest()


def chosen_key(wk: bytes, src: "ExportSource", installed: str) -> str:
    """The hint naming the importer that recognised this very export, among the importers
    ``installed`` (names and versions: another set of importers may choose otherwise)."""
    return "export-importer:" + keyed(wk, "export-importer", EXPORT_SKIP_VERSION, installed, listing_digest(src))


class ExportReplay:
    """The whole-export skip: an export whose every member is unchanged is not read at all."""

    def __init__(self, run: "Run") -> None:
        self.run = run
        self.key = self._listing_key()
        self.replayed = False
        self.chosen: str | None = None  # the hint remembering which importer recognised it

    def _listing_key(self) -> str | None:
        """Keyed fingerprint of everything the importer could read: its name and version and
        every member's path, size and fingerprint (a zip member's CRC-32, a file's size and
        mtime).  Any member added, removed or changed gives another key."""
        src, importer = self.run.src, self.run.importer
        if src is None:
            return None
        return "export-done:" + keyed(self.run.wk, "export-listing", EXPORT_SKIP_VERSION, importer.name,
                                      importer.version, listing_digest(src))

    def replay(self) -> bool:
        """True when this very export was imported completely before and every object its
        source's records point at is still stored: the report is then the earlier one's
        (everything unchanged) and no member is read or parsed."""
        run = self.run
        known = run.cat.hint(self.key) if self.key else None
        if not known:
            return False
        try:
            earlier = json.loads(known)
            totals = _totals(earlier["totals"])
            skipped, warnings = _problems(earlier)
            held = {str(k): int(n) for k, n in earlier.get("held", {}).items()}
            notes = [str(n) for n in earlier.get("notes", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return False
        if not all(run.vault.objects.exists(oid) for oid in run.cat.source_objects(run.importer.name)):
            return False  # something was lost: read the export again to put it back
        report = run.report
        report.unchanged, report.skipped, report.warnings = totals, skipped, warnings
        report.held, report.notes = held, notes
        report.unchanged_files = len(run.src.entries) if run.src is not None else 0
        self.replayed = True
        return True

    def remember(self) -> None:
        """Stage the report of a complete import under the export's key."""
        run, r = self.run, self.run.report
        if self.chosen and run.cat.hint(self.chosen) != run.importer.name:
            run.stage({"op": "hint", "k": self.chosen, "v": run.importer.name})
        if not self.key or self.replayed:
            return
        if run.src is not None and len(r.skipped) > len(run.src.problems):
            return  # an item could not be read: it may read next time (a file made readable)
        totals = {k: r.added[k] + r.updated[k] + r.unchanged[k] for k in KINDS}
        run.stage({"op": "hint", "k": self.key, "v": json.dumps(
            {"totals": totals, "skipped": r.skipped, "warnings": r.warnings, "held": r.held, "notes": r.notes},
            ensure_ascii=False, sort_keys=True)})


class MemberMemory:
    """Answers ``ExportSource.unchanged`` for one import, and remembers what it read.

    The records a member gave are its posts and ratings whose ``member`` is the member's path,
    and the problems whose ``path`` is that path (or starts with it and ":", e.g. "x.csv:row 3").
    Media are never counted for a member: they are yielded, and skip, by their own fingerprint.
    """

    def __init__(self, run: "Run") -> None:
        self.run = run
        self.reading: dict[str, tuple[str, "Entry"]] = {}  # rel -> (hint key, the member)
        self.replayed: set[str] = set()
        self.unsettled_: set[str] = set()
        self.tally: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, dict[str, list]] = {}       # rel -> what the importer asked to remember
        self.recalls: dict[str, list[str]] = {}          # rel -> names remembered with a skipped member
        self.aliases: dict[str, str] = {}                # full path inside its part -> rel (items may use either)

    # asked by the importer, through ExportSource ------------------------------------------------

    def unchanged(self, entry: "Entry", depends: "tuple[Entry, ...]") -> bool:
        rel = entry.rel
        if rel in self.replayed:
            return True
        if rel in self.reading:
            return False
        key = self._key(entry, depends)
        if self._replay(rel, self.run.cat.hint(key)):
            return True
        self.reading[rel] = (key, entry)
        self.aliases[entry.path] = rel
        return False

    def unsettled(self, rel: str) -> None:
        self.unsettled_.add(self.aliases.get(rel, rel))

    def remember(self, entry: "Entry", names: tuple[str, ...], inputs: "tuple[Entry, ...]") -> None:
        if entry.rel not in self.reading:
            return
        notes = self.notes.setdefault(entry.rel, {"names": [], "inputs": []})
        notes["names"].extend(names)
        notes["inputs"].extend([dep.rel, dep.size, dep.fingerprint] for dep in inputs)

    def recalled(self, entry: "Entry") -> list[str]:
        return list(self.recalls.get(entry.rel, ()))

    def _key(self, entry: "Entry", depends: "tuple[Entry, ...]") -> str:
        h = hashlib.sha256()
        for dep in sorted(depends, key=lambda e: (e.rel, e.path)):
            h.update(f"{dep.rel}\0{dep.size}\0{dep.fingerprint}\n".encode())
        importer = self.run.importer
        return "member-done:" + keyed(self.run.wk, "member-done", EXPORT_SKIP_VERSION, importer.name, importer.version,
                                      entry.rel, str(entry.size), entry.fingerprint, h.hexdigest())

    def _replay(self, rel: str, known: str | None) -> bool:
        if not known:
            return False
        try:
            earlier = json.loads(known)
            totals = _totals(earlier["totals"])
            skipped, warnings = _problems(earlier)
            names = [str(name) for name in earlier.get("names", [])]
            inputs = [(str(path), size, str(fp)) for path, size, fp in earlier.get("inputs", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return False
        src = self.run.src
        for dep_rel, size, fingerprint in inputs:
            dep = src.get(dep_rel) if src is not None else None
            if dep is None or dep.size != size or dep.fingerprint != fingerprint:
                return False  # a file its records drew on changed or went: read it again
        report = self.run.report
        for kind, count in totals.items():
            report.unchanged[kind] += count
        report.skipped.extend(skipped)
        report.warnings.extend(warnings)
        report.unchanged_files += 1
        self.replayed.add(rel)
        self.recalls[rel] = names
        return True

    # told by the pipeline, as it handles items -------------------------------------------------

    def _of(self, name: str | None) -> dict[str, Any] | None:
        rel = self.aliases.get(name, name) if name is not None else None
        if rel is None or rel not in self.reading:
            return None
        tally = self.tally.get(rel)
        if tally is None:
            tally = self.tally[rel] = {"totals": dict.fromkeys(KINDS, 0), "skipped": [], "warnings": []}
        return tally

    def counted(self, rel: str | None, kind: str, count: int) -> None:
        tally = self._of(rel)
        if tally is not None and count:
            tally["totals"][kind] += count

    def skipped(self, path: str, reason: str) -> None:
        tally = self._of(path if path in self.reading or path in self.aliases else path.rpartition(":")[0])
        if tally is not None:
            tally["skipped"].append({"path": path, "reason": reason})

    def warned(self, path: str | None, shown: str) -> None:
        tally = self._of(path)
        if tally is not None:
            tally["warnings"].append(shown)

    # at the end of a successful import ----------------------------------------------------------

    def stage_done(self) -> None:
        """Stage one hint per member read to its end (the caller commits them with the import)."""
        src = self.run.src
        for rel, (key, entry) in self.reading.items():
            if rel in self.unsettled_ or (src is not None and src.read_failed(entry)):
                continue  # its bytes could not be read (a damaged or unreadable file): try again next time
            tally = self.tally.get(rel) or {"totals": dict.fromkeys(KINDS, 0), "skipped": [], "warnings": []}
            value = dict(tally, **self.notes.get(rel, {}))
            self.run.stage({"op": "hint", "k": key, "v": json.dumps(value, ensure_ascii=False, sort_keys=True)})
