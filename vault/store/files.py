"""Atomic, private file writes.

Every file the vault writes goes through here: written under ``tmp/`` (same file system), fsynced,
``os.replace``d into place, and the directory fsynced.  A crash at any point leaves either the old
state or the new one, plus at worst a stray file in ``tmp/``.  Files are 0600 and directories 0700.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Protocol

from ..errors import StorageError

FILE_MODE = 0o600
DIR_MODE = 0o700


def storage_error(exc: OSError, what: str) -> StorageError:
    if exc.errno == errno.ENOSPC:
        return StorageError(f"disk full while writing {what}", hint="free some space and run the command again; nothing half-written is visible")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(f"not allowed to write {what}: {exc.strerror}")
    return StorageError(f"cannot write {what}: {exc.strerror or exc}")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read 1 MiB at a time into one buffer (a new megabyte object for
    each read took 0.49-0.52 CPU seconds per 490 MB here, against 0.33-0.39 s)."""
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


class Sink(Protocol):
    """What ``ShaWriter`` writes to: a file, or a ``direct.DirectStream``."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class ShaWriter:
    """A write-only file object that passes everything to ``dst`` and keeps the SHA-256 of what
    went through (``.sha``): a file's checksum taken as it is written, in the same pass."""

    def __init__(self, dst: Sink) -> None:
        self._dst = dst
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self._dst.write(data)

    def flush(self) -> None:
        self._dst.flush()


def ensure_dir(path: Path) -> None:
    """Create ``path`` (and parents) as 0700 directories."""
    try:
        make_folders(str(path))
    except OSError as exc:
        raise storage_error(exc, str(path)) from exc


def make_folders(folder: str) -> None:
    """``os.makedirs(folder, exist_ok=True)`` with every folder it creates 0700, parents
    included (``os.makedirs`` and ``Path.mkdir`` give parents the umask's default mode), in
    plain string calls: an import creates thousands (``objects/ab/cd``).  Raises OSError."""
    try:
        os.mkdir(folder, DIR_MODE)
    except FileExistsError:
        if not os.path.isdir(folder):
            raise
    except FileNotFoundError:
        parent = os.path.dirname(folder)
        if not parent or parent == folder:
            raise
        make_folders(parent)
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:  # made meanwhile by another process
            if not os.path.isdir(folder):
                raise


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_files(paths: list[str], root: Path) -> None:
    """Make the files ``paths`` durable, with the folders holding their names up to ``root``
    (which may be new): an fsync each.  For a few files this is much less than syncing the
    whole file system, which also waits for everything else written to it."""
    top = str(root)
    folders: set[str] = set()
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        folder = os.path.dirname(path)
        while folder not in folders:
            folders.add(folder)
            parent = os.path.dirname(folder)
            if folder == top or parent == folder:
                break
            folder = parent
    for folder in sorted(folders, key=len, reverse=True):  # the deepest first
        fsync_dir(Path(folder))


def temp_name(tmpdir: Path, suffix: str = "") -> Path:
    return Path(temp_path(str(tmpdir), suffix))


def temp_path(tmpdir: str, suffix: str = "") -> str:
    """``temp_name`` as a string (cheaper, for a store writing thousands of objects)."""
    return f"{tmpdir}/{os.getpid()}-{secrets.token_hex(8)}{suffix}.tmp"


