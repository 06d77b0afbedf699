"""Scratch SQLite databases that are encrypted on disk, for the snapshot being written or read.

A snapshot's plaintext is the bytes of a whole SQLite database (docs/on-disk-format.md).  Holding
it in memory makes compaction and index rebuilds grow with the catalog; writing it as a plain file
would put plaintext on disk.  So the database is built (or received) in a file under ``tmp/``
whose bytes are encrypted block by block with a random key that never leaves the process, and
SQLite reaches it through a VFS that decrypts on read and encrypts on write.  The plaintext seen
through that VFS is byte for byte an ordinary SQLite database, read back in order for the MAC and
the age stream.

Layout of the scratch file: the plaintext is cut into ``BLOCK``-byte blocks (the last one may be
shorter); block ``i`` is stored at ``i * (BLOCK + OVERHEAD)`` as a 12-byte random nonce followed
by ChaCha20-Poly1305(key, nonce, block, associated data = ``i``), so a block that was changed or
moved fails to decrypt.  The file is deleted after use; a crash leaves it in ``tmp/``, unreadable
without the lost key.

Memory: SQLite's page cache (``CACHE_KIB``) and one block at a time.
"""

from __future__ import annotations

import errno
import os
import secrets
import struct
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import IntegrityError

BLOCK = 16384         # = PAGE_SIZE, so one page is one block
PAGE_SIZE = 16384     # of a database created here (one read of an existing one keeps its own)
OVERHEAD = 12 + 16    # nonce and tag
CACHE_KIB = 8192      # SQLite page cache of a scratch database
VFS_NAME = "vault-scratch"

# Scratch files open through the VFS, by file name: the VFS has no other way to learn their keys.
_OPEN: dict[str, "ScratchFile"] = {}
_vfs: Any = None


