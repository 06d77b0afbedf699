"""The catalog's read path: records by id, the filtered and full-text query, counts and the
index's fingerprint.  Mixed into ``vault.store.catalog.Catalog``, whose ``__init__`` sets the state
declared below; reads see the operations staged in the open transaction.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from time import monotonic
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .codec import dump_text, load_json
from .index import PLAIN_TABLES, match_clauses

# Lookups one read transaction of ``batched_reads`` serves at most, and the seconds after which
# the next lookup begins a new one.
READ_BATCH = 500
READ_SECONDS = 0.2


class CatalogReader:
    db: Any
    _puts: dict[str, tuple]
    _refs: dict[tuple[str, str], str]
    _hints: dict[str, str]
    _prov_cache: dict[str, dict]
    _last: tuple | None
    _known: dict[str, tuple | None]
    _in_tx: bool
    _batching: int
    _reads: int
    _read_until: float

    if TYPE_CHECKING:
        def _flush_batch(self) -> None: ...

    # --- read transactions -----------------------------------------------------------------------

    @contextmanager
    def batched_reads(self) -> Iterator[None]:
        """Let the lookups made inside share read transactions.

        Outside a write transaction each lookup is a transaction of its own: SQLite takes and
        drops its lock, looks for a hot journal and reads the first page again, about 20 us
        where the lookup itself takes 3.  An import of a newer export asks about every photo
        before it writes anything (two lookups each).  Inside this scope a read transaction
        serves READ_BATCH lookups at most, none after READ_SECONDS, and ends before any write
        and at ``end_reads``: a process waiting to commit waits about that long."""
        self._batching += 1
        done = False
        try:
            yield
            done = True
        finally:
            self._batching -= 1
            if not self._batching:
                try:
                    self.end_reads()
                except Exception:
                    if done:  # else the error that ended the scope is the one to report
                        raise

    def end_reads(self) -> None:
        """End the read transaction of ``batched_reads``, if one is open (before waiting on
        something else: it holds SQLite's shared lock)."""
        if self._reads:
            self._reads = 0
            if self.db is not None:
                self.db.execute("COMMIT")

    def _read(self, sql: str, args: Any = ()) -> Any:
        """A lookup: inside ``batched_reads`` and outside a write transaction, it joins the open
        read transaction, or opens one."""
        if self._batching and not self._in_tx:
            if self._reads >= READ_BATCH or self._reads and monotonic() > self._read_until:
                self.end_reads()
            if not self._reads:
                self.db.execute("BEGIN")
                self._read_until = monotonic() + READ_SECONDS
            self._reads += 1
        return self.db.execute(sql, args)

    # --- reading -------------------------------------------------------------------------------

    def _shared_prov(self, key: str) -> dict | None:
        if key in self._prov_cache:
            return self._prov_cache[key]
        row = self._read("SELECT v FROM provenance WHERE k=?", (key,)).fetchone()
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
                row = self._read("SELECT visibility FROM records WHERE n=?", (p[0],)).fetchone()
                vis = row[0] if row else vis
            return vis, p[7], p[8], p[0]
        # An import asks for the digest, then the record, then stages it: one query for the three.
        if self._last is not None and self._last[0] == rid:
            return self._last[1]
        if rid in self._known:
            row = self._known.pop(rid)
            self._last = (rid, row)
            return row
        row = self._read("SELECT visibility, digest, data, n FROM records WHERE id=?", (rid,)).fetchone()
        self._last = (rid, row)
        return row

    def _whole_row(self, rid: str) -> tuple | None:
        """``_row`` with the record's data, read now when ``prefetch`` left it out."""
        row = self._row(rid)
        if row is None or row[2] is not None:
            return row
        got = self._read("SELECT data FROM records WHERE n=?", (row[3],)).fetchone()
        full = (row[0], row[1], got[0], row[3]) if got else None
        self._last = (rid, full)
        return full

    def prefetch(self, ids: Iterable[str]) -> None:
        """Look up many records in one query, ahead of ``digest``/``get_raw`` asking for them one
        by one (an import asks about every record it reads).  Their data is left out: an
        unchanged record is known by its digest, and only a changed one is read whole."""
        want = [rid for rid in dict.fromkeys(ids) if rid not in self._puts]
        self._known.clear()
        for start in range(0, len(want), 500):
            chunk = want[start:start + 500]
            found = {row[0]: row[1:] for row in self._read(
                f"SELECT id, visibility, digest, NULL, n FROM records WHERE id IN ({','.join('?' * len(chunk))})", chunk)}
            for rid in chunk:
                self._known[rid] = found.get(rid)

    def get_raw(self, rid: str) -> dict | None:
        """The stored record (source fields only, without visibility/tags), or None."""
        row = self._whole_row(rid)
        if row is None:
            return None
        rec = load_json(row[2])
        rec.pop("id", None)
        return self._expand(rec)

    def get(self, rid: str) -> dict | None:
        row = self._whole_row(rid)
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
        row = self._read("SELECT v FROM hints WHERE k=?", (key,)).fetchone()
        return row[0] if row else None

    def hints(self, keys: list[str]) -> dict[str, str]:
        """``hint`` of many keys in one query per 500: those that have a value."""
        found = {k: self._hints[k] for k in keys if k in self._hints}
        want = [k for k in dict.fromkeys(keys) if k not in found]
        for start in range(0, len(want), 500):
            chunk = want[start:start + 500]
            found.update(self._read(f"SELECT k, v FROM hints WHERE k IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def ref(self, source: str, ref: str) -> str | None:
        staged = self._refs.get((source, ref))
        if staged is not None:
            return staged
        row = self._read("SELECT media FROM refs WHERE source=? AND ref=?", (source, ref)).fetchone()
        return row[0] if row else None

    def _full(self, row: tuple) -> dict:
        rid, visibility, data = row
        rec = self._expand(load_json(data))
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
        filters = _filters(kind=kind, source=source, since=since, until=until, tag=tag, visibility=visibility, text=text, ids=ids)
        if filters is None:
            return
        where, args = filters
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

    def fingerprint(self) -> Iterator[tuple]:
        """Every row of the index's tables in a canonical order (for comparing two indexes)."""
        self._flush_batch()
        for rid, kind, source, source_id, created_at, visibility, data in self.db.cursor().execute(
                "SELECT id, kind, source, source_id, created_at, visibility, data FROM records ORDER BY id"):
            rec = self._expand(load_json(data))
            rec.pop("id", None)
            yield ("record", rid, kind, source, source_id, created_at, visibility, dump_text(rec))
        for table, cols in PLAIN_TABLES.items():
            if table == "provenance":
                continue
            for row in self.db.cursor().execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(cols)}"):
                yield (table, *row)
        for table in ("fts", "tri"):
            yield from self._vocabulary(table)

    def _vocabulary(self, table: str) -> Iterator[tuple]:
        """What a word index holds, whatever the row numbers its records got: each term, in
        order, with how many records have it and how many times (``fts`` is contentless: it
        keeps no text to compare)."""
        self.db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_terms USING fts5vocab(main, {table}, row)")
        for term, records, times in self.db.cursor().execute(f"SELECT term, doc, cnt FROM temp.{table}_terms"):
            yield (table, term, records, times)


# The query's column filters: (SQL condition, value), applied when the value is given.
_COLUMN_FILTERS = (
    ("kind", "r.kind=?"),
    ("source", "r.source=?"),
    ("since", "r.created_at>=?"),
    ("until", "r.created_at<=?"),
    ("visibility", "r.visibility=?"),
    ("tag", "EXISTS (SELECT 1 FROM tags t WHERE t.id=r.id AND t.tag=?)"),
)
# How a search word's (table, expression) from ``match_clauses`` narrows the records.
_TEXT_FILTERS = {
    "fts": "r.n IN (SELECT rowid FROM fts WHERE fts MATCH ?)",
    "tri": "r.n IN (SELECT rowid FROM tri WHERE tri MATCH ?)",
    "tri-like": "r.n IN (SELECT rowid FROM tri WHERE body LIKE ? ESCAPE '\\')",
}


def _filters(*, text: str | None, ids: Iterable[str] | None, **columns: str | None) -> tuple[list[str], list[Any]] | None:
    """The WHERE conditions and their arguments for ``Catalog.query``; None when ``text`` holds
    no word at all (nothing can match)."""
    where: list[str] = []
    args: list[Any] = []
    for name, cond in _COLUMN_FILTERS:
        if columns.get(name):
            where.append(cond); args.append(columns[name])
    if ids is not None:
        id_list = list(ids)
        where.append(f"r.id IN ({','.join('?' * len(id_list)) or 'NULL'})"); args.extend(id_list)
    if text is not None:
        clauses = match_clauses(text)
        if not clauses:
            return None
        for table, expr in clauses:
            where.append(_TEXT_FILTERS[table]); args.append(expr)
    return where, args
