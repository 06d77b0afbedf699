"""Key-free bit-rot checks: ``checksums/<ts>-<rand>.sha256``.

Each line is ``<sha256 of the ciphertext>  <path relative to the vault>``, the format of
``sha256sum``, so ``cd VAULT && cat checksums/*.sha256 | sha256sum -c`` works with no key.
Files are only ever added (gc rewrites them under the exclusive lock).
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from .files import atomic_write


class ChecksumLog:
    def __init__(self, root: Path, tmpdir: Path) -> None:
        self.root = root
        self.tmpdir = tmpdir
        self._known: dict[str, str] | None = None
        self._pending: dict[str, str] = {}

    def known(self) -> dict[str, str]:
        """path -> sha256 over every checksum file (read once, then kept up to date)."""
        if self._known is None:
            self._known = read_all(self.root)
        return self._known

    def add(self, relpath: str, sha256: str) -> None:
        self._pending[relpath] = sha256
        self.known()[relpath] = sha256

    def has(self, relpath: str) -> bool:
        return relpath in self.known()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> str | None:
        if not self._pending:
            return None
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.sha256"
        body = "".join(f"{sha}  {path}\n" for path, sha in sorted(self._pending.items()))
        atomic_write(self.root / name, body.encode("ascii"), self.tmpdir, what=f"checksums/{name}")
        self._pending.clear()
        return name

    def rewrite(self, entries: dict[str, str]) -> None:
        """Replace every checksum file by one holding ``entries`` (gc, compact)."""
        old = sorted(p for p in self.root.glob("*.sha256"))
        self._pending = dict(entries)
        self._known = dict(entries)
        self.flush()
        for path in old:
            path.unlink(missing_ok=True)


def read_all(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not root.is_dir():
        return out
    for name in sorted(os.listdir(root)):
        if not name.endswith(".sha256"):
            continue
        with open(root / name, encoding="ascii", errors="replace") as fh:
            for line in fh:
                sha, sep, path = line.rstrip("\n").partition("  ")
                if sep and len(sha) == 64:
                    out[path] = sha
    return out
