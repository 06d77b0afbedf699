"""The catalog: every record, as an append-only journal of encrypted segments plus snapshots,
read through a persistent page-encrypted index.

On disk (docs/on-disk-format.md):

* ``catalog/journal/<ts_ns>-<rand>.jsonl.age``: one segment per commit; JSON lines of operations,
  the last line ``{"mac": ...}`` = HMAC(writer key, "segment" + name + body), so a segment that was
  swapped, renamed or forged by someone holding only the public recipient is refused.
* ``catalog/snapshots/<seq>-<rand>.sqlite.age``: a header line (seq, the segments it supersedes,
  MAC) then the bytes of an SQLite database (``sqlite3.Connection.serialize()``) holding the
  tables of ``SNAPSHOT_SCHEMA``.
* ``index/catalog.db``: the local index (``vault.store.index``), derived from the two above.

These files are the truth; the index only says which of them it holds.  ``load`` opens the index
in place and, when it is missing, corrupt or holds another set of segments and snapshot than the
disk, brings it up to date: newer segments are replayed on top, anything else rebuilds it.

Operations are idempotent upserts, so replaying a segment twice changes nothing:
  put     {"op":"put","r":record,"d":digest}  insert, or replace the source fields of an existing
                                       record (visibility and tags of an existing record are kept)
  prov    {"op":"prov","k","p"}        provenance shared by many records, which then carry
                                       ``"provenance": {"@": k, ...their own fields}``
  curate  {"op":"curate","id","visibility"?,"add"?,"remove"?}
  ref     {"op":"ref","source","ref","media"}   a source's name for a media record (post links)
  hint    {"op":"hint","k","v"}        keyed fingerprints that let re-imports skip unchanged files
  import  {"op":"import","at","source","export","summary"}

Writing: ``stage`` applies an operation to the index inside one open transaction (records in
batches) and streams its line into the segment being encrypted on a worker thread; ``flush``
seals the segment (fsync under a temporary name), commits the index naming it, then renames it
into the journal: that rename is the commit point.  A crash before it leaves an index naming a
segment that is not on disk, which ``load`` rebuilds; an index left behind (its commit failed)
is caught up by replaying the newer segments.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from .. import crypto
from ..errors import IntegrityError, StorageError
from .files import atomic_writer, ensure_dir, fsync_dir, open_private, storage_error, temp_name
from .head import CatalogHead, Survey
from .index import PLAIN_TABLES, IndexUnusable, has_unspaced, index_key, match_clauses, open_db, remove_files

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

# Fields whose text is searchable.
SEARCH_FIELDS = ("title", "text", "comment", "caption", "alt", "filename", "item_title", "counterparty", "content_warning", "reply")
# Provenance fields every record of one import shares: stored once per import (a "prov" op).
PROV_SHARED = ("importer", "importer_version", "export", "export_sha256", "captured_at")

SNAPSHOT_MAGIC = "vault-snapshot"
AUTO_COMPACT_SEGMENTS = 64
BATCH = 2000  # records buffered before they go to SQLite in one executemany


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _dumpb(obj: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces, UTF-8): orjson, or json for what it refuses."""
    try:
        import orjson

        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except (ImportError, TypeError):
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _loads(data: bytes | str) -> Any:
    try:
        import orjson

        return orjson.loads(data)
    except ImportError:
        return json.loads(data)


@dataclass
class Encoded:
    """A record encoded once: ``body`` is its JSON without id, provenance, visibility and tags."""

    rid: str
    rec: dict
    body: bytes
    digest: str
    provenance: Any = None


def encode_record(rec: dict) -> Encoded:
    fields = {k: v for k, v in rec.items() if k not in ("id", "provenance", "visibility", "tags")}
    body = _dumpb(fields)
    return Encoded(rec["id"], rec, body, hashlib.sha256(body).hexdigest(), rec.get("provenance"))


def content_digest(rec: dict) -> str:
    """Digest of a record's source data: provenance (when, from which file) and id aside.  Two
    puts with the same digest hold the same data, so a re-import compares digests only."""
    return encode_record(dict(rec, id=rec.get("id", ""))).digest


