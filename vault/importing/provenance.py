"""Provenance: where each record of an import came from (importer, export file and its SHA-256,
member, capture time).

The SHA-256 of a gigabyte export costs most of a second, so it is remembered per file (a keyed
hint on its path, size and mtime), and a file not seen before is hashed by a child process from
the start of the import, on another core, while the members are read.  (A thread was tried: its
hold on the GIL slowed every catalog call of the main thread more than the overlap saved.)  The
child reads only the export file, which is not secret; if it fails, the file is hashed here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..ids import keyed
from ..models import Provenance, iso
from ..store.files import sha256_file

if TYPE_CHECKING:
    from .archive import Part
    from .run import Run


_HASH_CHILD = """
import hashlib, sys
h = hashlib.sha256()
buf = bytearray(1 << 20)
view = memoryview(buf)
with open(sys.argv[1], "rb", buffering=0) as fh:
    while n := fh.readinto(buf):
        h.update(view[:n])
print(h.hexdigest())
"""  # one buffer for every read, as store.files.sha256_file (a new megabyte per read costs more)


# Members whose provenance is kept for the next record from the same member (a posts file gives
# thousands; each photo is a member of its own, and 30,000 of them held 8 MB).
MEMBERS_KEPT = 256


class _HashChild:
    """``sha256(path)`` computed by a child Python process."""

    def __init__(self, path: str) -> None:
        self.path = path
        # No environment beyond what starting Python may need: the child has no use for the rest.
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LD_LIBRARY_PATH", "SYSTEMROOT")}
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _HASH_CHILD, path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)

    def result(self) -> str:
        out, _ = self.proc.communicate()
        sha = out.decode("ascii", "replace").strip()
        if self.proc.returncode == 0 and len(sha) == 64:
            return sha
        return sha256_file(Path(self.path))  # the child failed: hash it here, with the usual errors

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


class Provenances:
    """The provenance of one import's records, one per member (records share it)."""

    def __init__(self, run: "Run") -> None:
        self.run = run
        self.captured_iso = iso(run.captured_at)
        self._by_member: dict[str | None, dict] = {}
        self._sha: dict[str, str | None] = {}
        self._children: dict[str, tuple[str, _HashChild]] = {}  # part path -> (hint key, child hashing it)

    def hash_ahead(self) -> None:
        """Start hashing, in child processes, the export's files no earlier import hashed."""
        src = self.run.src
        for part in src.parts if src is not None else ():
            path = str(part.path)
            if part.kind not in ("zip", "tar", "file") or path in self._sha or path in self._children:
                continue
            key = self._hint_key(part)
            known = self.run.cat.hint(key)
            if known is not None:
                self._sha[path] = known
                continue
            try:
                self._children[path] = (key, _HashChild(path))
            except OSError:
                return  # no child process to be had: hashed here when needed

    def keep_finished(self) -> None:
        """Remember the hashes that finished though no record asked for them (staged with the
        import, so that the next import of the same file needs none)."""
        for path, (hint_key, child) in list(self._children.items()):
            if child.proc.poll() == 0:
                del self._children[path]
                self._sha[path] = child.result()
                self.run.stage({"op": "hint", "k": hint_key, "v": self._sha[path]})

    def close(self) -> None:
        """Stop the children whose hash nobody needed."""
        children, self._children = self._children, {}
        for _, child in children.values():
            child.stop()

    def _hint_key(self, part: "Part") -> str:
        st = part.path.stat()
        return "export-sha:" + keyed(self.run.wk, "export", str(part.path.resolve()), str(st.st_size), str(st.st_mtime_ns))

    def of(self, member: str | None, extra: dict | None = None) -> dict:
        cached = self._by_member.get(member)
        if cached is None:
            if len(self._by_member) >= MEMBERS_KEPT:
                self._by_member.clear()  # a photo is its own member: kept, they would add up
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
        path = str(part.path)
        if path in self._sha:
            return self._sha[path]
        sha = None
        if path in self._children:
            hint_key, child = self._children.pop(path)
            sha = child.result()
            self.run.stage({"op": "hint", "k": hint_key, "v": sha})
        elif part.kind in ("zip", "tar", "file"):
            hint_key = self._hint_key(part)
            sha = self.run.cat.hint(hint_key)
            if sha is None:
                sha = sha256_file(part.path)
                self.run.stage({"op": "hint", "k": hint_key, "v": sha})
        self._sha[path] = sha
        return sha
