"""Key-free bit-rot checks: ``checksums/<ts>-<rand>.sha256``.

Each line is ``<sha256 of the ciphertext>  <path relative to the vault>``, the format of
``sha256sum``, so ``cd VAULT && cat checksums/*.sha256 | sha256sum -c`` works with no key.
Files are only ever added (gc rewrites them under the exclusive lock).

Besides objects and catalog files they cover ``keys/identity.age``, ``keys/writer.key.age`` and
``vault.json``, so a key-free check sees damage there too (even when the identity comes from the
keyring and ``identity.age`` is never decrypted).  Those few files are replaced by key changes:
the new line is written *before* the file is replaced (``record_replacement``) and the older
lines are dropped afterwards, so a crash in between leaves a file that matches one of its lines.
The catalog head (``catalog/head.json``) changes with every write and is not listed: its MAC and
the files it lists protect it (see ``head.py``).
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
        """path -> sha256 over every checksum file and the lines not written yet (read once,
        then kept up to date)."""
        if self._known is None:
            self._known = read_all(self.root)
            self._known.update(self._pending)
        return self._known

    def add(self, relpath: str, sha256: str) -> None:
        """A line for the next checksum file.  Does not read the others: a vault's checksum
        files list every object it holds, and an import that only adds would otherwise hold
        all of them in memory (a quarter of a kilobyte per object)."""
        self._pending[relpath] = sha256
        if self._known is not None:
            self._known[relpath] = sha256

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


MUTABLE = ("keys/identity.age", "keys/writer.key.age", "vault.json")


def checksum_files(root: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(root) if n.endswith(".sha256"))
    except (FileNotFoundError, NotADirectoryError):
        return []


def read_all(root: Path) -> dict[str, str]:
    """path -> sha256 (the newest line for a path wins)."""
    return {path: shas[-1] for path, shas in read_history(root).items()}


def read_history(root: Path) -> dict[str, list[str]]:
    """path -> every sha256 listed for it, oldest first."""
    out: dict[str, list[str]] = {}
    for name in checksum_files(root):
        with open(root / name, encoding="ascii", errors="replace") as fh:
            for line in fh:
                sha, sep, path = line.rstrip("\n").partition("  ")
                if sep and len(sha) == 64:
                    seen = out.setdefault(path, [])
                    if sha in seen:
                        seen.remove(sha)
                    seen.append(sha)
    return out


def record_replacement(root: Path, tmpdir: Path, relpath: str, sha256: str) -> None:
    """Before ``relpath`` (a key file or vault.json) is replaced: add its new checksum line."""
    log = ChecksumLog(root, tmpdir)
    log._known = {}
    log.add(relpath, sha256)
    log.flush()


def drop_replaced(root: Path, tmpdir: Path) -> None:
    """After a replacement: rewrite the checksum files with only the newest line of each path,
    so that ``sha256sum -c`` passes again.  Caller holds the exclusive lock."""
    history = read_history(root)
    if any(len(v) > 1 for v in history.values()):
        ChecksumLog(root, tmpdir).rewrite({p: v[-1] for p, v in history.items()})


def age_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an intact age file, from a key-free look at its header, or None."""
    try:
        with open(path, "rb") as fh:
            start = fh.read(4096)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    if not start.startswith(b"age-encryption.org/v1\n") or b"\n--- " not in start:
        return "not an age file (damaged)"
    return None