def open_private(path: str | Path) -> IO[bytes]:
    """Create ``path`` exclusively with mode 0600 and return it open for binary writing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    return os.fdopen(fd, "wb")


@contextmanager
def atomic_writer(final: Path, tmpdir: Path, what: str | None = None) -> Iterator[IO[bytes]]:
    """Yield a file in ``tmpdir``; on clean exit it becomes ``final`` atomically, else vanishes."""
    label = what or final.name
    tmp = temp_name(tmpdir)
    try:
        fh = open_private(tmp)
    except OSError as exc:
        raise storage_error(exc, label) from exc
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        ensure_dir(final.parent)
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise storage_error(exc, label) from exc
    except BaseException:
        _unlink_quietly(tmp)
        raise


def atomic_write(final: Path, data: bytes, tmpdir: Path, what: str | None = None) -> None:
    with atomic_writer(final, tmpdir, what) as fh:
        fh.write(data)


def commit_temp(tmp: str | Path, final: str | Path, durable: bool = True) -> None:
    """Move a temp file into place (``final`` may already exist: same content).  With
    ``durable`` the directory is fsynced now; without, the caller syncs it later."""
    _into_folder(os.replace, tmp, final)
    if durable:
        fsync_dir(Path(os.path.dirname(final)))


def _into_folder(move, tmp: str | Path, final: str | Path) -> None:
    """``move(tmp, final)``, creating ``final``'s folder first only when it is missing (most
    folders of a big store exist already: one system call instead of two)."""
    try:
        move(tmp, final)
    except FileNotFoundError:
        if not os.path.exists(tmp):
            raise
        make_folders(os.path.dirname(final))
        move(tmp, final)


def commit_exclusive(tmp: str | Path, final: str | Path) -> bool:
    """Move a temp file into place unless a file of that name exists; False (and the temp file
    removed) when one does.  For writers in several processes at once: the first file stays, so
    the checksum its writer reports is the one on disk.  Nothing is synced: the caller syncs the
    batch.  Where hard links are not supported, falls back to a rename."""
    try:
        _into_folder(os.link, tmp, final)
    except FileExistsError:
        os.unlink(tmp)
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV):
            raise
        if os.path.exists(final):
            os.unlink(tmp)
            return False
        _into_folder(os.replace, tmp, final)
        return True
    os.unlink(tmp)
    return True


def sync_filesystem(path: Path) -> None:
    """Flush every dirty file and directory of the file system holding ``path`` (Linux
    ``syncfs``; elsewhere ``sync``).  One call instead of one fsync per file for a batch."""
    fd = os.open(path, os.O_RDONLY)
    try:
        syncfs = _libc_syncfs()
        if not syncfs or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


@functools.cache
def _libc_syncfs() -> Any:
    """``syncfs`` from the C library this process runs with (None where there is none), looked
    up once: an import syncs every second.  (``ctypes.util.find_library`` would run ``ldconfig
    -p`` in a new process each time: a fork of the importer, with its keys and its memory, to
    find a name.)"""
    try:
        import ctypes

        return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    except (OSError, TypeError):  # no C library to open this way (Windows)
        return None


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def clean_tmp(tmpdir: Path, older_than: float | None = None) -> int:
    """Remove stray temp files left by crashed runs; returns how many were removed.

    Only files older than ``older_than`` seconds (by mtime) go, so a concurrent writer holding a
    shared lock keeps its own.
    """
    import time

    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(tmpdir))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.is_file(follow_symlinks=False):
            continue
        if older_than is not None and now - entry.stat(follow_symlinks=False).st_mtime < older_than:
            continue
        _unlink_quietly(Path(entry.path))
        removed += 1
    return removed


def odd_files(root: Path, skip_top: set[str] | frozenset[str] = frozenset()) -> list[dict]:
    """Symbolic links and special files (devices, sockets, fifos) anywhere under ``root``, as
    ``{"path", "problem"}``: a vault holds only regular files and folders, and following a link
    would read, back up or restore something that is not the vault's."""
    import stat

    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root):
            dirnames[:] = [d for d in dirnames if d not in skip_top]
            filenames = [f for f in filenames if f not in skip_top]
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            try:
                mode = os.lstat(full).st_mode
            except FileNotFoundError:
                continue
            rel = Path(os.path.relpath(full, root)).as_posix()
            if stat.S_ISLNK(mode):
                out.append({"path": rel, "problem": "is a symbolic link (refused: a vault holds only regular files)"})
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                out.append({"path": rel, "problem": "is a special file (refused: a vault holds only regular files)"})
    return out
