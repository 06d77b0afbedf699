"""The import pipeline: importers yield items; this module dedups, encrypts and commits them.

Contract for importers (``Importer``):

* ``recognize(src)`` is cheap and decides by content, returning 0 (not mine) to 100 (certain).
  It may raise ``UnsupportedInputError`` when it recognises a variant it cannot read (e.g. a
  Facebook export in HTML format), so the user learns what to do instead.
* ``read(src)`` yields ``PostItem``/``MediaItem``/``RatingItem``/``CaptureItem`` and per-item
  problems as ``Skipped``/``Warning_`` values; one bad item never aborts the import.  Importers
  never write storage, print or prompt.

The pipeline makes imports idempotent: record ids are keyed HMACs of (kind, source, source id),
media are named by content, an unchanged record writes nothing, and keyed fingerprints let a
re-import skip reading unchanged files altogether.  An import's catalog operations are committed as
one journal segment, after the objects they reference: an interrupted import leaves at worst
unreferenced objects (never a half-visible import), and running it again completes it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Sequence

from ..errors import UnsupportedInputError, UsageError
from ..ids import keyed, media_id, record_id
from ..models import CaptureItem, Held, Item, MediaItem, PostItem, Provenance, RatingItem, Skipped, Warning_, counted, iso, nfc
from ..store.catalog import encode_record
from ..store.files import sha256_file

if TYPE_CHECKING:
    from ..repository import Vault
    from .archive import ExportSource



# Ratings remembered per loose key (vault.ratings.merge.loose_key) for matching copies without item id.
LOOSE_CANDIDATES = 64


class Importer(Protocol):
    name: str
    version: str
    description: str

    def recognize(self, src: "ExportSource") -> int: ...

    def read(self, src: "ExportSource") -> Iterator[Item]: ...


@dataclass
class ImportReport:
    source: str
    export: str
    dry_run: bool = False
    added: dict[str, int] = field(default_factory=lambda: {"post": 0, "media": 0, "rating": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"post": 0, "media": 0, "rating": 0})
    unchanged: dict[str, int] = field(default_factory=lambda: {"post": 0, "media": 0, "rating": 0})
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What the export held that is not imported ({"follow records": 12}), and notes for people.
    held: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    bytes_stored: int = 0

    @property
    def total(self) -> int:
        return sum(self.added.values()) + sum(self.updated.values()) + sum(self.unchanged.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "export": self.export,
            "dry_run": self.dry_run,
            "added": dict(self.added),
            "updated": dict(self.updated),
            "unchanged": dict(self.unchanged),
            "skipped": list(self.skipped),
            "warnings": list(self.warnings),
            "held": dict(self.held),
            "notes": list(self.notes),
        }


@dataclass
class Event:
    """Progress for the command line: ``kind`` is "start", "file", "bytes" or "item"."""

    kind: str
    amount: int = 0
    total: int | None = None
    label: str | None = None


# Posts and ratings looked up in the catalog together (memory: this many items at most).
READ_AHEAD = 256

# Part of the unchanged-export key: raise it when the pipeline starts to read exports differently.
EXPORT_SKIP_VERSION = "1"


# --- choosing an importer ---------------------------------------------------------------------


def choose_importer(src: "ExportSource", name: str | None) -> Importer:
    from .. import plugins

    if name:
        imp = plugins.importers.get(name)
        if imp is None:
            known = ", ".join(sorted(plugins.importers.specs()))
            raise UsageError(f"unknown source {name!r}", hint=f"known sources: {known}")
        return imp
    best, best_score = None, 0
    for imp in plugins.importers.load_all().values():
        score = imp.recognize(src)
        if score > best_score:
            best, best_score = imp, score
    if best is None:
        refused = ""
        if src.problems:
            # What was refused may be exactly what would have been recognised (a zip of bombs).
            first = src.problems[0]
            more = f" and {len(src.problems) - 1} more" if len(src.problems) > 1 else ""
            refused = f" (refused: {first.path}: {first.reason}{more})"
        raise UnsupportedInputError(
            f"{src.display_name}: not a recognised export{refused}",
            hint="run `vault sources` to see what can be imported, or name the source with --source",
        )
    return best


# --- the pipeline -----------------------------------------------------------------------------


class _Run:
    def __init__(self, vault: "Vault", src: "ExportSource | None", importer: Importer, dry_run: bool,
                 on_event: Callable[[Event], None] | None, label: str | None = None) -> None:
        self.vault = vault
        self.src = src
        self.label = label or (src.display_name if src is not None else importer.name)
        self.importer = importer
        self.dry_run = dry_run
        self.emit = on_event or (lambda e: None)
        self.keys = vault.keys or vault.unlock()
        self.wk = self.keys.writer_key
        self.cat = vault.catalog()
        self.recipients = vault.recipients
        self.report = ImportReport(source=importer.name, export=self.label, dry_run=dry_run)
        self.captured_at = datetime.now(timezone.utc)
        self._captured_iso = iso(self.captured_at)
        self._captures: dict[str, str] = {}
        self._export_sha: dict[str, str | None] = {}
        self._seen_ids: set[str] = set()
        self._post_ids: dict[str, str] = {}  # source_id -> record id, for the batch being handled
        self._prov_by_member: dict[str | None, dict] = {}
        from ..store.objects import BackgroundWriter

        self.writer = BackgroundWriter(vault.objects)

    # provenance -------------------------------------------------------------------------------

    def _part_sha(self, part) -> str | None:
        key = str(part.path)
        if key in self._export_sha:
            return self._export_sha[key]
        sha = None
        if part.kind in ("zip", "tar", "file"):
            st = part.path.stat()
            hint_key = "export-sha:" + keyed(self.wk, "export", str(part.path.resolve()), str(st.st_size), str(st.st_mtime_ns))
            sha = self.cat.hint(hint_key)
            if sha is None:
                sha = sha256_file(part.path)
                self._stage({"op": "hint", "k": hint_key, "v": sha})
        self._export_sha[key] = sha
        return sha

    def provenance(self, member: str | None, extra: dict | None = None) -> dict:
        cached = self._prov_by_member.get(member)
        if cached is None:
            cached = self._prov_by_member[member] = self._provenance(member)
        prov = dict(cached)
        if extra:
            prov.update({k: v for k, v in extra.items() if v is not None})
        return prov

    def _provenance(self, member: str | None) -> dict:
        entry = self.src.get(member) if (member and self.src is not None) else None
        part = entry.part if entry is not None else (self.src.parts[0] if self.src is not None and self.src.parts else None)
        prov = Provenance(
            importer=self.importer.name,
            importer_version=self.importer.version,
            export=part.name if part else self.label,
            export_sha256=self._part_sha(part) if part else None,
            member=member,
        ).to_json()
        prov["captured_at"] = self._captured_iso
        return prov

    # staging ----------------------------------------------------------------------------------

    def _stage(self, op: dict) -> None:
        if self.dry_run:
            return
        self.cat.stage(op)

    def _upsert(self, kind: str, rec: dict) -> None:
        """Write ``rec`` unless an identical record (provenance aside) is already stored."""
        rid = rec["id"]
        if rid in self._seen_ids:
            # The same record twice in one export (repeated across part files): first one wins.
            return
        self._seen_ids.add(rid)
        # Encoded once: the digest, the journal line and the index row all use these bytes.
        enc = encode_record(rec)
        stored = self.cat.digest(rid)
        if stored == enc.digest:
            self.report.unchanged[kind] += 1
            return
        old = self.cat.get_raw(rid)
        if old is not None and _same(old, rec):
            self.report.unchanged[kind] += 1
            return
        if old is not None:
            # Keep where the record was first seen; the new capture is noted beside it.
            rec["provenance"] = dict(old.get("provenance") or {}, last_seen=rec["provenance"])
            enc = encode_record(rec)
        if not self.dry_run:
            self.cat.stage_put(enc)
        (self.report.updated if old is not None else self.report.added)[kind] += 1

    # items ------------------------------------------------------------------------------------

    def handle_all(self, items: Iterator[Item]) -> None:
        """Handle every item in order.  Posts and ratings are taken a few hundred at a time so
        that the catalog looks their records up in one query; anything else (media, whose
        readers may need to stream in archive order) is handled as soon as it comes."""
        batch: list[PostItem | RatingItem] = []
        source = self.importer.name

        def drain() -> None:
            # The posts' ids are kept for post() (an HMAC each): computed once per record.
            self._post_ids = {i.source_id: record_id(self.wk, "post", source, i.source_id)
                              for i in batch if isinstance(i, PostItem)}
            self.cat.prefetch([*self._post_ids.values(),
                               *(record_id(self.wk, "rating", source, i.source_id) for i in batch if isinstance(i, RatingItem))])
            for queued in batch:
                self.handle(queued)
            batch.clear()

        for item in items:
            if isinstance(item, (PostItem, RatingItem)):
                batch.append(item)
                if len(batch) >= READ_AHEAD:
                    drain()
                continue
            if batch:
                drain()
            self.handle(item)
        if batch:
            drain()

    def handle(self, item: Item) -> None:
        if isinstance(item, MediaItem):
            self.media(item)
        elif isinstance(item, PostItem):
            self.post(item)
        elif isinstance(item, RatingItem):
            self.rating(item)
        elif isinstance(item, CaptureItem):
            self.capture(item)
        elif isinstance(item, Skipped):
            self.report.skipped.append({"path": item.path, "reason": item.reason})
        elif isinstance(item, Warning_):
            self.report.warnings.append(f"{item.path}: {item.message}" if item.path else item.message)
        elif isinstance(item, Held):
            self.report.held[item.what] = self.report.held.get(item.what, 0) + item.count
        self.emit(Event("item"))

    def media(self, item: MediaItem) -> None:
        from .archive import ArchiveMemberError
        from .mediainfo import probe

        source = self.importer.name
        hint_key = None
        if item.fingerprint:
            hint_key = "fp:" + keyed(self.wk, "fingerprint", source, item.ref, item.fingerprint)
            known = self.cat.hint(hint_key)
            stored = self.cat.get_raw(media_id(known)) if known else None
            if stored is not None and self.vault.objects.exists(known):
                if self.cat.ref(source, item.ref) != media_id(known):
                    self._stage({"op": "ref", "source": source, "ref": item.ref, "media": media_id(known)})
                self.emit(Event("bytes", item.size or 0))
                # Same bytes: nothing to read.  Metadata the export adds (a caption from a JSON
                # part imported later) still lands on the stored record.
                additions = {key: value for key, value in (
                    ("caption", nfc(item.caption)), ("alt", nfc(item.alt)),
                    ("taken_at", iso(item.taken_at)), ("created_at", iso(item.created_at))) if value and not stored.get(key)}
                if additions and stored.get("source") == source:
                    richer = dict(stored, id=media_id(known), **additions)
                    richer["provenance"] = self.provenance(item.member)
                    self._upsert("media", richer)
                else:
                    self.report.unchanged["media"] += 1
                return
        try:
            with item.open() as stream:
                if self.dry_run:
                    oid, size, head, _ = self._hash_only(stream)
                else:
                    res = self.vault.objects.put_stream(stream, self.wk, self.recipients, lambda n: self.emit(Event("bytes", n)),
                                                        background=self.writer, known=self._durable)
                    oid, size, head = res.object_id, res.size, res.head
                    if res.new:
                        self.report.bytes_stored += size
                        if res.cipher_sha256:  # else written in the background: drained at finish
                            self.vault.checksums.add(self.vault.objects.relpath(oid), res.cipher_sha256)
        except ArchiveMemberError as exc:
            self.report.skipped.append({"path": item.member or item.ref, "reason": exc.message})
            return
        facts = probe(head, item.filename)
        if facts.problem:
            self.report.warnings.append(f"{item.member or item.ref}: {facts.problem}")
        mid = media_id(oid)
        existing = self.cat.get_raw(mid)
        if existing is not None and existing.get("source") != source:
            # The same bytes were imported from another source first; keep that record and
            # just let this source's posts find it.
            self.report.unchanged["media"] += 1
        else:
            rec: dict[str, Any] = {
                "id": mid,
                "kind": "media",
                "source": source,
                "source_id": oid[:24],
                "created_at": iso(item.created_at or item.taken_at or facts.taken_at),
                "object": oid,
                "mime": item.mime or facts.mime,
                "size": size,
                "filename": nfc(item.filename),
                "width": item.width or facts.width,
                "height": item.height or facts.height,
                "taken_at": iso(item.taken_at or facts.taken_at),
                "caption": nfc(item.caption),
                "alt": nfc(item.alt),
                "provenance": self.provenance(item.member),
            }
            if item.extra:
                rec["extra"] = item.extra
            if facts.exif_datetime is not None:
                # Not the capture time (see mediainfo.MediaFacts): stored under its EXIF name.
                rec["extra"] = dict(rec.get("extra") or {}, exif_datetime=iso(facts.exif_datetime))
            self._upsert("media", rec)
        if self.cat.ref(source, item.ref) != mid:
            self._stage({"op": "ref", "source": source, "ref": item.ref, "media": mid})
        if hint_key:
            self._stage({"op": "hint", "k": hint_key, "v": oid})

    def _hash_only(self, stream) -> tuple[str, int, bytes, bool]:
        mac = hmac.new(self.wk, digestmod=hashlib.sha256)
        head = b""
        size = 0
        while chunk := stream.read(1 << 20):
            mac.update(chunk)
            if len(head) < (1 << 20):
                head += chunk[: (1 << 20) - len(head)]
            size += len(chunk)
            self.emit(Event("bytes", len(chunk)))
        oid = mac.hexdigest()
        return oid, size, head, not self.vault.objects.exists(oid)

    def post(self, item: PostItem) -> None:
        source = self.importer.name
        text = nfc(item.text)
        if not (text and text.strip()) and not item.media_refs and not item.links and not item.url and not item.repost_of:
            return  # docs/architecture.md, records: neither text nor media nor link is not a post
        rec: dict[str, Any] = {
            "id": self._post_ids.get(item.source_id) or record_id(self.wk, "post", source, item.source_id),
            "kind": "post",
            "source": source,
            "source_id": item.source_id,
            "created_at": iso(item.created_at),
            "title": nfc(item.title),
            "text": text,
            "url": item.url,
            "links": list(item.links),
            "place": item.place.to_json() if item.place else None,
            "reply_to": item.reply_to,
            "repost_of": item.repost_of,
            "source_visibility": item.source_visibility,
            "media_refs": list(item.media_refs),
            "tagged": [nfc(t) for t in item.tagged],
            "content_warning": nfc(item.content_warning),
            "provenance": self.provenance(item.member),
        }
        if item.extra:
            rec["extra"] = item.extra
        if item.raw is not None:
            rec["raw"] = item.raw
        self._upsert("post", rec)

    def rating(self, item: RatingItem) -> None:
        source = self.importer.name
        extra_prov = dict(item.provenance)
        capture_ref = extra_prov.pop("capture_ref", None)
        if capture_ref and capture_ref in self._captures:
            extra_prov["capture_object"] = self._captures[capture_ref]
        rid = record_id(self.wk, "rating", source, item.source_id)
        match_hint = None
        if item.match_key:
            match_hint = "match:" + keyed(self.wk, "rating-match", source, item.match_key)
            matched = self.cat.hint(match_hint)
            if matched and matched != rid and self.cat.get_raw(rid) is None:
                old = self.cat.get_raw(matched)
                both_ids = old is not None and old.get("feedback_id") and item.feedback_id
                if old is not None and not (both_ids and old["feedback_id"] != item.feedback_id):
                    # Same feedback seen without its id (a card) or with it (the CSV row of a card
                    # imported earlier): one record.  Two different feedback ids never merge.
                    rid = matched
        rec: dict[str, Any] = {
            "id": rid,
            "kind": "rating",
            "source": source,
            "source_id": item.source_id,
            "created_at": iso(item.created_at),
            "direction": item.direction,
            "role": item.role,
            "polarity": item.polarity,
            "stars": item.stars,
            "comment": nfc(item.comment),
            "counterparty": nfc(item.counterparty),
            "item_title": nfc(item.item_title),
            "item_id": item.item_id,
            "price": item.price,
            "feedback_id": item.feedback_id,
            "reply": nfc(item.reply),
            "provenance": self.provenance(item.member, extra_prov),
        }
        if item.extra:
            rec["extra"] = dict(item.extra)
        if item.raw is not None:
            rec["raw"] = item.raw
        from ..ratings.merge import loose_key, merge_provenance, merge_rating, same_feedback

        loose_hint = None
        loose = loose_key(rec)
        if loose:
            loose_hint = "loose:" + keyed(self.wk, "rating-loose", source, loose)
        stored = self.cat.get_raw(rid)
        if stored is None and loose_hint:
            # No id in common (a private-listing card has no item id): same words, rating,
            # rater and a date that fits make it the same feedback.
            for cand in (self.cat.hint(loose_hint) or "").split():
                other = self.cat.get_raw(cand)
                if other is not None and same_feedback(other, rec):
                    rid, stored = cand, other
                    rec["id"] = rid
                    break
        if stored is None:
            self._upsert("rating", rec)
        else:
            merge_rating(stored, rec)
            rec["provenance"], new_source = merge_provenance(stored.get("provenance") or {}, rec["provenance"])
            self._put_merged_rating(rec, stored, new_source)
        if match_hint and self.cat.hint(match_hint) != rid:
            self._stage({"op": "hint", "k": match_hint, "v": rid})
        if loose_hint:
            known = (self.cat.hint(loose_hint) or "").split()
            if rid not in known:
                self._stage({"op": "hint", "k": loose_hint, "v": " ".join((known + [rid])[-LOOSE_CANDIDATES:])})

    def _put_merged_rating(self, rec: dict, stored: dict, new_source: bool) -> None:
        """Write a rating merged with its stored copy (``vault.ratings.merge`` made its provenance).

        A copy from a source not yet named in the provenance is written even when the rating's
        data is unchanged, so the provenance names it; the report still counts it unchanged."""
        from ..store.catalog import content_digest

        rid = rec["id"]
        if rid in self._seen_ids:
            return  # the same feedback twice in one import: the first copy wins
        self._seen_ids.add(rid)
        same = _same(stored, rec)
        if same and not new_source:
            self.report.unchanged["rating"] += 1
            return
        self._stage({"op": "put", "r": rec, "d": content_digest(rec)})
        (self.report.unchanged if same else self.report.updated)["rating"] += 1

    def _durable(self, oid: str) -> bool:
        """Stored and synced: objects get their checksum line only after the file system sync,
        so an object without one (left by an interrupted run) is written again, never trusted."""
        return self.vault.checksums.has(self.vault.objects.relpath(oid)) and self.vault.objects.exists(oid)

    def flush_objects(self) -> None:
        """Wait for background object writes; their checksums join the next commit."""
        for rel, sha in self.writer.drain():
            self.vault.checksums.add(rel, sha)

    def capture(self, item: CaptureItem) -> None:
        if self.dry_run:
            self._captures[item.ref] = ""
            return
        res = self.vault.objects.put_bytes(item.data, self.wk, self.recipients)
        if res.new and res.cipher_sha256:
            self.vault.checksums.add(self.vault.objects.relpath(res.object_id), res.cipher_sha256)
        self._captures[item.ref] = res.object_id
        self._stage({"op": "hint", "k": "capture:" + res.object_id, "v": res.object_id})

    # unchanged exports ------------------------------------------------------------------------

    def _listing_key(self) -> str | None:
        """Keyed fingerprint of everything the importer could read: its name and version and
        every member's path, size and fingerprint (a zip member's CRC-32, a file's size and
        mtime).  Any member added, removed or changed gives another key."""
        if self.src is None:
            return None
        h = hashlib.sha256()
        for entry in sorted(self.src.entries, key=lambda e: (e.rel, e.path, e.part.name)):
            h.update(f"{entry.rel}\0{entry.size}\0{entry.fingerprint}\n".encode())
        for problem in self.src.problems:
            h.update(f"!{problem.path}\0{problem.reason}\n".encode())
        return "export-done:" + keyed(self.wk, "export-listing", EXPORT_SKIP_VERSION, self.importer.name,
                                      self.importer.version, h.hexdigest())

    def replay_unchanged(self) -> bool:
        """True when this very export (see ``_listing_key``) was imported completely before and
        every object its source's records point at is still stored: the report is then the
        earlier one's (everything unchanged) and no member is read or parsed."""
        key = self._listing_key()
        self._done_key = key
        known = self.cat.hint(key) if key else None
        if not known:
            return False
        try:
            earlier = json.loads(known)
            totals = {k: int(earlier["totals"].get(k, 0)) for k in ("post", "media", "rating")}
            skipped = [{"path": str(x["path"]), "reason": str(x["reason"])} for x in earlier.get("skipped", [])]
            warnings = [str(w) for w in earlier.get("warnings", [])]
            held = {str(k): int(n) for k, n in earlier.get("held", {}).items()}
            notes = [str(n) for n in earlier.get("notes", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return False
        if not all(self.vault.objects.exists(oid) for oid in self.cat.source_objects(self.importer.name)):
            return False  # something was lost: read the export again to put it back
        self.report.unchanged = totals
        self.report.skipped = skipped
        self.report.warnings = warnings
        self.report.held = held
        self.report.notes = notes
        self._replayed = True
        return True

    def _remember_done(self) -> None:
        key = getattr(self, "_done_key", None)
        if not key or getattr(self, "_replayed", False):
            return
        r = self.report
        if self.src is not None and len(r.skipped) > len(self.src.problems):
            return  # an item could not be read: it may read next time (a file made readable)
        totals = {k: r.added[k] + r.updated[k] + r.unchanged[k] for k in r.added}
        self._stage({"op": "hint", "k": key, "v": json.dumps(
            {"totals": totals, "skipped": r.skipped, "warnings": r.warnings, "held": r.held, "notes": r.notes},
            ensure_ascii=False, sort_keys=True)})

    def finish(self) -> None:
        self.flush_objects()
        if self.dry_run:
            return
        self._remember_done()
        self._stage({"op": "import", "at": iso(self.captured_at), "source": self.importer.name,
                     "export": self.label, "summary": {
                         "added": self.report.added, "updated": self.report.updated,
                         "unchanged": self.report.unchanged, "skipped": len(self.report.skipped)}})
        self.vault.commit()
        self.vault.maybe_autocompact()


def _same(old: dict, new: dict) -> bool:
    """Equal source data: provenance (when and from which file) and the id itself aside."""
    a = {k: v for k, v in old.items() if k not in ("provenance", "id")}
    b = {k: v for k, v in new.items() if k not in ("provenance", "id")}
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def run_import(
    vault: "Vault",
    paths: Sequence[str | Path],
    *,
    source: str | None = None,
    dry_run: bool = False,
    on_event: Callable[[Event], None] | None = None,
) -> ImportReport:
    """Import the export at ``paths`` (several paths = parts of one export) into ``vault``.

    The caller holds the vault's exclusive lock.  Returns the report; raises VaultError for a
    failure of the whole import (unrecognised input, key unavailable, disk full).
    """
    from .archive import ExportSource

    with ExportSource(paths) as src:
        importer = choose_importer(src, source)
        run = _Run(vault, src, importer, dry_run, on_event)
        try:
            if run.replay_unchanged():
                run.finish()
                return run.report
            for problem in src.problems:
                run.report.skipped.append({"path": problem.path, "reason": problem.reason})
            total = sum(e.size or 0 for e in src.entries)
            run.emit(Event("start", total=total, label=importer.name))
            # On failure nothing of the import becomes visible; objects already stored are
            # reused by the next run (or removed by `vault gc`).
            run.handle_all(importer.read(src))
            if run.report.total == 0 and not run.report.skipped:
                _nothing_imported(src, importer, source, run.report)
            run.finish()
        finally:
            run.writer.close()
        return run.report


def _nothing_imported(src: "ExportSource", importer: Importer, named: str | None, report: ImportReport) -> None:
    """An export that gave no record at all: fine when it is this source's export with nothing
    to import (a note says what it held), an error when it is not this source's export at all
    (``--source`` named a source that does not recognise it)."""
    if named and not importer.recognize(src):
        reads = getattr(importer, "reads", "")
        raise UnsupportedInputError(
            f"{src.display_name}: nothing in it is what the {importer.name} importer reads",
            hint=(f"the {importer.name} importer reads: {reads}; " if reads else "")
            + "run `vault sources` to see what can be imported, or leave out --source to detect the source",
        )
    held = ", ".join(counted(what, count) for what, count in report.held.items())
    report.notes.append("nothing to import: 0 posts, 0 media, 0 ratings" + (f"; it held {held}" if held else ""))


def run_items(
    vault: "Vault",
    importer: Importer,
    items: Iterator[Item],
    *,
    label: str,
    dry_run: bool = False,
    on_event: Callable[[Event], None] | None = None,
) -> ImportReport:
    """Commit items that do not come from an export file (live captures such as `vault scrape`).

    Same guarantees as ``run_import``: one atomic catalog segment, idempotent upserts.
    """
    run = _Run(vault, None, importer, dry_run, on_event, label=label)
    try:
        run.handle_all(items)
        run.finish()
    finally:
        run.writer.close()
    return run.report