class ScratchFile:
    """Random access to the plaintext of an encrypted scratch file."""

    def __init__(self, path: Path, key: bytes | None = None) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        self.path = path
        self._aead = ChaCha20Poly1305(key or ChaCha20Poly1305.generate_key())
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)

    # --- blocks --------------------------------------------------------------------------------

    def size(self) -> int:
        """Plaintext size."""
        full, rest = divmod(os.fstat(self._fd).st_size, BLOCK + OVERHEAD)
        return full * BLOCK + max(rest - OVERHEAD, 0)

    def _read_block(self, i: int) -> bytes:
        raw = os.pread(self._fd, BLOCK + OVERHEAD, i * (BLOCK + OVERHEAD))
        if not raw:
            return b""
        try:
            return self._aead.decrypt(raw[:12], raw[12:], struct.pack(">Q", i))
        except Exception as exc:  # cryptography's InvalidTag, or a block cut short
            raise IntegrityError(f"scratch file {self.path.name} was changed while in use") from exc

    def _write_block(self, i: int, data: bytes) -> None:
        nonce = secrets.token_bytes(12)
        raw = nonce + self._aead.encrypt(nonce, data, struct.pack(">Q", i))
        if os.pwrite(self._fd, raw, i * (BLOCK + OVERHEAD)) != len(raw):
            raise OSError(errno.ENOSPC, "short write to a scratch file")

    # --- bytes ---------------------------------------------------------------------------------

    def read(self, amount: int, offset: int) -> bytes:
        """Up to ``amount`` bytes at ``offset`` (fewer at the end of the file)."""
        out = bytearray()
        while amount > 0:
            i, at = divmod(offset, BLOCK)
            block = self._read_block(i)
            part = block[at:at + amount]
            if not part:
                break
            out += part
            offset += len(part)
            amount -= len(part)
        return bytes(out)

    def write(self, data: bytes, offset: int) -> None:
        size = self.size()
        while offset > size:  # a hole: zeros up to the new data
            self.write(bytes(min(offset - size, BLOCK)), size)
            size = self.size()
        view = memoryview(data)
        while len(view):
            i, at = divmod(offset, BLOCK)
            n = min(BLOCK - at, len(view))
            if at == 0 and (n == BLOCK or offset + n >= size):
                block = bytes(view[:n])  # the whole block, or everything the block will hold
            else:
                old = self._read_block(i)
                block = old[:at] + bytes(view[:n]) + old[at + n:]
            self._write_block(i, block)
            view = view[n:]
            offset += n
            size = max(size, offset)

    def truncate(self, size: int) -> None:
        full, rest = divmod(size, BLOCK)
        keep = self._read_block(full)[:rest] if rest else b""
        os.ftruncate(self._fd, full * (BLOCK + OVERHEAD))
        if keep:
            self._write_block(full, keep)

    def chunks(self, size: int | None = None) -> Iterator[bytes]:
        """The plaintext in order, a block at a time (``size``: stop there)."""
        end = self.size() if size is None else size
        for i in range((end + BLOCK - 1) // BLOCK):
            block = self._read_block(i)[:end - i * BLOCK]
            if len(block) < min(BLOCK, end - i * BLOCK):
                raise IntegrityError(f"scratch file {self.path.name} was changed while in use")
            yield block

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def remove(self) -> None:
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class Appender:
    """Writes a stream of plaintext to the end of a scratch file, whole blocks at a time."""

    def __init__(self, scratch: ScratchFile) -> None:
        self._scratch = scratch
        self._buf = bytearray()
        self._next = 0  # index of the next block

    def write(self, data: bytes) -> None:
        self._buf += data
        while len(self._buf) >= BLOCK:
            self._scratch._write_block(self._next, bytes(self._buf[:BLOCK]))
            del self._buf[:BLOCK]
            self._next += 1

    def close(self) -> None:
        if self._buf:
            self._scratch._write_block(self._next, bytes(self._buf))
            self._buf.clear()


class _File:
    """A scratch file as SQLite sees it through the VFS (apsw calls these by name)."""

    def __init__(self, scratch: ScratchFile) -> None:
        self._s = scratch

    def xRead(self, amount: int, offset: int) -> bytes:
        return self._s.read(amount, offset)  # short at the end: SQLite zero-fills

    def xWrite(self, data: bytes, offset: int) -> None:
        self._s.write(bytes(data), offset)

    def xTruncate(self, newsize: int) -> None:
        self._s.truncate(newsize)

    def xFileSize(self) -> int:
        return self._s.size()

    def xSync(self, flags: int) -> None:
        pass  # scratch: nothing in it needs to survive a crash

    def xClose(self) -> None:
        pass  # the owner closes and deletes the file

    def xLock(self, level: int) -> None:
        pass  # private to this process (and to one connection)

    def xUnlock(self, level: int) -> None:
        pass

    def xCheckReservedLock(self) -> bool:
        return False

    def xFileControl(self, op: int, ptr: int) -> bool:
        return False

    def xSectorSize(self) -> int:
        return BLOCK

    def xDeviceCharacteristics(self) -> int:
        return 0


def _register() -> None:
    """The VFS, registered once per process."""
    global _vfs
    if _vfs is not None:
        return
    import apsw

    class _VFS(apsw.VFS):
        def __init__(self) -> None:
            super().__init__(VFS_NAME, base="unix")

        def xFullPathname(self, name: str) -> str:
            # As given: the unix VFS would resolve symbolic links, which apsw reports as an error.
            return os.path.abspath(name)

        def xOpen(self, name: Any, flags: list[int]) -> Any:
            path = name.filename() if isinstance(name, apsw.URIFilename) else name
            scratch = _OPEN.get(os.path.basename(str(path or "")))
            if scratch is None:  # a journal or temporary file: scratch databases have none
                raise apsw.CantOpenError(f"{VFS_NAME} opens only registered scratch databases")
            return _File(scratch)

    _vfs = _VFS()


@contextmanager
def connect(scratch: ScratchFile, readonly: bool = False) -> Iterator[Any]:
    """An apsw connection to the SQLite database held in ``scratch``."""
    import apsw

    _register()
    key = scratch.path.name  # random (``files.temp_name``), so unique in the process
    _OPEN[key] = scratch
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    conn = None
    try:
        conn = apsw.Connection(str(scratch.path), flags=flags, vfs=VFS_NAME)
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        if not readonly:
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # before the first table: fewer, fuller pages
            conn.execute("PRAGMA journal_mode=OFF").fetchall()
            conn.execute("PRAGMA synchronous=OFF")
        yield conn
    finally:
        if conn is not None:
            conn.close()
        _OPEN.pop(key, None)
