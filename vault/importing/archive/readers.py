"""Member streams: the bounded reader that enforces a member's declared size and turns read
errors into ArchiveMemberError, and the openers for folder, bare-file and tar members."""

from __future__ import annotations

import io
import os
import stat
import sys
import tarfile
import zipfile
import zlib
from typing import IO, TYPE_CHECKING, Callable

from vault.errors import VaultError

if TYPE_CHECKING:  # only for annotations; _typeshed does not exist at run time
    from _typeshed import WriteableBuffer

# Shared with entry.py, source.py and detect.py, the other readers of this package.
CHUNK = 1 << 20             # read_bytes() and readall() work in 1 MiB steps to bound memory
READER_BUFFER = 64 * 1024   # buffer in front of our size check, so readline() is not byte-wise
CORRUPT_HINT = "download the export again; an interrupted download often leaves a file like this"  # the hint for a damaged export


class ArchiveMemberError(VaultError):
    """Reading one member failed (damaged data, truncation, over a size limit).

    The message names the member.  The exit code stays the VaultError default: importers are
    expected to catch this and record a :class:`~vault.models.Skipped` for the member, so one
    damaged photo does not abort a whole import.
    """

    def __init__(self, message: str, hint: str | None = None, member: str | None = None) -> None:
        super().__init__(message, hint)
        # The member's path, so an importer can build a Skipped without parsing the message.
        self.member = member


def _data_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the member's data is damaged or unreadable".

    zipfile raises BadZipFile on a CRC mismatch, EOFError on truncation and zlib.error on a broken
    deflate stream; tarfile raises TarError; gzip and bz2 raise OSError; lzma has its own error.
    lzma is not imported here (it is slow to import and rarely needed): if an LZMAError was
    raised, lzma is already loaded, and an ``except`` expression is only evaluated when an
    exception is being matched.
    """
    errors: tuple[type[BaseException], ...] = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError)
    lzma = sys.modules.get("lzma")
    if lzma is not None:
        errors += (lzma.LZMAError,)
    return errors


def open_errors() -> tuple[type[BaseException], ...]:
    """Exceptions opening a member may raise besides _data_errors().

    zipfile raises NotImplementedError/RuntimeError for features it lacks (and for a missing
    bz2/lzma module) and UnicodeDecodeError for a local header name that is not valid UTF-8.
    """
    return _data_errors() + (NotImplementedError, RuntimeError, UnicodeDecodeError)


def listing_errors() -> tuple[type[BaseException], ...]:
    """Exceptions listing a tar may raise: damaged data, plus ValueError from bad header numbers."""
    return _data_errors() + (ValueError,)


class BoundedReader(io.RawIOBase):
    """A stream that yields exactly the declared size of a member, translating errors.

    The declared size is what the limits were checked against, so more data than declared is
    an attack (or a changed file) and raises instead of being passed on; less data than
    declared means truncation and raises too.  Errors of the underlying stream become
    ArchiveMemberError naming the member, so importers need to catch only one exception.
    """

    def __init__(self, inner: IO[bytes], label: str, member: str, size: int | None,
                 on_fail: Callable[[str, str], object] | None = None) -> None:
        super().__init__()
        self._inner = inner
        self._label = label
        self._member = member
        self._size = size  # None: nothing was declared, so nothing to enforce
        self._pos = 0
        self._on_fail = on_fail  # told the member's path and the message when reading it fails

    def readable(self) -> bool:
        return True

    def _fail(self, what: str) -> ArchiveMemberError:
        message = f"cannot read {self._label}: {what}"
        if self._on_fail is not None:
            self._on_fail(self._member, message)
        return ArchiveMemberError(message, hint=CORRUPT_HINT, member=self._member)

    def _inner_read(self, size: int) -> bytes:
        try:
            return self._inner.read(size)
        except _data_errors() as exc:
            raise self._fail(str(exc) or type(exc).__name__) from exc

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        if size is None or size < 0:
            return self.readall()
        if self._size is None:
            chunk = self._inner_read(size)
            self._pos += len(chunk)
            return chunk
        remaining = self._size - self._pos
        if remaining <= 0:
            # Everything declared has been delivered.  Probe one byte: a longer stream means the
            # member lied about its size (or the file grew since it was listed).
            if self._inner_read(1):
                raise self._fail(f"it holds more data than its declared size of {self._size} bytes")
            return b""
        if size == 0:
            return b""
        wanted = min(size, remaining)
        chunk = self._inner_read(wanted)
        if not chunk:
            raise self._fail(f"the data ends after {self._pos} of {self._size} bytes (truncated)")
        if len(chunk) > wanted:  # a misbehaving inner stream must not smuggle extra bytes through
            raise self._fail(f"it holds more data than its declared size of {self._size} bytes")
        self._pos += len(chunk)
        return chunk

    def readall(self) -> bytes:
        # Chunked so that the size checks in read() apply; bounded by the declared size.
        chunks: list[bytes] = []
        while True:
            chunk = self.read(CHUNK)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._inner.close()
        finally:
            super().close()


def open_no_follow(os_path: str) -> IO[bytes]:
    """Open a file found inside a folder input, refusing anything but a regular file.

    The folder was listed earlier; O_NOFOLLOW and the fstat check stop a file that has since
    been replaced by a symlink or a FIFO (which would block forever) from being read.
    """
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    return _fdopen_regular(os.open(os_path, flags))


def open_given_file(os_path: str) -> IO[bytes]:
    """Open a bare file the user named; a symlink the user gave is followed on purpose."""
    return _fdopen_regular(os.open(os_path, os.O_RDONLY | getattr(os, "O_BINARY", 0)))


def _fdopen_regular(fd: int) -> IO[bytes]:
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("it is no longer a regular file")
        return os.fdopen(fd, "rb")
    except OSError:
        os.close(fd)
        raise


def open_tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    """A fresh stream of a regular tar member, read from the archive's shared file object."""
    # extractfile() builds a new stream positioned at the member's start each call, so calling
    # Entry.open() repeatedly is safe; the streams share tar's file object (see module docs).
    stream = tar.extractfile(member)
    if stream is None:  # only regular files become entries, so this means tarfile changed its mind
        raise tarfile.TarError("not a regular file")
    return stream
