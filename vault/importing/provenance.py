"""Provenance: where each record of an import came from (importer, export file and its SHA-256,
member, capture time).

The SHA-256 of a gigabyte export costs most of a second, so it is remembered per file (a keyed
hint on its path, size and mtime) and computed only when a record first needs it.  (Hashing it on
a worker thread from the start was tried: the thread's hold on the GIL slowed every catalog call
of the main thread more than the overlap saved.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ids import keyed
from ..models import Provenance, iso
from ..store.files import sha256_file

if TYPE_CHECKING:
    from .archive import Part
    from .run import Run


class Provenances:
    """The provenance of one import's records, one per member (records share it)."""

    def __init__(self, run: "Run") -> None:
        self.run = run
        self.captured_iso = iso(run.captured_at)
        self._by_member: dict[str | None, dict] = {}
        self._sha: dict[str, str | None] = {}

    def of(self, member: str | None, extra: dict | None = None) -> dict:
        cached = self._by_member.get(member)
        if cached is None:
            cached = self._by_member[member] = self._make(member)
        prov = dict(cached)
        if extra:
            prov.update({k: v for k, v in extra.items() if v is not None})
        return prov

    def _make(self, member: str | None) -> dict:
        run, src = self.run, self.run.src
        entry = src.get(member) if (member and src is not None) else None
        part = entry.part if entry is not None else (src.parts[0] if src is not None and src.parts else None)
        prov = Provenance(
            importer=run.importer.name,
            importer_version=run.importer.version,
            export=part.name if part else run.label,
            export_sha256=self._part_sha(part) if part else None,
            member=member,
        ).to_json()
        prov["captured_at"] = self.captured_iso
        return prov

    def _part_sha(self, part: "Part") -> str | None:
        key = str(part.path)
        if key in self._sha:
            return self._sha[key]
        sha = None
        if part.kind in ("zip", "tar", "file"):
            st = part.path.stat()
            hint_key = "export-sha:" + keyed(self.run.wk, "export", str(part.path.resolve()), str(st.st_size), str(st.st_mtime_ns))
            sha = self.run.cat.hint(hint_key)
            if sha is None:
                sha = sha256_file(part.path)
                self.run.stage({"op": "hint", "k": hint_key, "v": sha})
        self._sha[key] = sha
        return sha
