"""The Destination interface: the contract every place a backup is stored in implements."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Callable, Sequence

from .layout import INCOMING

Advance = Callable[[int], None]
# A progress factory: ``with progress("copying", total_bytes) as advance: advance(n)``; the CLI
# passes ``context.progress_bar``, which draws only on a terminal.
ProgressFactory = Callable[[str, int], AbstractContextManager[Advance]]


class Destination(ABC):
    """A place backups are written to and restored from; paths are relative posix paths.

    Implementations are dumb storage that knows nothing about vaults.  Contract:

    * a failure MUST raise a VaultError (RemoteError for a remote, StorageError for a local file
      system) and MUST NOT be reported as success or as a partial answer;
    * ``put`` and ``put_many`` MUST NOT leave a partial file under the final name: an interrupted
      upload leaves at worst a file under ``.incoming/`` or a ``*.partial`` file;
    * ``put_atomic`` and ``put_atomic_many`` MUST replace a file in one step (readers see the old
      or the new content, never neither);
    * ``move``/``copy`` and their batches overwrite the target and touch only the files named;
    * only ``move*`` (its source), ``delete`` and ``delete_tree`` remove anything;
    * ``hash``/``hashes`` MUST read the stored bytes back (no cached or server-side value), so that
      they prove what a restore would get.

    The batch methods have one-file-at-a-time defaults; implementations override them where one
    call is cheaper than many round trips.
    """

    display: str

    @abstractmethod
    def list(self, prefix: str = "") -> dict[str, int]:
        """{relative path: size} of every file under ``prefix`` (recursively); {} if none."""

    @abstractmethod
    def put(self, local: Path, rel: str) -> None:
        """Copy the local file ``local`` to ``rel``."""

    @abstractmethod
    def put_atomic(self, local: Path, rel: str) -> None:
        """Replace ``rel`` by ``local``'s content atomically (temp name at the destination, then
        rename)."""

    @abstractmethod
    def get(self, rel: str, local: Path) -> None:
        """Copy ``rel`` to the local path ``local`` (written as 0600, atomically)."""

    @abstractmethod
    def read_bytes(self, rel: str) -> bytes:
        """The content of a (small) file."""

    @abstractmethod
    def move(self, rel: str, rel2: str) -> None:
        ...

    @abstractmethod
    def copy(self, rel: str, rel2: str) -> None:
        ...

    @abstractmethod
    def hash(self, rel: str) -> str | None:
        """sha256 of the bytes stored at ``rel`` (read back, never a cached value); None if absent."""

    @abstractmethod
    def delete(self, rel: str) -> None:
        ...

    @abstractmethod
    def delete_tree(self, prefix: str) -> None:
        """Delete every file under ``prefix`` and the folder itself."""

    # --- batches (defaults: one file at a time) ---------------------------------------------

    def put_many(self, local_root: Path, rels: Sequence[str], advance: Advance | None = None, *, under: str = "") -> None:
        """Copy ``local_root/rel`` to ``under/rel`` for each rel, in any order."""
        for rel in rels:
            self.put(local_root / rel, join_rel(under, rel))
            if advance:
                advance(os.path.getsize(local_root / rel))

    def put_atomic_many(self, local_root: Path, groups: Sequence[Sequence[str]]) -> None:
        """Replace each ``rel`` by ``local_root/rel`` atomically, group after group (a later group
        is touched only once every file of the earlier ones is in place).  Default: upload
        everything under ``.incoming/`` in one batch, then move each group into place."""
        staged = [rel for group in groups for rel in group]
        if not staged:
            return
        self.put_many(local_root, staged, under=INCOMING)
        for group in groups:
            self.move_many(group, to="", frm=INCOMING)

    def get_many(self, rels: Sequence[str], local_root: Path, advance: Advance | None = None) -> None:
        for rel in rels:
            self.get(rel, local_root / rel)
            if advance:
                advance(os.path.getsize(local_root / rel))

    def move_many(self, rels: Sequence[str], to: str, frm: str = "") -> None:
        """Move each ``frm/rel`` to ``to/rel`` (overwriting)."""
        for rel in rels:
            self.move(join_rel(frm, rel), join_rel(to, rel))

    def copy_many(self, rels: Sequence[str], to: str, frm: str = "") -> None:
        """Copy each ``frm/rel`` to ``to/rel`` (overwriting)."""
        for rel in rels:
            self.copy(join_rel(frm, rel), join_rel(to, rel))

    def hashes(self, rels: Sequence[str]) -> dict[str, str]:
        """{rel: sha256} for the files that exist (missing ones are absent from the answer)."""
        out = {}
        for rel in rels:
            digest = self.hash(rel)
            if digest is not None:
                out[rel] = digest
        return out

    def delete_many(self, rels: Sequence[str]) -> None:
        for rel in rels:
            self.delete(rel)


def join_rel(prefix: str, rel: str) -> str:
    """The destination path of ``rel`` inside the folder ``prefix`` ("" is the destination's top)."""
    return f"{prefix}/{rel}" if prefix else rel
