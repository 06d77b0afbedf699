"""Catalog snapshots, written and read in bounded memory.

A snapshot (docs/on-disk-format.md) is one age file whose plaintext is a JSON header line
``{"format": "vault-snapshot", "version": 1, "seq", "supersedes", "mac"}`` followed by the bytes
of an SQLite database holding the tables of ``SNAPSHOT_SCHEMA``.  The MAC is HMAC-SHA256 with the
writer key over ``"snapshot\\0" + name + "\\0" + header without mac + "\\0" + database``.

The database never sits whole in memory: it is built in (or received into) an encrypted scratch
file (``vault.store.scratch``) and streamed from there.  The header comes first but its MAC covers
the database, so writing reads the scratch database twice: once for the MAC, once into age (the
MAC is computed again on the way and must agree, so the file written is the file MAC'd).  Reading
decrypts the age stream straight into a scratch file, checks the MAC at the end, and only then
opens the database.  Memory: SQLite's page cache, age's 64 KiB chunks, one row at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any, Callable, Iterator

from .. import crypto
from ..errors import IntegrityError
from .codec import dump_text
from .files import ShaWriter, atomic_writer, ensure_dir, storage_error, temp_name
from .index import PLAIN_TABLES
from .scratch import Appender, ScratchFile, connect

# The tables of a snapshot's database (format version 1; the word index is rebuilt from records).
SNAPSHOT_SCHEMA = """
CREATE TABLE IF NOT EXISTS records(
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT NOT NULL, source_id TEXT,
    created_at TEXT, visibility TEXT NOT NULL DEFAULT 'private', data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS explicit(id TEXT PRIMARY KEY, visibility TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tags(id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY(id, tag));
CREATE TABLE IF NOT EXISTS refs(source TEXT NOT NULL, ref TEXT NOT NULL, media TEXT NOT NULL, PRIMARY KEY(source, ref));
CREATE TABLE IF NOT EXISTS hints(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS digests(id TEXT PRIMARY KEY, digest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS imports(at TEXT, source TEXT, export TEXT, summary TEXT);
CREATE TABLE IF NOT EXISTS provenance(k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""
SNAPSHOT_MAGIC = "vault-snapshot"
HEADER_MAX = 64 << 20  # a header line longer than this is not one the vault wrote


def snapshot_mac(writer_key: bytes, name: str, header: dict) -> "hmac.HMAC":
    """The snapshot MAC with everything before the database fed in; the database follows."""
    return hmac.new(writer_key, b"snapshot\0" + name.encode() + b"\0" + dump_text(header).encode() + b"\0", hashlib.sha256)


# --- writing -------------------------------------------------------------------------------------

def _fill(snap: Any, db: Any) -> None:
    """Copy the index's tables into the snapshot database ``snap``, a row at a time."""
    snap.execute(SNAPSHOT_SCHEMA)
    # One transaction, never rolled back: on failure the scratch file is deleted whole.
    snap.execute("BEGIN")
    snap.executemany("INSERT INTO records(id, kind, source, source_id, created_at, visibility, data) VALUES (?,?,?,?,?,?,?)",
                     db.cursor().execute("SELECT id, kind, source, source_id, created_at, visibility, data FROM records ORDER BY n"))
    snap.executemany("INSERT INTO digests(id, digest) VALUES (?,?)",
                     db.cursor().execute("SELECT id, digest FROM records WHERE digest IS NOT NULL"))
    for table, cols in PLAIN_TABLES.items():
        snap.executemany(f"INSERT OR REPLACE INTO {table}({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                         db.cursor().execute(f"SELECT {', '.join(cols)} FROM {table}"))
    snap.execute("COMMIT")


class _Plaintext:
    """The snapshot's plaintext as a reader: the header line, then the scratch database's bytes,
    MAC'd again as they go by."""

    def __init__(self, header_line: bytes, scratch: ScratchFile, size: int, mac: "hmac.HMAC") -> None:
        self._parts = self._pieces(header_line, scratch, size, mac)
        self._pending = memoryview(b"")

    @staticmethod
    def _pieces(header_line: bytes, scratch: ScratchFile, size: int, mac: "hmac.HMAC") -> Iterator[bytes]:
        yield header_line
        for block in scratch.chunks(size):
            mac.update(block)
            yield block

    def read(self, n: int = -1) -> bytes:
        if not len(self._pending):
            piece = next(self._parts, None)
            if piece is None:
                return b""
            self._pending = memoryview(piece)
        if n is None or n < 0 or n >= len(self._pending):
            out, self._pending = bytes(self._pending), memoryview(b"")
            return out
        out, self._pending = bytes(self._pending[:n]), self._pending[n:]
        return out


def write_snapshot_file(db: Any, final: Path, tmpdir: Path, recipients: list[str], writer_key: bytes, header: dict) -> str:
    """Write the index ``db``'s tables as the snapshot ``final`` (atomically: temporary file,
    fsync, rename, fsync of the folder); return the ciphertext's sha256."""
    ensure_dir(tmpdir)
    ensure_dir(final.parent)
    try:
        scratch = ScratchFile(temp_name(tmpdir, ".snap"))
    except OSError as exc:
        raise storage_error(exc, "a catalog snapshot") from exc
    try:
        with connect(scratch) as snap:
            _fill(snap, db)
        size = scratch.size()
        mac = snapshot_mac(writer_key, final.name, header)
        for block in scratch.chunks(size):
            mac.update(block)
        line = (dump_text(dict(header, mac=mac.hexdigest())) + "\n").encode()
        again = snapshot_mac(writer_key, final.name, header)
        with atomic_writer(final, tmpdir, what="a catalog snapshot") as fh:
            sink = ShaWriter(fh)
            crypto.encrypt_stream(_Plaintext(line, scratch, size, again), sink, recipients)
            if not hmac.compare_digest(again.hexdigest(), mac.hexdigest()):
                raise IntegrityError("the snapshot changed while it was written; nothing was replaced",
                                     hint="run `vault compact` again")
        return sink.sha.hexdigest()
    except OSError as exc:
        raise storage_error(exc, "a catalog snapshot") from exc
    finally:
        scratch.remove()


# --- reading -------------------------------------------------------------------------------------

class _Receiver:
    """The write side of a snapshot's decryption: the header line is kept, the database goes to a
    scratch file and through the MAC.  Errors wait for ``finish`` (not raised into age)."""

    def __init__(self, name: str, writer_key: bytes, out: Appender) -> None:
        self._name = name
        self._wk = writer_key
        self._out = out
        self._line = bytearray()
        self.header: dict | None = None
        self._mac: "hmac.HMAC | None" = None
        self._claimed = ""
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        if self.error is None:
            try:
                self._take(bytes(data))
            except BaseException as exc:  # re-raised by finish()
                self.error = exc
        return len(data)

    def flush(self) -> None:
        pass

    def _take(self, data: bytes) -> None:
        if self._mac is None:
            end = data.find(b"\n")
            self._line += data if end < 0 else data[:end]
            if len(self._line) > HEADER_MAX:
                raise IntegrityError(f"catalog/snapshots/{self._name} has a corrupt header")
            if end < 0:
                return
            self._start(bytes(self._line))
            data = data[end + 1:]
        assert self._mac is not None
        self._mac.update(data)
        self._out.write(data)

    def _start(self, raw: bytes) -> None:
        try:
            header = json.loads(raw)
            if not isinstance(header, dict):
                raise ValueError("not an object")
        except ValueError:
            raise IntegrityError(f"catalog/snapshots/{self._name} has a corrupt header") from None
        self._claimed = str(header.pop("mac", ""))
        self.header = header
        self._mac = snapshot_mac(self._wk, self._name, header)

    def finish(self) -> dict:
        if self.error is None:
            try:
                self._out.close()
            except BaseException as exc:
                self.error = exc
        if isinstance(self.error, OSError):
            raise storage_error(self.error, "a catalog snapshot") from self.error
        if self.error is not None:
            raise self.error
        if self.header is None or self._mac is None:
            raise IntegrityError(f"catalog/snapshots/{self._name} has a corrupt header")
        if self.header.get("format") != SNAPSHOT_MAGIC or not hmac.compare_digest(self._claimed, self._mac.hexdigest()):
            raise IntegrityError(f"catalog/snapshots/{self._name} fails its MAC")
        return self.header


def read_snapshot_file(path: Path, tmpdir: Path, identity: Any, writer_key: bytes, visit: Callable[[Any], None]) -> dict:
    """Decrypt and check the snapshot ``path``, call ``visit(connection)`` on its database (read
    only), and return its header (without the MAC).  IntegrityError when it fails its MAC."""
    ensure_dir(tmpdir)
    try:
        scratch = ScratchFile(temp_name(tmpdir, ".snap"))
    except OSError as exc:
        raise storage_error(exc, "a catalog snapshot") from exc
    try:
        sink = _Receiver(path.name, writer_key, Appender(scratch))
        with open(path, "rb") as fh:
            crypto.decrypt_stream(fh, sink, identity, what=f"catalog/snapshots/{path.name}")
        header = sink.finish()
        with connect(scratch, readonly=True) as snap:
            visit(snap)
        return header
    except OSError as exc:
        raise storage_error(exc, "a scratch copy of a catalog snapshot") from exc
    finally:
        scratch.remove()


def tables_of(snap: Any) -> set[str]:
    """The tables a snapshot's database has (an older one may lack some of SNAPSHOT_SCHEMA's)."""
    return {name for (name,) in snap.execute("SELECT name FROM sqlite_master WHERE type='table'")}
