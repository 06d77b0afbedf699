"""Content-addressed, immutable, encrypted objects: ``objects/ab/cd/<64 hex>``.

An object's name is HMAC-SHA256(writer key, plaintext), so the name reveals nothing about the
content to anyone without the key, equal contents share one object, and a reader can prove an
object was not swapped.  Each object is one age file.

Writes hash and encrypt in one pass over the plaintext: the plaintext is streamed through an HMAC
and into age at once, into ``tmp/``; the file is renamed to its name only when complete.  Small
contents are hashed first and not encrypted at all when already stored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterator

from .. import agefile, crypto
from ..agefile import read_full
from ..errors import IntegrityError, StorageError
from .direct import AlignedBuffer, DirectWriter
from .files import ShaWriter, commit_exclusive, commit_temp, ensure_dir, fsync_dir, open_private, storage_error, sync_files, sync_filesystem, temp_path

CHUNK = 1 << 20
SMALL = 8 << 20  # contents up to this size are hashed before deciding to encrypt
HEAD = 1 << 20   # bytes of the plaintext kept for media probing (dimensions, EXIF)
HEADER_ROOM = 64 << 10  # room for an age header: each X25519 recipient's stanza is 98 bytes
STREAM_BLOCK = 1 << 20  # a big object written around the page cache goes out this much at a time


@dataclass
class PutResult:
    object_id: str
    size: int                 # plaintext size
    new: bool                 # False when the object was already stored
    cipher_sha256: str | None  # of the ciphertext written (None when not written)
    head: bytes               # first bytes of the plaintext, for probing


class _HashingReader:
    """Feeds the age writer while hashing; keeps the first HEAD bytes and counts the size."""

    def __init__(self, src: IO[bytes], mac: "hmac.HMAC", first: bytes, progress: Callable[[int], None] | None) -> None:
        self._src = src
        self._mac = mac
        self._pending = memoryview(first)
        self.head = bytearray(first[:HEAD])
        self.size = len(first)
        self._progress = progress
        mac.update(first)

    def read(self, n: int = -1) -> bytes:
        if not self._pending:
            chunk = self._src.read(CHUNK)
            if not chunk:
                return b""
            self._mac.update(chunk)
            self.size += len(chunk)
            if len(self.head) < HEAD:
                self.head += chunk[: HEAD - len(self.head)]
            if self._progress:
                self._progress(len(chunk))
            self._pending = memoryview(chunk)
        if n is None or n < 0:
            n = len(self._pending)
        out = bytes(self._pending[:n])
        self._pending = self._pending[n:]
        return out


# ``ObjectStore.sync`` of at most this many objects syncs each (and its folders); of more, the
# file system once.  An fsync costs about 0.6 ms here (more on a disk with a journal, which
# commits for each), a file system sync 4-10 ms plus whatever else is waiting to be written.
SYNC_EACH_UP_TO = 16


class BackgroundWriter:
    """Writes new small objects on worker threads while the caller reads and encrypts the next.

    Encryption holds the GIL; writing, fsync, rename and the ciphertext SHA-256 do not, so on a
    multi-core machine they overlap with the caller's work.  Contract: ``drain()`` MUST be called
    (and succeed) before anything that references the submitted objects is committed; it returns
    the (relative path, ciphertext sha256) of every object written and raises the first error.
    Pending bytes are bounded, so memory stays bounded whatever the export size.
    """

    def __init__(self, store: "ObjectStore", workers: int = 4, max_pending: int = 64 << 20) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vault-write")
        self._futures: dict[str, object] = {}
        self._room = threading.BoundedSemaphore(max(1, max_pending >> 16))
        self._done: list[tuple[str, str]] = []

    def pending(self, object_id: str) -> bool:
        return object_id in self._futures

    def submit(self, object_id: str, cipher: bytes | bytearray | memoryview) -> None:
        # Budget in 64 KiB units, so many small objects can be in flight at once.
        units = min(max(1, len(cipher) >> 16), 1024)
        for _ in range(units):
            self._room.acquire()

        def task() -> tuple[str, str]:
            try:
                # No fsync here: drain() syncs the batch (each object, or the file system once).
                self._store._write_new(object_id, lambda fh: fh.write(cipher), durable=False)
                return self._store.relpath(object_id), hashlib.sha256(cipher).hexdigest()
            finally:
                for _ in range(units):
                    self._room.release()

        self._futures[object_id] = self._pool.submit(task)

    def drain(self) -> list[tuple[str, str]]:
        error = None
        for fut in self._futures.values():
            try:
                self._done.append(fut.result())  # type: ignore[attr-defined]
            except BaseException as exc:  # the first failure is re-raised below, after all finished
                error = error or exc
        self._futures.clear()
        if error is not None:
            raise error
        done, self._done = self._done, []
        if done:
            try:
                self._store.sync([rel.rpartition("/")[2] for rel, _ in done])
            except OSError as exc:
                raise storage_error(exc, "objects") from exc
        return done

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class ObjectStore:
    def __init__(self, root: Path, tmpdir: Path, direct_io: bool = False) -> None:
        """``direct_io``: objects written ``exclusive`` (a big import's workers) bypass the page
        cache where the file system allows it (``vault.store.direct``)."""
        self.root = root  # VAULT/objects
        self._root = str(root)
        self.tmpdir = tmpdir
        self._tmpdir = str(tmpdir)
        self._direct = DirectWriter() if direct_io else None
        self._scratch = AlignedBuffer() if direct_io else None

    # --- names ---------------------------------------------------------------------------------

    def path(self, object_id: str) -> Path:
        return self.root / object_id[:2] / object_id[2:4] / object_id

    def relpath(self, object_id: str) -> str:
        return f"objects/{object_id[:2]}/{object_id[2:4]}/{object_id}"

    def file(self, object_id: str) -> str:
        """``path`` as a string: cheaper, for what is asked for every object of an import."""
        return f"{self._root}/{object_id[:2]}/{object_id[2:4]}/{object_id}"

    def exists(self, object_id: str) -> bool:
        return os.path.isfile(self.file(object_id))

    def iter_ids(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for a in sorted(os.scandir(self.root), key=lambda e: e.name):
            if not a.is_dir(follow_symlinks=False):
                continue
            for b in sorted(os.scandir(a.path), key=lambda e: e.name):
                if not b.is_dir(follow_symlinks=False):
                    continue
                for f in sorted(os.scandir(b.path), key=lambda e: e.name):
                    if f.is_file(follow_symlinks=False) and len(f.name) == 64:
                        yield f.name

    @staticmethod
    def object_id(writer_key: bytes, data: bytes) -> str:
        return hmac.digest(writer_key, data, "sha256").hex()

    # --- writing -------------------------------------------------------------------------------

    def put_bytes(self, data: bytes, writer_key: bytes, recipients: list[str], background: BackgroundWriter | None = None,
                  known: Callable[[str], bool] | None = None, exclusive: bool = False) -> PutResult:
        """Store ``data``.  With ``background``, the write happens on its threads: the result's
        ``new`` is True and ``cipher_sha256`` None; ``background.drain()`` reports the checksum.
        ``known(oid)`` says an existing object is complete and durable (default: it exists); an
        object that exists but is not known (left by an interrupted run) is written again.
        ``exclusive``: one of several processes writing at once (see ``commit_exclusive``)."""
        oid = self.object_id(writer_key, data)
        if (known or self.exists)(oid) or (background is not None and background.pending(oid)):
            return PutResult(oid, len(data), False, None, data[:HEAD])
        if self._goes_direct(exclusive):
            return self._put_direct(oid, data, recipients)
        cipher = crypto.encrypt_buffer(data, recipients)
        if background is not None:
            background.submit(oid, cipher)
            return PutResult(oid, len(data), True, None, data[:HEAD])
        sha = hashlib.sha256(cipher).hexdigest()
        new = self._write_new(oid, lambda fh: fh.write(cipher), durable=not exclusive, exclusive=exclusive)
        return PutResult(oid, len(data), new, sha if new else None, data[:HEAD])

    def put_stream(
        self,
        src: IO[bytes],
        writer_key: bytes,
        recipients: list[str],
        progress: Callable[[int], None] | None = None,
        background: BackgroundWriter | None = None,
        known: Callable[[str], bool] | None = None,
        exclusive: bool = False,
    ) -> PutResult:
        """Store the stream's bytes.  Reads ``src`` exactly once.  See ``put_bytes``."""
        first = read_full(src, SMALL + 1)
        if len(first) <= SMALL:
            if progress:
                progress(len(first))
            return self.put_bytes(first, writer_key, recipients, background, known, exclusive)
        mac = hmac.new(writer_key, digestmod=hashlib.sha256)
        reader = _HashingReader(src, mac, first, progress)
        if progress:
            progress(len(first))
        with self._temp() as tmp:
            if self._goes_direct(exclusive):
                assert self._direct is not None and self._scratch is not None
                with self._direct.stream(tmp, self._scratch.get(2 * STREAM_BLOCK)) as out:
                    writer = ShaWriter(out)
                    crypto.encrypt_stream(reader, writer, recipients)
            else:
                with open_private(tmp) as fh:
                    writer = ShaWriter(fh)
                    crypto.encrypt_stream(reader, writer, recipients)
                    fh.flush()
                    if not exclusive:  # else the importer syncs the batch (ObjectStore.sync)
                        os.fsync(fh.fileno())
            oid = mac.hexdigest()
            if (known or self.exists)(oid) or (background is not None and background.pending(oid)):
                os.unlink(tmp)
                return PutResult(oid, reader.size, False, None, bytes(reader.head))
            if exclusive:
                if not commit_exclusive(tmp, self.file(oid)):
                    return PutResult(oid, reader.size, False, None, bytes(reader.head))
            else:
                commit_temp(tmp, self.file(oid))
        return PutResult(oid, reader.size, True, writer.sha.hexdigest(), bytes(reader.head))

    def _goes_direct(self, exclusive: bool) -> bool:
        """An object a worker writes (``exclusive``) goes around the page cache, where allowed."""
        return exclusive and self._direct is not None and self._direct.enabled

    def _put_direct(self, oid: str, data: bytes, recipients: list[str]) -> PutResult:
        """``put_bytes`` of a new object, ``exclusive``, sealed into the aligned scratch buffer
        and written around the page cache."""
        assert self._direct is not None and self._scratch is not None
        room = self._scratch.get(agefile.sealed_size(len(data), HEADER_ROOM))
        cipher = crypto.encrypt_buffer(data, recipients, room)
        sha = hashlib.sha256(cipher).hexdigest()
        with self._temp() as tmp:
            self._direct.write_new(tmp, memoryview(cipher))
            new = commit_exclusive(tmp, self.file(oid))
        return PutResult(oid, len(data), new, sha if new else None, data[:HEAD])

    def _write_new(self, oid: str, write: Callable[[IO[bytes]], object], durable: bool = True,
                   exclusive: bool = False) -> bool:
        """Write object ``oid``; False when ``exclusive`` found it written already."""
        with self._temp() as tmp:
            with open_private(tmp) as fh:
                write(fh)
                fh.flush()
                if durable:  # else the caller syncs the batch (ObjectStore.sync)
                    os.fsync(fh.fileno())
            if exclusive:
                return commit_exclusive(tmp, self.file(oid))
            commit_temp(tmp, self.file(oid), durable)
            return True

    @contextmanager
    def _temp(self) -> Iterator[str]:
        """A new temporary name in ``tmp/``, removed if what is done with it fails; an OSError
        becomes a StorageError."""
        tmp = temp_path(self._tmpdir, ".obj")
        try:
            yield tmp
        except OSError as exc:
            _unlink(tmp)
            raise storage_error(exc, "an object") from exc
        except BaseException:
            _unlink(tmp)
            raise

    def sync(self, object_ids: list[str]) -> None:
        """Make objects written without a sync durable: a few one by one (each file, the folders
        naming it, and ``tmp/``, which held their temporary names), many with one file system
        sync.  Raises OSError."""
        if len(object_ids) <= SYNC_EACH_UP_TO:
            sync_files([self.file(oid) for oid in object_ids], self.root)
            fsync_dir(self.tmpdir)
        else:
            sync_filesystem(self.root)

    # --- reading -------------------------------------------------------------------------------

    def read_verified(self, object_id: str, identity, writer_key: bytes, out: IO[bytes] | None) -> int:
        """Decrypt an object into ``out`` (or nowhere) and prove its name matches its content.

        Raises IntegrityError if it is missing, cannot be decrypted, or its HMAC differs.  When
        ``out`` is given, partial plaintext may have been written before a failure: callers write to
        a temporary file and keep it only on success.
        """
        path = self.path(object_id)
        if not path.is_file():
            raise IntegrityError(f"object {self.relpath(object_id)} is missing", hint="restore it from a backup (`vault restore`)")
        mac = hmac.new(writer_key, digestmod=hashlib.sha256)
        sink = _MacSink(mac, out)
        with open(path, "rb") as fh:
            crypto.decrypt_stream(fh, sink, identity, what=self.relpath(object_id))
        if not hmac.compare_digest(mac.hexdigest(), object_id):
            raise IntegrityError(f"object {self.relpath(object_id)} does not match its name (swapped or corrupted)")
        return sink.size

    def read_bytes(self, object_id: str, identity, writer_key: bytes) -> bytes:
        import io

        buf = io.BytesIO()
        self.read_verified(object_id, identity, writer_key, buf)
        return buf.getvalue()


class _MacSink:
    def __init__(self, mac: "hmac.HMAC", out: IO[bytes] | None) -> None:
        self._mac = mac
        self._out = out
        self.size = 0

    def write(self, data: bytes) -> int:
        self._mac.update(data)
        self.size += len(data)
        if self._out is not None:
            self._out.write(data)
        return len(data)

    def flush(self) -> None:
        if self._out is not None:
            self._out.flush()


def _unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


__all__ = ["ObjectStore", "PutResult", "StorageError", "ensure_dir"]
