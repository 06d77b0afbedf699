"""LocalDestination: backups in a folder on a mounted file system."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Callable, Sequence

from ..errors import StorageError, UsageError
from ..store.files import commit_temp, ensure_dir, fsync_dir, open_private, sha256_file, storage_error, temp_name
from .destination import Advance, Destination, join_rel
from .layout import CHUNK, INCOMING, check_rel, scan_local

LOCAL_COPY_THREADS = 8  # concurrent copies to or from a folder (fsync-bound)


class LocalDestination(Destination):
    """A folder on a mounted file system (USB disk, NAS mount).  Files 0600, folders 0700;
    every write goes to ``.incoming/`` first, is fsynced, then renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.display = str(self.root)

    def _path(self, rel: str) -> Path:
        return self.root / check_rel(rel)

    def _what(self, rel: str) -> str:
        return f"{rel} at {self.display}"

    def list(self, prefix: str = "") -> dict[str, int]:
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"{self.display} is a file, not a folder")
        base = self._path(prefix) if prefix else self.root
        found = scan_local(base, skip_top=set())
        return {f"{prefix}/{rel}" if prefix else rel: size for rel, size in found.items()}

    def _write_from(self, local: Path, rel: str) -> None:
        final = self._path(rel)
        tmpdir = self.root / INCOMING
        try:
            ensure_dir(tmpdir)
            tmp = temp_name(tmpdir)
            try:
                with open(local, "rb") as src, open_private(tmp) as dst:
                    _copy_fd(src.fileno(), dst.fileno())
                    os.fsync(dst.fileno())
                commit_temp(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise storage_error(exc, self._what(rel)) from exc

    def put(self, local: Path, rel: str) -> None:
        self._write_from(local, rel)

    def put_atomic(self, local: Path, rel: str) -> None:
        self._write_from(local, rel)  # already temp + fsync + rename

    def put_atomic_many(self, local_root: Path, groups: Sequence[Sequence[str]]) -> None:
        for group in groups:
            for rel in group:
                self._write_from(local_root / rel, rel)

    def put_many(self, local_root: Path, rels: Sequence[str], advance: Advance | None = None, *, under: str = "") -> None:
        self._parallel(rels, lambda rel: self._write_from(local_root / rel, join_rel(under, rel)), lambda rel: local_root / rel, advance)

    def get_many(self, rels: Sequence[str], local_root: Path, advance: Advance | None = None) -> None:
        self._parallel(rels, lambda rel: self.get(rel, local_root / rel), lambda rel: local_root / rel, advance)

    @staticmethod
    def _parallel(rels: Sequence[str], one: Callable[[str], None], sized: Callable[[str], Path], advance: Advance | None) -> None:
        """Run ``one`` over ``rels`` on a few threads: each file's fsync waits on the disk, and
        overlapping those waits is what makes a folder backup of many small files fast.  Returns
        only when every file is done; the first failure is raised after the others stop."""
        if len(rels) <= 1:
            for rel in rels:
                one(rel)
                if advance:
                    advance(os.path.getsize(sized(rel)))
            return
        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(max_workers=LOCAL_COPY_THREADS) as pool:
            futures = {pool.submit(one, rel): rel for rel in rels}
            try:
                for fut in as_completed(futures):
                    fut.result()  # raises the first failure
                    if advance:
                        advance(os.path.getsize(sized(futures[fut])))
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise

    def get(self, rel: str, local: Path) -> None:
        local = Path(local)
        ensure_dir(local.parent)
        tmpdir = local.parent
        tmp = temp_name(tmpdir, ".restore")
        try:
            try:
                with open(self._path(rel), "rb") as src, open_private(tmp) as dst:
                    _copy_fd(src.fileno(), dst.fileno())
                    os.fsync(dst.fileno())
                os.replace(tmp, local)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except FileNotFoundError:
            raise StorageError(f"{self._what(rel)} vanished while it was being read") from None
        except OSError as exc:
            raise storage_error(exc, str(local)) from exc

    def read_bytes(self, rel: str) -> bytes:
        try:
            return self._path(rel).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {self._what(rel)}: {exc.strerror or exc}") from exc

    def move(self, rel: str, rel2: str) -> None:
        src, dst = self._path(rel), self._path(rel2)
        try:
            ensure_dir(dst.parent)
            os.replace(src, dst)
            fsync_dir(dst.parent)
            fsync_dir(src.parent)
        except OSError as exc:
            raise storage_error(exc, self._what(rel2)) from exc
        self._prune_empty(src.parent)

    def copy(self, rel: str, rel2: str) -> None:
        self._write_from(self._path(rel), rel2)

    def hash(self, rel: str) -> str | None:
        try:
            return sha256_file(self._path(rel))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {self._what(rel)}: {exc.strerror or exc}") from exc

    def delete(self, rel: str) -> None:
        path = self._path(rel)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise storage_error(exc, self._what(rel)) from exc
        self._prune_empty(path.parent)

    def delete_tree(self, prefix: str) -> None:
        import shutil

        base = self._path(prefix)
        try:
            shutil.rmtree(base)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise storage_error(exc, self._what(prefix)) from exc
        self._prune_empty(base.parent)

    def _prune_empty(self, folder: Path) -> None:
        """Remove ``folder`` and empty parents up to (not including) the root."""
        root = self.root.resolve()
        folder = folder.resolve()
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


def _copy_fd(src: int, dst: int) -> None:
    """Copy a whole file between descriptors (sendfile where the kernel allows it)."""
    size = os.fstat(src).st_size
    offset = 0
    try:
        while offset < size:
            sent = os.sendfile(dst, src, offset, min(size - offset, 1 << 30))
            if sent == 0:
                break
            offset += sent
        return
    except OSError as exc:
        if offset or exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSOCK, errno.EOPNOTSUPP):
            raise
    os.lseek(src, 0, os.SEEK_SET)
    while chunk := os.read(src, CHUNK):
        os.write(dst, chunk)
