"""The catalog: every record, as an append-only journal of encrypted segments plus snapshots,
read through a persistent page-encrypted index.

On disk (docs/on-disk-format.md):

* ``catalog/journal/<ts_ns>-<rand>.jsonl.age``: one segment per commit; JSON lines of operations,
  the last line ``{"mac": ...}`` = HMAC(writer key, "segment" + name + body), so a segment that was
  swapped, renamed or forged by someone holding only the public recipient is refused.
* ``catalog/snapshots/<seq>-<rand>.sqlite.age``: a header line (seq, the segments it supersedes,
  MAC) then the bytes of an SQLite database file holding the tables of ``SNAPSHOT_SCHEMA``,
  written and read in bounded memory (``vault.store.snapshot``).
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

The code: this module loads the index and writes snapshots; ``catalog_write`` holds the write
path (staging, ``flush``, applying operations), ``catalog_read`` the queries, ``codec`` the
encodings of records and segment lines, ``segments`` the segment writer, ``index`` the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any, Callable

from .. import crypto
from ..errors import IntegrityError
from .catalog_read import CatalogReader
from .catalog_write import BATCH, CatalogWriter
from .codec import Encoded, ReplaySink, content_digest, encode_record, load_json, search_text
from .files import ShaWriter, atomic_writer, ensure_dir, storage_error, temp_name
from .head import CatalogHead, Survey
from .index import PLAIN_TABLES, IndexUnusable, index_key, open_db, remove_files
from .index import index_errors as _index_errors
from .segments import SegmentWriter, list_segment_files, list_snapshot_files
from .snapshot import SNAPSHOT_MAGIC, SNAPSHOT_SCHEMA, read_snapshot_file, snapshot_mac, tables_of, write_snapshot_file

AUTO_COMPACT_SEGMENTS = 64


class Catalog(CatalogReader, CatalogWriter):
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
        self._writer: SegmentWriter | None = None
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
        self._batching = 0  # open batched_reads() scopes
        self._reads = 0     # lookups the open read transaction served (0: none is open)
        self._read_until = 0.0  # when the next lookup begins a new one (time.monotonic)
        self.head = CatalogHead(root, tmpdir, writer_key)
        self._view: Survey | None = None  # what the head lists, read by load()
        # Told before a rebuild of the index from a journal that is not empty: it takes seconds
        # per 100,000 records, and a command that waits for it should say why.
        self.announce: Callable[[str], None] | None = None

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
        ("rebuild", [reason, in the words a user sees])."""
        meta = self._read_state()
        assert self._view is not None
        latest = self._view.snapshot
        if meta.get("built") != "1":
            return ("rebuild", ["index/ held none this version can use"])
        if latest != self.snapshot_name:
            return ("rebuild", ["the catalog was compacted since the index was built"])
        superseded = set(self.superseded)
        sizes = self._disk_segments()
        live = {n: sizes.get(n, -1) for n in self._view.segments if n not in superseded}
        applied = json.loads(meta.get("segments") or "{}")
        if live == applied:
            return None
        new = sorted(set(live) - set(applied))
        if all(live.get(n) == s for n, s in applied.items()) and (not applied or new[0] > max(applied)):
            return ("catch-up", new)
        return ("rebuild", ["the journal is not what the index was built from"])

    def _bring_up_to_date(self, how: str, detail: list[str]) -> None:
        if how == "catch-up":
            for name in detail:
                self._replay_segment(name)
                self.segments.append(name)
            self._save_state()
            return
        self._clear()
        assert self._view is not None
        if self.announce is not None and (self._view.snapshot or self._view.segments):
            self.announce(f"rebuilding the catalog index from the journal ({detail[0]}); "
                          "this takes a few seconds per 100,000 records")
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
                ops.append(load_json(line))
        return ops

    def check_segment(self, name: str) -> int:
        """Decrypt a segment and check its MAC and every line as ``read_segment`` does, streamed
        (memory does not grow with the segment); return its number of operations."""
        ops: list[int] = []
        sink = ReplaySink(self._segment_mac_start(name), lambda op: ops.append(1))
        with open(self.journal_dir / name, "rb") as fh:
            crypto.decrypt_stream(fh, sink, self._identity, what=f"catalog/journal/{name}")
        sink.finish(name)
        return len(ops)

    def _replay_segment(self, name: str) -> None:
        """Apply a segment's operations to the index while it is decrypted, a chunk at a time
        (memory does not grow with the segment).  The MAC is checked at the end; the caller
        rolls the transaction back when it fails, so nothing of a forged segment stays."""
        sink = ReplaySink(self._segment_mac_start(name), self._apply)
        with open(self.journal_dir / name, "rb") as fh:
            crypto.decrypt_stream(fh, sink, self._identity, what=f"catalog/journal/{name}")
        sink.finish(name)

    def _segment_mac(self, name: str, body: bytes) -> str:
        return hmac.new(self._wk, b"segment\0" + name.encode() + b"\0" + body, hashlib.sha256).hexdigest()

    def _load_snapshot(self, path: Path) -> None:
        """Replay a snapshot into the index, streamed (see ``vault.store.snapshot``)."""
        header = read_snapshot_file(path, self.tmpdir, self._identity, self._wk, self._copy_snapshot)
        self.superseded = list(header.get("supersedes", []))
        self.snapshot_seq = int(header.get("seq", 0))
        self.snapshot_name = path.name

    def _copy_snapshot(self, snap: Any) -> None:
        tables = tables_of(snap)  # an older snapshot may lack some
        for table, cols in PLAIN_TABLES.items():
            if table in tables:
                rows = snap.execute(f"SELECT {', '.join(cols)} FROM {table}")
                self.db.executemany(f"INSERT OR REPLACE INTO {table}({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})", rows)
        if "records" not in tables:
            return
        digest = "d.digest" if "digests" in tables else "NULL"
        join = " LEFT JOIN digests d ON d.id = r.id" if "digests" in tables else ""
        rows = snap.execute(f"SELECT r.id, r.kind, r.source, r.source_id, r.created_at, r.visibility, {digest}, r.data FROM records r{join}")
        for rid, kind, source, source_id, created_at, visibility, digest, data in rows:
            rec = load_json(data)
            rec.pop("id", None)
            n = self._next_n
            self._next_n += 1
            self._puts[rid] = (n, True, kind, source, source_id, created_at, visibility or "private",
                               digest, data, search_text(rec), None)
            if len(self._puts) >= BATCH:
                self._flush_batch()
        self._flush_batch()

    def _snapshot_mac(self, name: str, header: dict, db: bytes) -> str:
        mac = snapshot_mac(self._wk, name, header)
        mac.update(db)
        return mac.hexdigest()

    def _write_encrypted(self, final: Path, plain: crypto.Readable, what: str) -> str:
        """Encrypt ``plain`` into ``final`` atomically; return the ciphertext's sha256."""
        ensure_dir(final.parent)
        with atomic_writer(final, self.tmpdir, what=what) as fh:
            sink = ShaWriter(fh)
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
        # The database is built in an encrypted scratch file and streamed: memory does not grow
        # with the catalog.  Atomic: temporary file, fsync, rename, fsync of the folder.
        sha = write_snapshot_file(self.db, self.snap_dir / name, self.tmpdir, self.recipients, self._wk, header)
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
        """Rebuild the index from the journal and snapshots, in one transaction.  The pieces are
        listed afresh from the head, so a rebuild after this object wrote a snapshot or a segment
        loads what is on disk now, not what was there when it was opened."""
        self._view = self.head.view()
        self._begin()
        try:
            self._bring_up_to_date("rebuild", [why])
            self._commit_tx()
        except BaseException:
            self._rollback()
            raise

    def close(self) -> None:
        if self._writer is not None:
            # Staged but never flushed: nothing of it becomes visible.
            self._writer.abort()
            self._writer = None
        if self.db is not None:
            self._rollback()
            self.db.close()
            self.db = None



__all__ = ["Catalog", "AUTO_COMPACT_SEGMENTS", "list_segment_files", "list_snapshot_files", "content_digest", "encode_record",
           "Encoded", "storage_error", "SNAPSHOT_MAGIC", "SNAPSHOT_SCHEMA"]
