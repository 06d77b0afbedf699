"""Writing a bundle folder incrementally.

Only files whose bytes changed are written (atomically, one by one).  Each file's SHA-256 is kept
with its size and modification time in a state file OUTSIDE the bundle, so the next build neither
re-reads nor re-hashes unchanged files; a file changed by hand (new size or mtime) is compared
for real and rewritten.  Pages can carry a key (a digest of what they are made from): a page whose
key is unchanged is not even rendered again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from vault.store.files import sha256_file

STATE_VERSION = 1
RACY_NS = 2_000_000_000


class BundleWriter:
    def __init__(self, root: Path, state_path: Path) -> None:
        self.root = root
        self.state_path = state_path
        self._old: dict[str, list] = {}
        self._saved_at = 0
        try:
            data = json.loads(state_path.read_text())
            if data.get("version") == STATE_VERSION and data.get("root") == str(root.resolve()):
                self._old = data.get("files", {})
                self._saved_at = int(data.get("saved_at_ns", 0))
        except (OSError, ValueError):
            pass
        self._new: dict[str, list] = {}
        self.written: list[str] = []

    def _known_sha(self, rel: str) -> str | None:
        """The recorded hash, if the file on disk is still the one recorded."""
        entry = self._old.get(rel)
        if not entry:
            return None
        try:
            st = os.stat(self.root / rel)
        except FileNotFoundError:
            return None
        if (st.st_size, st.st_mtime_ns) != (entry[0], entry[1]):
            return None
        # A file written just before the state was saved could have been changed again within
        # the same clock tick without its mtime moving ("racy" entries): check those for real.
        if entry[1] >= self._saved_at - RACY_NS:
            return None
        return entry[2]

    def _record(self, rel: str, sha: str, key: str | None) -> None:
        st = os.stat(self.root / rel)
        self._new[rel] = [st.st_size, st.st_mtime_ns, sha, key]

    def unchanged(self, rel: str, key: str) -> bool:
        """True (and the file kept) when ``rel`` was made from the same ``key`` and is intact."""
        entry = self._old.get(rel)
        if entry and entry[3] == key and self._known_sha(rel) is not None:
            self._new[rel] = entry
            return True
        return False

    def write(self, rel: str, data: bytes, key: str | None = None) -> None:
        sha = hashlib.sha256(data).hexdigest()
        path = self.root / rel
        current = self._known_sha(rel)
        if current is None and path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            current = sha
        if current != sha:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            self.written.append(rel)
        self._record(rel, sha, key)

    def keep(self, rel: str) -> None:
        """A file produced outside ``write`` (media): recorded with its hash."""
        sha = self._known_sha(rel) or sha256_file(self.root / rel)
        self._record(rel, sha, None)

    def prune(self) -> list[str]:
        """Delete every file this build did not produce, then empty folders (one walk)."""
        removed = []
        for dirpath, dirnames, filenames in os.walk(self.root, topdown=False):
            for name in filenames:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, self.root).replace(os.sep, "/")
                if rel not in self._new:
                    os.unlink(full)
                    removed.append(rel)
            if dirpath != str(self.root) and not os.listdir(dirpath):
                os.rmdir(dirpath)
        return sorted(removed)

    def hashes(self) -> dict[str, str]:
        return {rel: entry[2] for rel, entry in sorted(self._new.items())}

    def save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps({"version": STATE_VERSION, "root": str(self.root.resolve()), "saved_at_ns": time.time_ns(),
                                   "files": self._new}))
        os.replace(tmp, self.state_path)
