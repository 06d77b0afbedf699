"""Writing a bundle folder incrementally.

Only files whose bytes changed are written (atomically, one by one).  Each file's SHA-256 is kept
with its size and modification time in a state file OUTSIDE the bundle, so the next build neither
re-reads nor re-hashes unchanged files; a file changed by hand (new size or mtime) is compared
for real and rewritten.  Pages can carry a key (a digest of what they are made from): a page whose
key is unchanged is not even rendered again.

A bundle is public by definition: its files are made 0644 and its folders 0755 whatever the
process umask (the vault's own files stay 0600/0700).  While a build runs, a marker file in the
folder says so; a build that was killed leaves it behind, and that is how the next build knows the
folder is its own unfinished work (whole files only: each is renamed into place) and finishes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from vault.plugin_api import sha256_file

STATE_VERSION = 1
RACY_NS = 2_000_000_000
IN_PROGRESS = ".vault-build-in-progress"
FILE_MODE = 0o644
DIR_MODE = 0o755


def make_public_dirs(path: Path) -> None:
    """``mkdir -p`` whose new folders are world-readable (a vault process's umask is 077)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        os.chmod(d, DIR_MODE)


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
        path = self.root / rel
        st = os.stat(path)
        if st.st_mode & 0o7777 != FILE_MODE:
            os.chmod(path, FILE_MODE)
        self._new[rel] = [st.st_size, st.st_mtime_ns, sha, key]

    def begin(self) -> None:
        """Mark the folder as holding a build in progress (see the module's docstring)."""
        make_public_dirs(self.root)
        (self.root / IN_PROGRESS).write_bytes(b"vault publish is building this folder\n")

    def finish(self) -> None:
        (self.root / IN_PROGRESS).unlink(missing_ok=True)

    def intact(self, rel: str, sha: str) -> bool:
        """True when ``rel`` holds exactly the bytes whose SHA-256 is ``sha`` (read only when the
        state cannot vouch for it).  Safe to call from several threads."""
        if self._known_sha(rel) == sha:
            return True
        try:
            return sha256_file(self.root / rel) == sha
        except OSError:
            return False

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
            from exporters.site.media import write_atomic

            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
            self.written.append(rel)
        self._record(rel, sha, key)

    def keep(self, rel: str, sha: str | None = None, written: bool = False) -> None:
        """A file produced outside ``write`` (media): recorded with its hash (given by the
        producer, who checked or wrote the bytes, or read here)."""
        sha = sha or self._known_sha(rel) or sha256_file(self.root / rel)
        if written:
            self.written.append(rel)
        self._record(rel, sha, None)

    def prune(self) -> list[str]:
        """Delete every file this build did not produce (leftover temporary files of a killed
        build included), then empty folders, and make every folder world-readable (one walk)."""
        removed = []
        for dirpath, dirnames, filenames in os.walk(self.root, topdown=False):
            for name in filenames:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, self.root).replace(os.sep, "/")
                if rel not in self._new and rel != IN_PROGRESS:
                    os.unlink(full)
                    removed.append(rel)
            if dirpath != str(self.root) and not os.listdir(dirpath):
                os.rmdir(dirpath)
            elif os.stat(dirpath).st_mode & 0o7777 != DIR_MODE:
                os.chmod(dirpath, DIR_MODE)
        return sorted(removed)

    def hashes(self) -> dict[str, str]:
        return {rel: entry[2] for rel, entry in sorted(self._new.items())}

    def save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps({"version": STATE_VERSION, "root": str(self.root.resolve()), "saved_at_ns": time.time_ns(),
                                   "files": self._new}))
        os.replace(tmp, self.state_path)
