"""Work a new export's import starts while its importer is still being chosen.

Choosing the importer of an export never imported before reads and parses some of its members:
a fifth of a second for a Facebook export, on one core.  The import will then need the SHA-256
of the export's files (a child process hashes each, most of a second for a gigabyte) and, when
the export is big, worker processes to store its media (each takes a tenth of a second or more
to start).  Both are started first, on the cores that would otherwise wait; whatever the import
ends up not needing is stopped when it ends.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from . import sealing
from .provenance import Hashing, start_hashing

if TYPE_CHECKING:
    from ..repository import Vault
    from .archive import ExportSource


class HeadStart:
    def __init__(self, hashing: Hashing, spawned: list[subprocess.Popen]) -> None:
        self.hashing = hashing
        self.spawned = spawned

    @classmethod
    def begin(cls, vault: "Vault", src: "ExportSource") -> "HeadStart":
        """Start hashing ``src``'s files and, for a big export, the worker processes."""
        keys = vault.keys or vault.unlock()
        hashing = start_hashing(src.parts, vault.catalog(), keys.writer_key)
        spawned: list[subprocess.Popen] = []
        if sum(entry.size or 0 for entry in src.entries) >= sealing.MIN_BYTES:
            for _ in range(sealing.worker_count()):
                try:
                    spawned.append(sealing.spawn())
                except OSError:
                    break  # the import starts its own, or stores its media itself
        return cls(hashing, spawned)

    def take_hashing(self) -> Hashing:
        hashing, self.hashing = self.hashing, Hashing()
        return hashing

    def take_workers(self) -> list[subprocess.Popen]:
        spawned, self.spawned = self.spawned, []
        return spawned

    def close(self) -> None:
        """Stop what nobody took."""
        try:
            self.take_hashing().stop()
        finally:
            for proc in self.take_workers():
                sealing.discard(proc)
