"""The catalog's write path: transactions on the index, staging operations into the segment being
written, committing a segment (``flush``), and applying operations to the index (shared with the
replay of segments).  Mixed into ``vault.store.catalog.Catalog``, whose ``__init__`` sets the state
declared below.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StorageError
from .codec import PROV_SHARED, Encoded, dump_bytes, dump_text, encode_record, join_json, search_text
from .index import index_errors as _index_errors
from .index import remove_files
from .segments import SegmentWriter
from .words import has_unspaced

if TYPE_CHECKING:
    from .head import CatalogHead

BATCH = 2000  # records buffered before they go to SQLite in one executemany


class CatalogWriter:
    db: Any
    index_path: Path
    journal_dir: Path
    tmpdir: Path
    recipients: list[str]
    segments: list[str]
    snapshot_name: str | None
    head: "CatalogHead"
    _wk: bytes
    _writer: SegmentWriter | None
    _pending: int
    _in_tx: bool
    _next_n: int
    _puts: dict[str, tuple]
    _refs: dict[tuple[str, str], str]
    _hints: dict[str, str]
    _provs: dict[str, str]
    _prov_cache: dict[str, dict]
    _last: tuple | None
    _prov_keys: dict[tuple, str]
    _known: dict[str, tuple | None]
    _reads: int

    if TYPE_CHECKING:
        def _save_state(self, built: bool = False, sealed: dict[str, int] | None = None) -> None: ...
        def end_reads(self) -> None: ...
        def _row(self, rid: str) -> tuple | None: ...
        def _shared_prov(self, key: str) -> dict | None: ...

    # --- transactions ----------------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._in_tx:
            self._last = None
            self._known.clear()
            self.end_reads()  # a read transaction is not upgraded: it ends, and the write begins
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
        if self._in_tx or self._reads:
            self._in_tx = False
            self._reads = 0
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
        prov_json = dump_bytes(prov) if prov is not None else None
        data = join_json(b'"provenance":' + prov_json if prov_json is not None else None, enc.body)
        head = b'"id":' + dump_bytes(enc.rid)
        if prov_json is not None:
            head += b',"provenance":' + prov_json
        for extra in ("visibility", "tags"):
            if enc.rec.get(extra):
                head += b',"' + extra.encode() + b'":' + dump_bytes(enc.rec[extra])
        line = b'{"op":"put","d":"' + enc.digest.encode() + b'","r":' + join_json(head, enc.body) + b"}\n"
        self._writer_for().write(line)
        self._pending += 1
        self._put_row(enc.rid, enc.rec, enc.digest, data.decode("utf-8"))

    def _stage_line(self, op: dict) -> None:
        self._writer_for().write(dump_bytes(op) + b"\n")
        self._pending += 1

    def _writer_for(self) -> "SegmentWriter":
        if self._writer is None:
            name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.jsonl.age"
            self._writer = SegmentWriter(self.journal_dir / name, self.tmpdir, self.recipients,
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
        except BaseException:
            # Ctrl-C before the commit point: the sealed segment goes, nothing of it shows (an
            # index that committed naming it is stale, and rebuilt by the next command).
            writer.abort()
            self._rollback()
            self.segments.remove(name)
            raise
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

    # --- applying operations -------------------------------------------------------------------

    def _apply(self, op: dict) -> None:
        kind = op.get("op")
        if kind == "put":
            enc = encode_record(op["r"])
            prov = self._compact_prov(enc.provenance, stage=False)
            data = join_json(b'"provenance":' + dump_bytes(prov) if prov is not None else None, enc.body)
            self._put_row(enc.rid, enc.rec, op.get("d") or enc.digest, data.decode("utf-8"))
        elif kind == "prov":
            blob = dump_text(op.get("p") or {})
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
                            (op.get("at"), op.get("source"), op.get("export"), dump_text(op.get("summary", {}))))
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
                           rec.get("visibility") or "private", digest, data, search_text(rec), tags)
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
            key = hashlib.sha256(dump_bytes(shared)).hexdigest()[:20]
            if memo is not None:
                self._prov_keys[memo] = key
        if self._shared_prov(key) is None:
            self._prov_cache[key] = shared
            if stage:
                self._stage_line({"op": "prov", "k": key, "p": shared})
            self._provs[key] = dump_text(shared)
        out = {"@": key}
        out.update((k, v) for k, v in prov.items() if k not in shared)
        return out

