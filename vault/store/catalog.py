"""The catalog: every record, as an append-only journal of encrypted segments plus snapshots.

On disk (docs/on-disk-format.md):

* ``catalog/journal/<ts_ns>-<rand>.jsonl.age``: one segment per commit; JSON lines of operations,
  the last line ``{"mac": ...}`` = HMAC(writer key, "segment" + name + body), so a segment that was
  swapped, renamed or forged by someone holding only the public recipient is refused.
* ``catalog/snapshots/<seq>-<rand>.sqlite.age``: a header line (seq, the segments it supersedes,
  MAC) then the bytes of ``sqlite3.Connection.serialize()``.

In memory: SQLite (loaded with ``deserialize``) with an FTS5 index for search.  Operations are
idempotent upserts, so replaying a segment twice changes nothing.

Operations:
  put     {"op":"put","r":record}      insert, or replace the source fields of an existing record
                                       (visibility and tags of an existing record are kept)
  curate  {"op":"curate","id","visibility"?,"add"?,"remove"?}
  ref     {"op":"ref","source","ref","media"}   a source's name for a media record (post links)
  hint    {"op":"hint","k","v"}        keyed fingerprints that let re-imports skip unchanged files
  import  {"op":"import","at","source","export","summary"}
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from .. import crypto
from ..errors import IntegrityError
from .files import atomic_writer, ensure_dir
from .head import CatalogHead

SCHEMA = """
CREATE TABLE IF NOT EXISTS records(
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT NOT NULL, source_id TEXT,
    created_at TEXT, visibility TEXT NOT NULL DEFAULT 'private', data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_kind_time ON records(kind, created_at);
CREATE INDEX IF NOT EXISTS records_time ON records(created_at);
CREATE TABLE IF NOT EXISTS explicit(id TEXT PRIMARY KEY, visibility TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tags(id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY(id, tag));
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag);
CREATE TABLE IF NOT EXISTS refs(source TEXT NOT NULL, ref TEXT NOT NULL, media TEXT NOT NULL, PRIMARY KEY(source, ref));
CREATE TABLE IF NOT EXISTS hints(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS digests(id TEXT PRIMARY KEY, digest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS imports(at TEXT, source TEXT, export TEXT, summary TEXT);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(id UNINDEXED, body, tokenize='unicode61 remove_diacritics 2');
"""

# Fields whose text is searchable.
SEARCH_FIELDS = ("title", "text", "comment", "caption", "alt", "filename", "item_title", "counterparty", "content_warning", "reply")

SNAPSHOT_MAGIC = "vault-snapshot"
AUTO_COMPACT_SEGMENTS = 64
AUTO_COMPACT_OPS = 5000  # or this many operations replayed on top of the snapshot


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Catalog:
    def __init__(self, root: Path, tmpdir: Path, identity, writer_key: bytes, recipients: list[str]) -> None:
        self.root = root
        self.journal_dir = root / "journal"
        self.snap_dir = root / "snapshots"
        self.tmpdir = tmpdir
        self._identity = identity
        self._wk = writer_key
        self.recipients = recipients
        self.db = sqlite3.connect(":memory:")
        self.db.executescript(SCHEMA)
        self._pending: list[dict] = []
        self.segments: list[str] = []       # live segment names replayed on top of the snapshot
        self.superseded: list[str] = []     # segments named by the loaded snapshot
        self.snapshot_name: str | None = None
        self.snapshot_seq = 0
        self.ops_since_snapshot = 0
        self.head = CatalogHead(root, tmpdir, writer_key)

    # --- loading -------------------------------------------------------------------------------

    def load(self) -> "Catalog":
        view = self.head.view()  # the pieces the MAC'd head lists; IntegrityError if any is missing
        if view.snapshot:
            self._load_snapshot(self.snap_dir / view.snapshot)
        superseded = set(self.superseded)
        for name in view.segments:
            if name in superseded:
                continue
            for op in self.read_segment(name):
                self._apply(op)
                self.ops_since_snapshot += 1
            self.segments.append(name)
        self.db.commit()
        self.head.loaded(self.snapshot_name, self.segments)  # a vault from before heads gets one
        return self

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
                ops.append(json.loads(line))
        return ops

    def _segment_mac(self, name: str, body: bytes) -> str:
        return hmac.new(self._wk, b"segment\0" + name.encode() + b"\0" + body, hashlib.sha256).hexdigest()

    def _load_snapshot(self, path: Path) -> None:
        plain = crypto.decrypt_bytes(path.read_bytes(), self._identity, what=f"catalog/snapshots/{path.name}")
        header_raw, _, db_bytes = plain.partition(b"\n")
        try:
            header = json.loads(header_raw)
        except ValueError:
            raise IntegrityError(f"catalog/snapshots/{path.name} has a corrupt header") from None
        mac = header.pop("mac", "")
        if header.get("format") != SNAPSHOT_MAGIC or not hmac.compare_digest(mac, self._snapshot_mac(path.name, header, db_bytes)):
            raise IntegrityError(f"catalog/snapshots/{path.name} fails its MAC")
        self.db.close()
        self.db = sqlite3.connect(":memory:")
        self.db.deserialize(db_bytes)
        self.db.executescript(SCHEMA)  # tables a newer minor version may add
        self.superseded = list(header.get("supersedes", []))
        self.snapshot_seq = int(header.get("seq", 0))
        self.snapshot_name = path.name

    def _snapshot_mac(self, name: str, header: dict, db: bytes) -> str:
        msg = b"snapshot\0" + name.encode() + b"\0" + _dumps(header).encode() + b"\0" + db
        return hmac.new(self._wk, msg, hashlib.sha256).hexdigest()

    # --- writing -------------------------------------------------------------------------------

    def stage(self, op: dict) -> None:
        """Apply ``op`` in memory now and queue it for the next segment."""
        self._apply(op)
        self._pending.append(op)
        self.ops_since_snapshot += 1

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> tuple[str, str] | None:
        """Write queued operations as one segment; return (relative path, ciphertext sha256)."""
        if not self._pending:
            return None
        self.db.commit()
        name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.jsonl.age"
        # One copy of the plaintext in memory, MAC'd line by line, then streamed through age.
        plain = io.BytesIO()
        mac = hmac.new(self._wk, b"segment\0" + name.encode() + b"\0", hashlib.sha256)
        for op in self._pending:
            line = (_dumps(op) + "\n").encode("utf-8")
            mac.update(line)
            plain.write(line)
        plain.write(_dumps({"mac": mac.hexdigest()}).encode() + b"\n")
        plain.seek(0)
        sha = self._write_encrypted(self.journal_dir / name, plain, "a catalog segment")
        self._pending.clear()
        self.segments.append(name)
        self.head.record(self.snapshot_name, self.segments)  # after the segment, before its checksum
        return f"catalog/journal/{name}", sha

    def _write_encrypted(self, final: Path, plain: IO[bytes], what: str) -> str:
        """Encrypt ``plain`` into ``final`` atomically; return the ciphertext's sha256."""
        ensure_dir(final.parent)
        with atomic_writer(final, self.tmpdir, what=what) as fh:
            sink = _ShaWriter(fh)
            crypto.encrypt_stream(plain, sink, self.recipients)
        return sink.sha.hexdigest()

    def write_snapshot(self) -> tuple[str, str]:
        """Write a snapshot superseding every segment replayed so far (adds a file, deletes none)."""
        self.db.commit()
        seq = self.snapshot_seq + 1
        name = f"{seq:012d}-{secrets.token_hex(4)}.sqlite.age"
        supersedes = sorted(set(self.superseded) | set(self.segments))
        header = {"format": SNAPSHOT_MAGIC, "version": 1, "seq": seq, "supersedes": supersedes}
        db_bytes = self.db.serialize()
        header_full = dict(header, mac=self._snapshot_mac(name, header, db_bytes))
        # Header line then the database, streamed through age without concatenating copies.
        plain = _Chain(_dumps(header_full).encode() + b"\n", db_bytes)
        sha = self._write_encrypted(self.snap_dir / name, plain, "a catalog snapshot")
        del db_bytes
        self.snapshot_name, self.snapshot_seq = name, seq
        self.superseded, self.segments = supersedes, []
        self.ops_since_snapshot = 0
        self.head.record(name, [])  # the snapshot is live from here on
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
            self._apply_put(op["r"])
            if op.get("d"):
                self.db.execute("INSERT OR REPLACE INTO digests(id, digest) VALUES (?,?)", (op["r"]["id"], op["d"]))
        elif kind == "curate":
            self._apply_curate(op)
        elif kind == "ref":
            self.db.execute("INSERT OR REPLACE INTO refs(source, ref, media) VALUES (?,?,?)", (op["source"], op["ref"], op["media"]))
        elif kind == "hint":
            self.db.execute("INSERT OR REPLACE INTO hints(k, v) VALUES (?,?)", (op["k"], op["v"]))
        elif kind == "import":
            self.db.execute("INSERT INTO imports(at, source, export, summary) VALUES (?,?,?,?)", (op.get("at"), op.get("source"), op.get("export"), _dumps(op.get("summary", {}))))
        # Unknown operations come from a newer minor version: ignored, never fatal.

    def _apply_put(self, rec: dict) -> None:
        rec = dict(rec)
        rid = rec.pop("id")
        visibility = rec.pop("visibility", None) or "private"
        tags = rec.pop("tags", None) or []
        row = self.db.execute("SELECT 1 FROM records WHERE id=?", (rid,)).fetchone()
        if row:
            self.db.execute(
                "UPDATE records SET kind=?, source=?, source_id=?, created_at=?, data=? WHERE id=?",
                (rec["kind"], rec["source"], rec.get("source_id"), rec.get("created_at"), _dumps(rec), rid),
            )
            self.db.execute("DELETE FROM fts WHERE id=?", (rid,))
        else:
            self.db.execute(
                "INSERT INTO records(id, kind, source, source_id, created_at, visibility, data) VALUES (?,?,?,?,?,?,?)",
                (rid, rec["kind"], rec["source"], rec.get("source_id"), rec.get("created_at"), visibility, _dumps(rec)),
            )
            self.db.executemany("INSERT OR IGNORE INTO tags(id, tag) VALUES (?,?)", [(rid, t) for t in tags])
        self.db.execute("INSERT INTO fts(id, body) VALUES (?,?)", (rid, _search_text(rec)))

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

    # --- reading -------------------------------------------------------------------------------

    def get_raw(self, rid: str) -> dict | None:
        """The stored record (source fields only, without visibility/tags), or None."""
        row = self.db.execute("SELECT data FROM records WHERE id=?", (rid,)).fetchone()
        return json.loads(row[0]) if row else None

    def get(self, rid: str) -> dict | None:
        row = self.db.execute("SELECT id, visibility, data FROM records WHERE id=?", (rid,)).fetchone()
        return self._full(row) if row else None

    def find_prefix(self, prefix: str) -> list[str]:
        rows = self.db.execute("SELECT id FROM records WHERE id >= ? AND id < ? LIMIT 3", (prefix, prefix + "\uffff")).fetchall()
        return [r[0] for r in rows]

    def digest(self, rid: str) -> str | None:
        """The content digest stored with a record's last put (see ``content_digest``)."""
        row = self.db.execute("SELECT digest FROM digests WHERE id=?", (rid,)).fetchone()
        return row[0] if row else None

    def hint(self, key: str) -> str | None:
        row = self.db.execute("SELECT v FROM hints WHERE k=?", (key,)).fetchone()
        return row[0] if row else None

    def ref(self, source: str, ref: str) -> str | None:
        row = self.db.execute("SELECT media FROM refs WHERE source=? AND ref=?", (source, ref)).fetchone()
        return row[0] if row else None

    def _full(self, row: tuple) -> dict:
        rid, visibility, data = row
        rec = json.loads(data)
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
        """Records matching every given filter, newest first (``created_at``, then id)."""
        where, args = [], []
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
        sql = "SELECT r.id, r.visibility, r.data FROM records r"
        if text is not None:
            sql += " JOIN fts ON fts.id = r.id"
            where.append("fts MATCH ?"); args.append(fts_query(text))
        if where:
            sql += " WHERE " + " AND ".join(where)
        order = "ASC" if oldest_first else "DESC"
        sql += f" ORDER BY r.created_at IS NULL, r.created_at {order}, r.id {order}"
        if limit:
            sql += " LIMIT ?"; args.append(int(limit))
        for row in self.db.execute(sql, args).fetchall():
            yield self._full(row)

    def explicit_ids(self) -> set[str]:
        """Records whose visibility the owner set with `vault mark`."""
        return {rid for (rid,) in self.db.execute("SELECT id FROM explicit")}

    def counts(self) -> dict[str, int]:
        out = {"post": 0, "media": 0, "rating": 0}
        for kind, n in self.db.execute("SELECT kind, COUNT(*) FROM records GROUP BY kind"):
            out[kind] = n
        return out

    def by_source(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for source, kind, n in self.db.execute("SELECT source, kind, COUNT(*) FROM records GROUP BY source, kind ORDER BY source"):
            out.setdefault(source, {})[kind] = n
        return out

    def imports(self, limit: int = 5) -> list[dict]:
        rows = self.db.execute("SELECT at, source, export, summary FROM imports ORDER BY at DESC LIMIT ?", (limit,)).fetchall()
        return [{"at": at, "source": s, "export": e, "summary": json.loads(sm or "{}")} for at, s, e, sm in rows]

    def referenced_objects(self) -> set[str]:
        """Object ids that records point at (media bytes, raw captures)."""
        out: set[str] = set()
        for (data,) in self.db.execute("SELECT data FROM records"):
            rec = json.loads(data)
            if rec.get("object"):
                out.add(rec["object"])
            prov = rec.get("provenance") or {}
            if prov.get("capture_object"):
                out.add(prov["capture_object"])
        # Objects kept through hints: raw captures, the signing key, encrypted premium content.
        for (v,) in self.db.execute("SELECT v FROM hints WHERE k LIKE 'capture:%' OR k LIKE 'signing-key:%' OR k LIKE 'premium:%'"):
            out.add(v)
        return out

    def close(self) -> None:
        self.db.close()


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


def content_digest(rec: dict) -> str:
    """Digest of a record's source data: provenance (when, from which file) and id aside.  Two
    puts with the same digest hold the same data, so a re-import compares digests only."""
    body = {k: v for k, v in rec.items() if k not in ("provenance", "id")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()).hexdigest()


def _search_text(rec: dict) -> str:
    parts = [str(rec[f]) for f in SEARCH_FIELDS if rec.get(f)]
    place = rec.get("place") or {}
    if place.get("name"):
        parts.append(str(place["name"]))
    parts.extend(rec.get("links") or [])
    return "\n".join(parts)


def fts_query(text: str) -> str:
    """Turn user words into an FTS5 query: every word must match (prefix match on each).

    Quoting every token keeps FTS5 syntax characters in user input from being operators.
    """
    words = [w for w in text.replace('"', " ").split() if w]
    if not words:
        return '""'
    return " ".join(f'"{w}"*' for w in words)


def list_segment_files(root: Path) -> list[Path]:
    d = root / "journal"
    return sorted(d.glob("*.jsonl.age")) if d.is_dir() else []


__all__ = ["Catalog", "AUTO_COMPACT_SEGMENTS", "list_segment_files", "os"]
