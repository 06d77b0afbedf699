"""Provenance: where each record of an import came from (importer, export file and its SHA-256,
member, capture time).

The SHA-256 of a gigabyte export costs most of a second.  It is remembered per file (a keyed hint
on its path, size and mtime), and for a file not seen before it is computed on a worker thread
from the start of the import, so that it overlaps with reading the members (hashlib releases the
GIL) instead of holding up the first record.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from ..ids import keyed
from ..models import Provenance, iso

if TYPE_CHECKING:
    from .archive import Part
    from .run import Run


class _Stopped(Exception):
    """The import ended before the hash was needed."""


def _sha256(path: Path, stop: threading.Event) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            if stop.is_set():
                raise _Stopped
            h.update(chunk)
    return h.hexdigest()


class Provenances:
    """The provenance of one import's records, one per member (records share it)."""

    def __init__(self, run: "Run") -> None:
        self.run = run
        self.captured_iso = iso(run.captured_at)
        self._by_member: dict[str | None, dict] = {}
        self._sha: dict[str, str | None] = {}
        self._pending: dict[str, tuple[str, Future[str]]] = {}  # part path -> (hint key, hash on its way)
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None

    def hash_ahead(self) -> None:
        """Start hashing the export's files whose SHA-256 no earlier import remembered."""
        src = self.run.src
        for part in src.parts if src is not None else ():
            if part.kind not in ("zip", "tar", "file") or str(part.path) in self._sha:
                continue
            key = self._hint_key(part)
            known = self.run.cat.hint(key)
            if known is not None:
                self._sha[str(part.path)] = known
                continue
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vault-export-sha")
            self._pending[str(part.path)] = (key, self._pool.submit(_sha256, part.path, self._stop))

    def keep_finished(self) -> None:
        """Remember the hashes that finished though no record asked for them (staged with the
        import, so the next import of the same file needs none)."""
        for path, (key, future) in list(self._pending.items()):
            if future.done() and future.exception() is None:
                del self._pending[path]
                self._sha[path] = future.result()
                self.run.stage({"op": "hint", "k": key, "v": self._sha[path]})

    def close(self) -> None:
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _hint_key(self, part: "Part") -> str:
        st = part.path.stat()
        return "export-sha:" + keyed(self.run.wk, "export", str(part.path.resolve()), str(st.st_size), str(st.st_mtime_ns))

    def _part_sha(self, part: "Part") -> str | None:
        path = str(part.path)
        if path in self._sha:
            return self._sha[path]
        if path not in self._pending:
            if part.kind not in ("zip", "tar", "file"):
                self._sha[path] = None
                return None
            self.hash_ahead()
            if path in self._sha:
                return self._sha[path]
        key, future = self._pending.pop(path)
        sha = self._sha[path] = future.result()
        self.run.stage({"op": "hint", "k": key, "v": sha})
        return sha

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
