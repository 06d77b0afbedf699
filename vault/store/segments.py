"""Writing journal segments: a segment's lines are encrypted with age on a worker thread while
the caller goes on staging operations, then sealed (fsync under a temporary name) and placed
(renamed into ``catalog/journal/``).  See ``Catalog.flush`` for the order of a commit.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

from .. import crypto
from .codec import dump_text
from .files import ShaWriter, ensure_dir, fsync_dir, open_private, storage_error, temp_name


class _QueueReader:
    """The read side of a bounded queue of byte chunks (None ends the stream)."""

    def __init__(self, q: "queue.Queue[bytes | None]") -> None:
        self._q = q
        self._head = memoryview(b"")
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        while not len(self._head):
            if self._eof:
                return b""
            chunk = self._q.get()
            if chunk is None:
                self._eof = True
                return b""
            self._head = memoryview(chunk)
        if n is None or n < 0 or n >= len(self._head):
            out, self._head = bytes(self._head), memoryview(b"")
            return out
        out, self._head = bytes(self._head[:n]), self._head[n:]
        return out

    def drain(self) -> None:
        """Take what is left up to the end mark, unless it was read already: a failure after
        the last chunk (writing it, on a full disk) must not wait for a second end mark."""
        while not self._eof:
            self._eof = self._q.get() is None


class SegmentWriter:
    """Streams a segment's lines through age on a worker thread while the caller goes on.

    Memory stays bounded by the queue (a few MiB), whatever the number of operations.  ``finish``
    appends the MAC line, waits for the encryption, fsyncs and renames the file into place.
    """

    CHUNK = 1 << 20

    def __init__(self, final: Path, tmpdir: Path, recipients: list[str], mac) -> None:
        self.final = final
        self._mac = mac
        self._buf = bytearray()
        self._q: "queue.Queue[bytes | None]" = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        ensure_dir(tmpdir)
        self._tmp = temp_name(tmpdir)
        try:
            self._fh = open_private(self._tmp)
        except OSError as exc:
            raise storage_error(exc, "a catalog segment") from exc
        try:
            self._sink = ShaWriter(self._fh)
            self._thread = threading.Thread(target=self._run, args=(recipients,), name="vault-segment", daemon=True)
            self._thread.start()
        except BaseException:
            # Ctrl-C while the thread starts (``start`` waits for it): the caller never gets
            # this writer to abort, so the file goes here.
            self._discard()
            raise

    def _run(self, recipients: list[str]) -> None:
        reader = _QueueReader(self._q)
        try:
            crypto.encrypt_stream(reader, self._sink, recipients)
        except BaseException as exc:  # handed to the caller by finish()
            self._error = exc
            reader.drain()  # let the producer finish without blocking

    def write(self, line: bytes) -> None:
        # The MAC takes the lines a chunk at a time (the same digest as line by line, at a
        # fraction of the calls: an import writes tens of thousands of lines).
        self._buf += line
        if len(self._buf) >= self.CHUNK:
            chunk = bytes(self._buf)
            self._buf.clear()
            self._mac.update(chunk)
            self._q.put(chunk)

    def _end(self) -> None:
        if self._buf:
            self._q.put(bytes(self._buf))
            self._buf.clear()
        self._q.put(None)
        self._thread.join()

    def seal(self) -> tuple[str, int]:
        """Append the MAC line, wait for the encryption and fsync the temporary file; return
        the ciphertext's sha256 and size.  The segment is not in the journal yet."""
        self._mac.update(self._buf)
        self._buf += (dump_text({"mac": self._mac.hexdigest()}) + "\n").encode()
        try:
            self._end()
            if self._error is not None:
                raise self._error
            self._fh.flush()
            os.fsync(self._fh.fileno())
            size = self._fh.tell()
            self._fh.close()
        except OSError as exc:
            self._discard()
            raise storage_error(exc, "a catalog segment") from exc
        except BaseException:
            self._discard()
            raise
        return self._sink.sha.hexdigest(), size

    def place(self) -> None:
        """Move the sealed segment into the journal (rename, then fsync of the folder)."""
        try:
            ensure_dir(self.final.parent)
            os.replace(self._tmp, self.final)
            fsync_dir(self.final.parent)
        except OSError as exc:
            self._discard()
            raise storage_error(exc, "a catalog segment") from exc

    def abort(self) -> None:
        self._buf.clear()
        self._end()
        self._discard()

    def _discard(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass


def list_segment_files(root: Path) -> list[Path]:
    d = root / "journal"
    return sorted(d.glob("*.jsonl.age")) if d.is_dir() else []


def list_snapshot_files(root: Path) -> list[Path]:
    d = root / "snapshots"
    return sorted(d.glob("*.sqlite.age")) if d.is_dir() else []