class Catalog:
    def __init__(self, root: Path, tmpdir: Path, identity, writer_key: bytes, recipients: list[str],
                 index_path: Path | None = None, busy_ms: int = 60_000) -> None:
        self.root = root
        self.journal_dir = root / "journal"
        self.snap_dir = root / "snapshots"
        self.tmpdir = tmpdir
        self.index_path = index_path or root.parent / "index" / "catalog.db"
        self._identity = identity
        self._wk = writer_key
        self.recipients = recipients
        self._busy_ms = busy_ms
        self.db: Any = None                  # the index (apsw), opened by load()
        self.segments: list[str] = []       # live segment names applied on top of the snapshot
        self.superseded: list[str] = []     # segments named by the current snapshot
        self.snapshot_name: str | None = None
        self.snapshot_seq = 0
        self._writer: _SegmentWriter | None = None
        self._pending = 0
        self._in_tx = False
        self._next_n = 0
        # Buffered writes of the open transaction (looked up before the database).
        self._puts: dict[str, tuple] = {}
        self._refs: dict[tuple[str, str], str] = {}
        self._hints: dict[str, str] = {}
        self._provs: dict[str, str] = {}
        self._prov_cache: dict[str, dict] = {}
        self._last: tuple | None = None     # the last record looked up: (id, row)
        self._prov_keys: dict[tuple, str] = {}
        self._known: dict[str, tuple | None] = {}  # rows fetched ahead by prefetch()
        self.head = CatalogHead(root, tmpdir, writer_key)
        self._view: Survey | None = None  # what the head lists, read by load()

    # --- loading -------------------------------------------------------------------------------

    def load(self) -> "Catalog":
        """Open the index and make it agree with the journal and snapshots on disk."""
        with _index_errors(self.index_path):
            return self._load()

    def _load(self) -> "Catalog":
        # The pieces the MAC'd head lists (IntegrityError if any is missing, extra or rolled
        # back), checked on every open, even when the index is already up to date.
        self._view = self.head.view()
        key = index_key(self._wk)
        try:
            self.db = open_db(self.index_path, key, self._busy_ms)
        except IndexUnusable:
            remove_files(self.index_path)
            self.db = open_db(self.index_path, key, self._busy_ms)
        self._read_state()
        if self._plan() is not None:
            # Decide again under SQLite's write lock: another process may have just done it.
            self._begin()
            try:
                plan = self._plan()
                if plan is not None:
                    self._bring_up_to_date(*plan)
                self._commit_tx()
            except BaseException:
                self._rollback()
                raise
        self.head.loaded(self.snapshot_name, self.segments)  # a vault from before heads gets one
        return self

    def _disk_segments(self) -> dict[str, int]:
        out = {}
        if self.journal_dir.is_dir():
            for entry in os.scandir(self.journal_dir):
                if entry.name.endswith(".jsonl.age"):
                    out[entry.name] = entry.stat().st_size
        return out

    def _read_state(self) -> dict:
        meta = dict(self.db.execute("SELECT k, v FROM meta").fetchall())
        self.snapshot_name = meta.get("snapshot") or None
        self.snapshot_seq = int(meta.get("seq") or 0)
        self.superseded = json.loads(meta.get("superseded") or "[]")
        applied = json.loads(meta.get("segments") or "{}")
        self.segments = sorted(applied)
        return meta

    def _plan(self) -> tuple[str, list[str]] | None:
        """None when the index holds exactly what is on disk; else ("catch-up", new segments) or
        ("rebuild", [reason])."""
        meta = self._read_state()
        assert self._view is not None
        latest = self._view.snapshot
        if meta.get("built") != "1":
            return ("rebuild", ["new index"])
        if latest != self.snapshot_name:
            return ("rebuild", ["another snapshot"])
        superseded = set(self.superseded)
        sizes = self._disk_segments()
        live = {n: sizes.get(n, -1) for n in self._view.segments if n not in superseded}
        applied = json.loads(meta.get("segments") or "{}")
        if live == applied:
            return None
        new = sorted(set(live) - set(applied))
        if all(live.get(n) == s for n, s in applied.items()) and (not applied or new[0] > max(applied)):
            return ("catch-up", new)
        return ("rebuild", ["segments differ"])

    def _bring_up_to_date(self, how: str, detail: list[str]) -> None:
        if how == "catch-up":
            for name in detail:
                self._replay_segment(name)
                self.segments.append(name)
            self._save_state()
            return
        self._clear()
        assert self._view is not None
        self.snapshot_name, self.snapshot_seq, self.superseded, self.segments = None, 0, [], []
        if self._view.snapshot:
            self._load_snapshot(self.snap_dir / self._view.snapshot)
        superseded = set(self.superseded)
        for name in sorted(self._view.segments):
            if name in superseded:
                continue
            self._replay_segment(name)
            self.segments.append(name)
        self._save_state(built=True)

    def _clear(self) -> None:
        self._flush_batch()
        for table in ("records", "tri", *PLAIN_TABLES):
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("INSERT INTO fts(fts) VALUES ('delete-all')")
        self._prov_cache.clear()
        self._last = None
        self._known.clear()
        self._next_n = 1

    def _save_state(self, built: bool = False, sealed: dict[str, int] | None = None) -> None:
        self._flush_batch()
        sizes = self._disk_segments()
        sizes.update(sealed or {})
        state = {
            "snapshot": self.snapshot_name or "",
            "seq": str(self.snapshot_seq),
            "superseded": json.dumps(sorted(self.superseded)),
            "segments": json.dumps({n: sizes.get(n, -1) for n in self.segments}, sort_keys=True),
        }
        if built:
            state["built"] = "1"
        self.db.executemany("INSERT OR REPLACE INTO meta(k, v) VALUES (?,?)", list(state.items()))

    def read_segment(self, name: str) -> list[dict]:
        path = self.journal_dir / name
        plain = crypto.decrypt_bytes(path.read_bytes(), self._identity, what=f"catalog/journal/{name}")
        body, _, last = plain.rstrip(b"\n").rpartition(b"\n")
        try:
            mac = json.loads(last)["mac"]
        except (ValueError, KeyError, TypeError):
            raise IntegrityError(f"catalog/journal/{name} has no MAC line") from None
        if body:
            body += b"\n"
        if not hmac.compare_digest(mac, self._segment_mac(name, body)):
            raise IntegrityError(f"catalog/journal/{name} fails its MAC (tampered, renamed or not written by this vault)")
        ops = []
        for line in body.splitlines():
            if line.strip():
                ops.append(_loads(line))
        return ops

    def _replay_segment(self, name: str) -> None:
        """Apply a segment's operations to the index while it is decrypted, a chunk at a time
        (memory does not grow with the segment).  The MAC is checked at the end; the caller
        rolls the transaction back when it fails, so nothing of a forged segment stays."""
        sink = _ReplaySink(self._segment_mac_start(name), self._apply)
        with open(self.journal_dir / name, "rb") as fh:
            crypto.decrypt_stream(fh, sink, self._identity, what=f"catalog/journal/{name}")
        sink.finish(name)

    def _segment_mac(self, name: str, body: bytes) -> str:
        return hmac.new(self._wk, b"segment\0" + name.encode() + b"\0" + body, hashlib.sha256).hexdigest()

    def _load_snapshot(self, path: Path) -> None:
        plain = crypto.decrypt_bytes(path.read_bytes(), self._identity, what=f"catalog/snapshots/{path.name}")
        header_raw, _, db_bytes = plain.partition(b"\n")
        del plain
        try:
            header = json.loads(header_raw)
        except ValueError:
            raise IntegrityError(f"catalog/snapshots/{path.name} has a corrupt header") from None
        mac = header.pop("mac", "")
        if header.get("format") != SNAPSHOT_MAGIC or not hmac.compare_digest(mac, self._snapshot_mac(path.name, header, db_bytes)):
            raise IntegrityError(f"catalog/snapshots/{path.name} fails its MAC")
        snap = sqlite3.connect(":memory:")
        try:
            snap.deserialize(db_bytes)
            del db_bytes
            snap.executescript(SNAPSHOT_SCHEMA)  # tables an older snapshot lacks
            for table, cols in PLAIN_TABLES.items():
                rows = snap.execute(f"SELECT {', '.join(cols)} FROM {table}")
                self.db.executemany(f"INSERT OR REPLACE INTO {table}({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})", rows)
            rows = snap.execute("SELECT r.id, r.kind, r.source, r.source_id, r.created_at, r.visibility, d.digest, r.data "
                                "FROM records r LEFT JOIN digests d ON d.id = r.id")
            for rid, kind, source, source_id, created_at, visibility, digest, data in rows:
                rec = _loads(data)
                rec.pop("id", None)
                n = self._next_n
                self._next_n += 1
                self._puts[rid] = (n, True, kind, source, source_id, created_at, visibility or "private",
                                   digest, data, _search_text(rec), None)
                if len(self._puts) >= BATCH:
                    self._flush_batch()
            self._flush_batch()
        finally:
            snap.close()
        self.superseded = list(header.get("supersedes", []))
        self.snapshot_seq = int(header.get("seq", 0))
        self.snapshot_name = path.name

    def _snapshot_mac(self, name: str, header: dict, db: bytes) -> str:
        msg = b"snapshot\0" + name.encode() + b"\0" + _dumps(header).encode() + b"\0" + db
        return hmac.new(self._wk, msg, hashlib.sha256).hexdigest()

    # --- transactions ----------------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._in_tx:
            self._last = None
            self._known.clear()
            self.db.execute("BEGIN IMMEDIATE")
            self._in_tx = True
            row = self.db.execute("SELECT max(n) FROM records").fetchone()
            self._next_n = (row[0] or 0) + 1

    def _commit_tx(self) -> None:
        self._flush_batch()
        self._last = None
        self._known.clear()
        if self._in_tx:
            self.db.execute("COMMIT")
            self._in_tx = False

    def _rollback(self) -> None:
        self._last = None
        self._known.clear()
        self._puts.clear(); self._refs.clear(); self._hints.clear(); self._provs.clear()
        self._prov_cache.clear()
        if self._in_tx:
            self._in_tx = False
            try:
                self.db.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - the connection may already have rolled back
                pass

    # --- writing -------------------------------------------------------------------------------

    def stage(self, op: dict) -> None:
        """Apply ``op`` to the index now (uncommitted) and queue it for the next segment."""
        if op.get("op") == "put":
            self.stage_put(encode_record(op["r"]))
            return
        self._stage_line(op)
        with _index_errors(self.index_path):
            self._begin()
            self._apply(op)

    def stage_put(self, enc: Encoded) -> None:
        """Stage a put of a record encoded by ``encode_record`` (its JSON is not encoded again)."""
        with _index_errors(self.index_path):
            self._stage_put(enc)

    def _stage_put(self, enc: Encoded) -> None:
        self._begin()
        prov = self._compact_prov(enc.provenance)
        prov_json = _dumpb(prov) if prov is not None else None
        data = _join_json(b'"provenance":' + prov_json if prov_json is not None else None, enc.body)
        head = b'"id":' + _dumpb(enc.rid)
        if prov_json is not None:
            head += b',"provenance":' + prov_json
        for extra in ("visibility", "tags"):
            if enc.rec.get(extra):
                head += b',"' + extra.encode() + b'":' + _dumpb(enc.rec[extra])
        line = b'{"op":"put","d":"' + enc.digest.encode() + b'","r":' + _join_json(head, enc.body) + b"}\n"
        self._writer_for().write(line)
        self._pending += 1
        self._put_row(enc.rid, enc.rec, enc.digest, data.decode("utf-8"))

    def _stage_line(self, op: dict) -> None:
        self._writer_for().write(_dumpb(op) + b"\n")
        self._pending += 1

    def _writer_for(self) -> "_SegmentWriter":
        if self._writer is None:
            name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.jsonl.age"
            self._writer = _SegmentWriter(self.journal_dir / name, self.tmpdir, self.recipients,
                                          self._segment_mac_start(name))
        return self._writer

    def _segment_mac_start(self, name: str):
        return hmac.new(self._wk, b"segment\0" + name.encode() + b"\0", hashlib.sha256)

    @property
    def pending(self) -> int:
        return self._pending

    def flush(self) -> tuple[str, str] | None:
        """Write the staged operations as one segment and commit the index.  Returns (relative
        path, ciphertext sha256), or None when nothing was staged.

        Order: the segment is encrypted and synced under a temporary name, the index commits
        naming it, then the rename into ``catalog/journal/`` is THE COMMIT POINT.  A crash before
        the rename leaves an index naming a segment that is not there, which ``load`` rebuilds;
        nothing after the rename can fail the import.
        """
        if self._writer is None:
            return None
        import apsw

        writer, self._writer = self._writer, None
        try:
            with _index_errors(self.index_path):
                self._flush_batch()
            sha, size = writer.seal()
        except BaseException:
            if writer._thread.is_alive():
                writer.abort()
            self._rollback()
            raise
        self._pending = 0
        name = writer.final.name
        self.segments.append(name)
        try:
            self._save_state(sealed={name: size})
            self._commit_tx()
            indexed = True
        except apsw.Error:
            # The index stays one segment behind; the next command catches it up.
            self._rollback()
            self.segments.remove(name)
            indexed = False
        try:
            writer.place()
        except BaseException:
            if indexed:
                self._forget()
            raise
        try:
            # After the rename, before its checksum line: the head lists the new segment.  If
            # this fails the segment is still kept: the next open replays it as one written
            # just before an interruption, and the next write lists it.
            self.head.record(self.snapshot_name, sorted(set(self.segments) | {name}))
        except (OSError, StorageError):
            pass
        return f"catalog/journal/{name}", sha

    def _forget(self) -> None:
        """The index names a segment that never reached the journal: have it rebuilt."""
        import apsw

        try:
            self.db.execute("DELETE FROM meta WHERE k='built'")
        except apsw.Error:
            self.db.close()
            self.db = None
            remove_files(self.index_path)

    def _write_encrypted(self, final: Path, plain: crypto.Readable, what: str) -> str:
        """Encrypt ``plain`` into ``final`` atomically; return the ciphertext's sha256."""
        ensure_dir(final.parent)
        with atomic_writer(final, self.tmpdir, what=what) as fh:
            sink = _ShaWriter(fh)
            crypto.encrypt_stream(plain, sink, self.recipients)
        return sink.sha.hexdigest()

    def write_snapshot(self) -> tuple[str, str]:
        """Write a snapshot superseding every segment applied so far (adds a file, deletes none)."""
        if self._writer is not None:
            raise RuntimeError("write_snapshot with operations staged; flush first")
        seq = self.snapshot_seq + 1
        name = f"{seq:012d}-{secrets.token_hex(4)}.sqlite.age"
        supersedes = sorted(set(self.superseded) | set(self.segments))
        header = {"format": SNAPSHOT_MAGIC, "version": 1, "seq": seq, "supersedes": supersedes}
        snap = sqlite3.connect(":memory:")
        try:
            snap.executescript(SNAPSHOT_SCHEMA)
            snap.executemany("INSERT INTO records(id, kind, source, source_id, created_at, visibility, data) VALUES (?,?,?,?,?,?,?)",
                             self.db.execute("SELECT id, kind, source, source_id, created_at, visibility, data FROM records ORDER BY n"))
            snap.executemany("INSERT INTO digests(id, digest) VALUES (?,?)",
                             self.db.execute("SELECT id, digest FROM records WHERE digest IS NOT NULL"))
            for table, cols in PLAIN_TABLES.items():
                snap.executemany(f"INSERT OR REPLACE INTO {table}({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                                 self.db.execute(f"SELECT {', '.join(cols)} FROM {table}"))
            snap.commit()
            db_bytes = snap.serialize()
        finally:
            snap.close()
        header_full = dict(header, mac=self._snapshot_mac(name, header, db_bytes))
        # Header line then the database, streamed through age without concatenating copies.
        plain = _Chain(_dumps(header_full).encode() + b"\n", db_bytes)
        sha = self._write_encrypted(self.snap_dir / name, plain, "a catalog snapshot")
        del db_bytes, plain
        self.snapshot_name, self.snapshot_seq = name, seq
        self.superseded, self.segments = supersedes, []
        self.head.record(name, [])  # the snapshot is live from here on
        self._begin()
        self._save_state()
        self._commit_tx()
        return f"catalog/snapshots/{name}", sha

    def obsolete_files(self) -> list[Path]:
        """Segments and snapshots the current snapshot makes redundant (for `vault compact`)."""
        out = []
        superseded = set(self.superseded)
        if self.journal_dir.is_dir():
            out += [p for p in self.journal_dir.glob("*.jsonl.age") if p.name in superseded]
        if self.snap_dir.is_dir():
            out += [p for p in self.snap_dir.glob("*.sqlite.age") if p.name != self.snapshot_name]
        return sorted(out)

    # --- applying operations -------------------------------------------------------------------

    def _apply(self, op: dict) -> None:
        kind = op.get("op")
        if kind == "put":
            enc = encode_record(op["r"])
            prov = self._compact_prov(enc.provenance, stage=False)
            data = _join_json(b'"provenance":' + _dumpb(prov) if prov is not None else None, enc.body)
            self._put_row(enc.rid, enc.rec, op.get("d") or enc.digest, data.decode("utf-8"))
        elif kind == "prov":
            blob = _dumps(op.get("p") or {})
            self._provs[op["k"]] = blob
            self._prov_cache[op["k"]] = json.loads(blob)
        elif kind == "curate":
            self._flush_batch()
            self._last = None
            self._known.clear()
            self._apply_curate(op)
        elif kind == "ref":
            self._refs[(op["source"], op["ref"])] = op["media"]
        elif kind == "hint":
            self._hints[op["k"]] = op["v"]
        elif kind == "import":
            self.db.execute("INSERT INTO imports(at, source, export, summary) VALUES (?,?,?,?)",
                            (op.get("at"), op.get("source"), op.get("export"), _dumps(op.get("summary", {}))))
        # Unknown operations come from a newer minor version: ignored, never fatal.

    def _put_row(self, rid: str, rec: dict, digest: str | None, data: str) -> None:
        known = self._puts.get(rid)
        if known is not None:
            n, new = known[0], known[1]
            tags = known[10]
        else:
            row = self._row(rid)
            new = row is None
            if row is None:
                n = self._next_n
                self._next_n += 1
            else:
                n = row[3]
            tags = rec.get("tags") if new else None
        self._last = None
        self._puts[rid] = (n, new, rec["kind"], rec["source"], rec.get("source_id"), rec.get("created_at"),
                           rec.get("visibility") or "private", digest, data, _search_text(rec), tags)
        if len(self._puts) >= BATCH:
            self._flush_batch()

    def _flush_batch(self) -> None:
        """Write buffered rows with one executemany per table (inside the open transaction)."""
        db = self.db
        if self._provs:
            db.executemany("INSERT OR REPLACE INTO provenance(k, v) VALUES (?,?)", list(self._provs.items()))
            self._provs.clear()
        if self._puts:
            puts = list(self._puts.items())
            self._puts.clear()
            new = [(p[0], rid, *p[2:9]) for rid, p in puts if p[1]]
            old = [p for rid, p in puts if not p[1]]
            if new:
                db.executemany("INSERT INTO records(n, id, kind, source, source_id, created_at, visibility, digest, data) "
                               "VALUES (?,?,?,?,?,?,?,?,?)", new)
            if old:
                db.executemany("UPDATE records SET kind=?, source=?, source_id=?, created_at=?, digest=?, data=? WHERE n=?",
                               [(p[2], p[3], p[4], p[5], p[7], p[8], p[0]) for p in old])
                db.executemany("DELETE FROM fts WHERE rowid=?", [(p[0],) for p in old])
                db.executemany("DELETE FROM tri WHERE rowid=?", [(p[0],) for p in old])
            db.executemany("INSERT INTO fts(rowid, body) VALUES (?,?)", [(p[0], p[9]) for _, p in puts])
            unspaced = [(p[0], p[9]) for _, p in puts if has_unspaced(p[9])]
            if unspaced:
                db.executemany("INSERT INTO tri(rowid, body) VALUES (?,?)", unspaced)
            tags = [(rid, t) for rid, p in puts if p[10] for t in p[10]]
            if tags:
                db.executemany("INSERT OR IGNORE INTO tags(id, tag) VALUES (?,?)", tags)
        if self._refs:
            db.executemany("INSERT OR REPLACE INTO refs(source, ref, media) VALUES (?,?,?)",
                           [(s, r, m) for (s, r), m in self._refs.items()])
            self._refs.clear()
        if self._hints:
            db.executemany("INSERT OR REPLACE INTO hints(k, v) VALUES (?,?)", list(self._hints.items()))
            self._hints.clear()

    def _apply_curate(self, op: dict) -> None:
        rid = op["id"]
        if op.get("visibility"):
            self.db.execute("UPDATE records SET visibility=? WHERE id=?", (op["visibility"], rid))
            # Chosen by the owner: publish rules in vault.yaml never override it.
            self.db.execute("INSERT OR REPLACE INTO explicit(id, visibility) VALUES (?,?)", (rid, op["visibility"]))
        for tag in op.get("add", []):
            self.db.execute("INSERT OR IGNORE INTO tags(id, tag) VALUES (?,?)", (rid, tag))
        for tag in op.get("remove", []):
            self.db.execute("DELETE FROM tags WHERE id=? AND tag=?", (rid, tag))

    # --- provenance --------------------------------------------------------------------------------

    def _compact_prov(self, prov: Any, stage: bool = True) -> Any:
        """``{"@": key, ...own fields}`` for a provenance whose shared part is stored once."""
        if not isinstance(prov, dict) or "@" in prov:
            return prov
        shared = {k: prov[k] for k in PROV_SHARED if k in prov}
        if len(shared) < 2:
            return prov
        memo: tuple | None  # None when a value is unhashable
        memo = tuple(shared.items())
        try:
            key = self._prov_keys.get(memo)
        except TypeError:  # an unhashable value: computed each time
            key, memo = None, None
        if key is None:
            key = hashlib.sha256(_dumpb(shared)).hexdigest()[:20]
            if memo is not None:
                self._prov_keys[memo] = key
        if self._shared_prov(key) is None:
            self._prov_cache[key] = shared
            if stage:
                self._stage_line({"op": "prov", "k": key, "p": shared})
            self._provs[key] = _dumps(shared)
        out = {"@": key}
        out.update((k, v) for k, v in prov.items() if k not in shared)
        return out

    def _shared_prov(self, key: str) -> dict | None:
        if key in self._prov_cache:
            return self._prov_cache[key]
        row = self.db.execute("SELECT v FROM provenance WHERE k=?", (key,)).fetchone()
        if row is None:
            return None
        self._prov_cache[key] = json.loads(row[0])
        return self._prov_cache[key]

    def _expand(self, rec: dict) -> dict:
        prov = rec.get("provenance")
        if isinstance(prov, dict) and "@" in prov:
            full = dict(self._shared_prov(prov["@"]) or {})
            full.update((k, v) for k, v in prov.items() if k != "@")
            rec["provenance"] = full
        return rec

    # --- reading -------------------------------------------------------------------------------

    def _row(self, rid: str) -> tuple | None:
        """(visibility, digest, data, n) of a record, staged or stored."""
        p = self._puts.get(rid)
        if p is not None:
            vis = p[6]
            if not p[1]:
                row = self.db.execute("SELECT visibility FROM records WHERE n=?", (p[0],)).fetchone()
                vis = row[0] if row else vis
            return vis, p[7], p[8], p[0]
        # An import asks for the digest, then the record, then stages it: one query for the three.
        if self._last is not None and self._last[0] == rid:
            return self._last[1]
        if rid in self._known:
            row = self._known.pop(rid)
            self._last = (rid, row)
            return row
        row = self.db.execute("SELECT visibility, digest, data, n FROM records WHERE id=?", (rid,)).fetchone()
        self._last = (rid, row)
        return row

    def prefetch(self, ids: Iterable[str]) -> None:
        """Look up many records in one query, ahead of ``digest``/``get_raw`` asking for them one
        by one (an import asks about every record it reads)."""
        want = [rid for rid in dict.fromkeys(ids) if rid not in self._puts]
        self._known.clear()
        for start in range(0, len(want), 500):
            chunk = want[start:start + 500]
            found = {row[0]: row[1:] for row in self.db.execute(
                f"SELECT id, visibility, digest, data, n FROM records WHERE id IN ({','.join('?' * len(chunk))})", chunk)}
            for rid in chunk:
                self._known[rid] = found.get(rid)

    def get_raw(self, rid: str) -> dict | None:
        """The stored record (source fields only, without visibility/tags), or None."""
        row = self._row(rid)
        if row is None:
            return None
        rec = _loads(row[2])
        rec.pop("id", None)
        return self._expand(rec)

    def get(self, rid: str) -> dict | None:
        row = self._row(rid)
        return self._full((rid, row[0], row[2])) if row else None

    def find_prefix(self, prefix: str) -> list[str]:
        self._flush_batch()
        rows = self.db.execute("SELECT id FROM records WHERE id >= ? AND id < ? ORDER BY id LIMIT 3", (prefix, prefix + "\uffff")).fetchall()
        return [r[0] for r in rows]

    def digest(self, rid: str) -> str | None:
        """The content digest stored with a record's last put (see ``content_digest``)."""
        row = self._row(rid)
        return row[1] if row else None

    def hint(self, key: str) -> str | None:
        if key in self._hints:
            return self._hints[key]
        row = self.db.execute("SELECT v FROM hints WHERE k=?", (key,)).fetchone()
        return row[0] if row else None

    def ref(self, source: str, ref: str) -> str | None:
        staged = self._refs.get((source, ref))
        if staged is not None:
            return staged
        row = self.db.execute("SELECT media FROM refs WHERE source=? AND ref=?", (source, ref)).fetchone()
        return row[0] if row else None

    def _full(self, row: tuple) -> dict:
        rid, visibility, data = row
        rec = self._expand(_loads(data))
        rec.pop("id", None)
        out: dict[str, Any] = {"id": rid}
        out.update(rec)
        out["visibility"] = visibility
        out["tags"] = [t for (t,) in self.db.execute("SELECT tag FROM tags WHERE id=? ORDER BY tag", (rid,))]
        if rec.get("kind") == "post":
            refs = rec.get("media_refs") or []
            resolved = [self.ref(rec["source"], r) for r in refs]
            out["media"] = [m for m in resolved if m]
            missing = [r for r, m in zip(refs, resolved) if not m]
            if missing:
                out["missing_media"] = missing
        return out

    def query(
        self,
        *,
        kind: str | None = None,
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
        tag: str | None = None,
        visibility: str | None = None,
        text: str | None = None,
        limit: int | None = None,
        ids: Iterable[str] | None = None,
        oldest_first: bool = False,
    ) -> Iterator[dict]:
        """Records matching every given filter, newest first (``created_at``, then id).

        Rows are read lazily: memory does not grow with the number of matches."""
        self._flush_batch()
        where: list[str] = []
        args: list[Any] = []
        if kind:
            where.append("r.kind=?"); args.append(kind)
        if source:
            where.append("r.source=?"); args.append(source)
        if since:
            where.append("r.created_at>=?"); args.append(since)
        if until:
            where.append("r.created_at<=?"); args.append(until)
        if visibility:
            where.append("r.visibility=?"); args.append(visibility)
        if tag:
            where.append("EXISTS (SELECT 1 FROM tags t WHERE t.id=r.id AND t.tag=?)"); args.append(tag)
        if ids is not None:
            id_list = list(ids)
            where.append(f"r.id IN ({','.join('?' * len(id_list)) or 'NULL'})"); args.extend(id_list)
        if text is not None:
            clauses = match_clauses(text)
            if not clauses:
                return
            for table, expr in clauses:
                if table == "fts":
                    where.append("r.n IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
                elif table == "tri":
                    where.append("r.n IN (SELECT rowid FROM tri WHERE tri MATCH ?)")
                else:
                    where.append("r.n IN (SELECT rowid FROM tri WHERE body LIKE ? ESCAPE '\\')")
                args.append(expr)
        sql = "SELECT r.id, r.visibility, r.data FROM records r"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if oldest_first:
            sql += " ORDER BY r.created_at IS NULL, r.created_at ASC, r.id ASC"
        else:
            sql += " ORDER BY r.created_at IS NULL, r.created_at DESC, r.id DESC"
        if limit:
            sql += " LIMIT ?"; args.append(int(limit))
        # A cursor of its own, so callers may look things up while iterating.
        for row in self.db.cursor().execute(sql, args):
            yield self._full(row)

    def explicit_ids(self) -> set[str]:
        """Records whose visibility the owner set with `vault mark`."""
        return {rid for (rid,) in self.db.execute("SELECT id FROM explicit")}

    def counts(self) -> dict[str, int]:
        self._flush_batch()
        out = {"post": 0, "media": 0, "rating": 0}
        for kind, n in self.db.execute("SELECT kind, COUNT(*) FROM records GROUP BY kind"):
            out[kind] = n
        return out

    def by_source(self) -> dict[str, dict[str, int]]:
        self._flush_batch()
        out: dict[str, dict[str, int]] = {}
        for source, kind, n in self.db.execute("SELECT source, kind, COUNT(*) FROM records GROUP BY source, kind ORDER BY source"):
            out.setdefault(source, {})[kind] = n
        return out

    def visibility_counts(self) -> dict[str, int]:
        self._flush_batch()
        return dict(self.db.execute("SELECT visibility, COUNT(*) FROM records GROUP BY visibility").fetchall())

    def last_import_at(self) -> str | None:
        row = self.db.execute("SELECT MAX(at) FROM imports").fetchone()
        return row[0] if row else None

    def imports(self, limit: int = 5) -> list[dict]:
        rows = self.db.execute("SELECT at, source, export, summary FROM imports ORDER BY at DESC LIMIT ?", (limit,)).fetchall()
        return [{"at": at, "source": s, "export": e, "summary": json.loads(sm or "{}")} for at, s, e, sm in rows]

    def referenced_objects(self) -> set[str]:
        """Object ids that records point at (media bytes, raw captures)."""
        self._flush_batch()
        out: set[str] = set()
        for obj, capture in self.db.execute("SELECT json_extract(data, '$.object'), json_extract(data, '$.provenance.capture_object') FROM records"):
            if obj:
                out.add(obj)
            if capture:
                out.add(capture)
        # Objects kept through hints: raw captures, the signing key, encrypted premium content.
        for (v,) in self.db.execute("SELECT v FROM hints WHERE k LIKE 'capture:%' OR k LIKE 'signing-key:%' OR k LIKE 'premium:%'"):
            out.add(v)
        return out

    def source_objects(self, source: str) -> list[str]:
        """Object ids of the media records of ``source``."""
        self._flush_batch()
        return [oid for (oid,) in self.db.execute(
            "SELECT json_extract(data, '$.object') FROM records WHERE source=? AND kind='media'", (source,)) if oid]

    def matches_disk(self) -> bool:
        """Whether this index holds exactly what a fresh rebuild from the journal and snapshots
        would (for `vault check --read-data`).  The rebuild goes to an encrypted scratch file."""
        from itertools import zip_longest

        scratch = temp_name(self.tmpdir, ".db")
        other = Catalog(self.root, self.tmpdir, self._identity, self._wk, self.recipients, index_path=scratch)
        try:
            other.load()
            return all(a == b for a, b in zip_longest(self.fingerprint(), other.fingerprint()))
        finally:
            other.close()
            remove_files(scratch)

    def rebuild(self, why: str = "asked") -> None:
        """Rebuild the index from the journal and snapshots, in one transaction."""
        self._begin()
        try:
            self._bring_up_to_date("rebuild", [why])
            self._commit_tx()
        except BaseException:
            self._rollback()
            raise

    def fingerprint(self) -> Iterator[tuple]:
        """Every row of the index's tables in a canonical order (for comparing two indexes)."""
        self._flush_batch()
        for rid, kind, source, source_id, created_at, visibility, data in self.db.cursor().execute(
                "SELECT id, kind, source, source_id, created_at, visibility, data FROM records ORDER BY id"):
            rec = self._expand(_loads(data))
            rec.pop("id", None)
            yield ("record", rid, kind, source, source_id, created_at, visibility, _dumps(rec))
        for table, cols in PLAIN_TABLES.items():
            if table == "provenance":
                continue
            for row in self.db.cursor().execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(cols)}"):
                yield (table, *row)

    def close(self) -> None:
        if self._writer is not None:
            # Staged but never flushed: nothing of it becomes visible.
            self._writer.abort()
            self._writer = None
        if self.db is not None:
            self._rollback()
            self.db.close()
            self.db = None


@contextmanager
def _index_errors(path: Path) -> Iterator[None]:
    """SQLite failures of the index as VaultErrors (disk full, damaged file)."""
    import apsw

    try:
        yield
    except IndexUnusable as exc:
        raise StorageError(f"cannot open index/catalog.db: {exc}",
                           hint="check that the vault folder is writable; index/ is rebuilt from the journal when deleted") from exc
    except apsw.FullError as exc:
        raise StorageError("disk full while writing index/catalog.db",
                           hint="free some space and run the command again; nothing half-written is visible") from exc
    except (apsw.CorruptError, apsw.NotADBError) as exc:
        # Derived state: drop it, the next command rebuilds it from the journal.
        remove_files(path)
        raise IntegrityError("index/catalog.db is damaged; it was removed and is rebuilt from the journal",
                             hint="run the command again") from exc
    except apsw.Error as exc:
        raise StorageError(f"the catalog index failed: {exc}",
                           hint="index/ is rebuilt from the journal when deleted") from exc


def _join_json(head: bytes | None, body: bytes) -> bytes:
    """``{head, ...body's members}`` from an encoded object ``body``, without decoding it."""
    if head is None:
        return body
    return b"{" + head + (b"," + body[1:] if body != b"{}" else b"}")


class _ReplaySink:
    """The write side of a segment's decryption: complete lines are MAC'd and applied, holding
    back the last non-empty one, which at the end must be the MAC line."""

    def __init__(self, mac, apply) -> None:
        self._mac = mac
        self._apply = apply
        self._buf = bytearray()
        self._held: list[bytes] = []    # the last non-empty line and the empty ones after it
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        if self.error is None:
            try:
                self._buf += data
                start = 0
                while (end := self._buf.find(b"\n", start)) >= 0:
                    self._line(bytes(self._buf[start:end]))
                    start = end + 1
                del self._buf[:start]
            except BaseException as exc:  # re-raised by finish(), not through the decryptor
                self.error = exc
        return len(data)

    def flush(self) -> None:
        pass

    def _line(self, line: bytes) -> None:
        if not line.strip():
            if self._held:
                self._held.append(line)
            else:
                self._mac.update(line + b"\n")
            return
        for held in self._held:
            self._mac.update(held + b"\n")
            if held.strip():
                self._apply(_loads(held))
        self._held = [line]

    def finish(self, name: str) -> None:
        if self.error is None and self._buf:
            try:
                self._line(bytes(self._buf))
            except BaseException as exc:
                self.error = exc
        if self.error is not None:
            if isinstance(self.error, (ValueError, AttributeError, TypeError, KeyError)):
                raise IntegrityError(f"catalog/journal/{name} holds an operation that cannot be read") from self.error
            raise self.error
        try:
            mac = json.loads(self._held[0])["mac"] if self._held else None
        except (ValueError, KeyError, TypeError):
            mac = None
        if mac is None:
            raise IntegrityError(f"catalog/journal/{name} has no MAC line")
        if not hmac.compare_digest(str(mac), self._mac.hexdigest()):
            raise IntegrityError(f"catalog/journal/{name} fails its MAC (tampered, renamed or not written by this vault)")


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


class _SegmentWriter:
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
        self._sink = _ShaWriter(self._fh)
        self._thread = threading.Thread(target=self._run, args=(recipients,), name="vault-segment", daemon=True)
        self._thread.start()

    def _run(self, recipients: list[str]) -> None:
        try:
            crypto.encrypt_stream(_QueueReader(self._q), self._sink, recipients)
        except BaseException as exc:  # handed to the caller by finish()
            self._error = exc
            while self._q.get() is not None:  # let the producer finish without blocking
                pass

    def write(self, line: bytes) -> None:
        self._mac.update(line)
        self._buf += line
        if len(self._buf) >= self.CHUNK:
            self._q.put(bytes(self._buf))
            self._buf.clear()

    def _end(self) -> None:
        if self._buf:
            self._q.put(bytes(self._buf))
            self._buf.clear()
        self._q.put(None)
        self._thread.join()

    def seal(self) -> tuple[str, int]:
        """Append the MAC line, wait for the encryption and fsync the temporary file; return
        the ciphertext's sha256 and size.  The segment is not in the journal yet."""
        self._buf += (_dumps({"mac": self._mac.hexdigest()}) + "\n").encode()
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


class _ShaWriter:
    def __init__(self, dst: IO[bytes]) -> None:
        self._dst = dst
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self._dst.write(data)

    def flush(self) -> None:
        self._dst.flush()


class _Chain:
    """A reader over several byte strings in turn, without joining them."""

    def __init__(self, *parts: bytes) -> None:
        self._parts = [memoryview(p) for p in parts]

    def read(self, n: int = -1) -> bytes:
        while self._parts and not len(self._parts[0]):
            self._parts.pop(0)
        if not self._parts:
            return b""
        head = self._parts[0]
        if n is None or n < 0 or n >= len(head):
            self._parts.pop(0)
            return bytes(head)
        self._parts[0] = head[n:]
        return bytes(head[:n])


def _search_text(rec: dict) -> str:
    parts = [str(rec[f]) for f in SEARCH_FIELDS if rec.get(f)]
    place = rec.get("place") or {}
    if isinstance(place, dict) and place.get("name"):
        parts.append(str(place["name"]))
    parts.extend(str(link) for link in rec.get("links") or [])
    return "\n".join(parts)


def list_segment_files(root: Path) -> list[Path]:
    d = root / "journal"
    return sorted(d.glob("*.jsonl.age")) if d.is_dir() else []


def list_snapshot_files(root: Path) -> list[Path]:
    d = root / "snapshots"
    return sorted(d.glob("*.sqlite.age")) if d.is_dir() else []


__all__ = ["Catalog", "AUTO_COMPACT_SEGMENTS", "list_segment_files", "list_snapshot_files", "content_digest", "encode_record"]
