"""Media and captures: bytes stored as objects, and the media record that describes them.

A media file whose fingerprint (zip CRC-32 and size, or a file's size and mtime) was stored
before is not read at all: a keyed hint names the object it gave.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from ..ids import media_id
from ..models import CaptureItem, MediaItem, iso, nfc
from .report import Event

if TYPE_CHECKING:
    from .mediainfo import MediaFacts
    from .run import Run

# What an importer may know about a file besides its bytes (from the JSON that names it).
_DESCRIBED = ("caption", "alt", "taken_at", "created_at")


def media(run: "Run", item: MediaItem) -> None:
    member = item.portable["member"] if item.portable else None
    _media(run, item, member)
    run.media_handled(member)


def _media(run: "Run", item: MediaItem, member: str | None) -> None:
    hint_key = None
    ahead = run.ahead.get(member) if run.ahead and member else None
    if item.fingerprint:
        hint_key = run.fingerprint_key(item.ref, item.fingerprint)
        # A member sent ahead was sent because this hint named nothing stored; one store_ahead
        # found stored is known already.
        if ahead is None or ahead[1] != hint_key:
            known = run.known_hints.pop(hint_key, None) or run.cat.hint(hint_key)
            if _known_bytes(run, item, known):
                return
    if ahead is not None and member and _claim(run, item, hint_key, member, ahead):
        return
    pool = run.workers() if item.portable is not None else None
    if pool is not None and item.portable is not None:
        if pool.full():
            settle(run, everything=False, one=True)
        pool.submit((item, hint_key), item.portable, item.filename)
        item.portable = None  # sent: not kept while the item waits for its reply
        return
    _store_here(run, item, hint_key)


def _claim(run: "Run", item: MediaItem, hint_key: str | None, member: str, ahead: tuple) -> bool:
    """Take the job that ``store_ahead`` sent for this item's member: its reply comes in the
    item's turn.  False when it was probed under another file name (then stored again)."""
    if run.sealer is None or ahead[2] != item.filename:
        return False
    del run.ahead[member]
    run.sealer.adopt(ahead[0], (item, hint_key))
    item.portable = None
    return True


def drop_unclaimed(run: "Run") -> None:
    """Members sent ahead that no item claimed (``ExportSource.store_ahead`` promised too much):
    the objects their jobs wrote for nothing are removed again, unless a record of this import
    holds the same bytes."""
    pool, ahead, run.ahead = run.sealer, run.ahead, {}
    if pool is None:
        return
    for job, _, _ in ahead.values():
        reply = pool.reply_of(job)
        if reply and reply.get("new") and not run.refers(reply["oid"]):
            pool.forget(reply["oid"])
            try:
                run.vault.objects.path(reply["oid"]).unlink()
            except FileNotFoundError:
                pass


def _store_here(run: "Run", item: MediaItem, hint_key: str | None) -> None:
    """Store the item's bytes in this process, then its record."""
    from .mediainfo import probe

    stored = _store_bytes(run, item)
    if stored is None:
        return
    oid, size, head = stored
    _stored(run, item, hint_key, oid, size, probe(head, item.filename))


def settle(run: "Run", everything: bool = True, one: bool = False) -> None:
    """Take the replies of the worker processes, in the order the items came: all of them
    (``everything``), at least the oldest (``one``), else those already there."""
    from .sealing import WorkerGone

    pool = run.sealer
    while pool is not None and len(pool) and (everything or one or pool.ready()):
        one = False
        if not pool.ready():
            run.cat.end_reads()  # about to wait: SQLite's shared lock is not held meanwhile
        try:
            (item, hint_key), reply = pool.next_done()
        except WorkerGone:
            if pool.answers:
                raise  # they ran, then one died (killed, out of memory): the import stops
            _without_workers(run, pool.take_back())
            return
        _sealed(run, item, hint_key, reply)
        run.checksums_now_and_then()


def _without_workers(run: "Run", waiting: list) -> None:
    """The workers could not start here (no ``python -m`` in a frozen build, a broken
    interpreter): the items sent to them, and every later one, are stored in this process."""
    pool, run.sealer, run.ahead = run.sealer, None, {}
    run.stop_ahead()
    if pool is not None:
        pool.close()
    for item, hint_key in waiting:
        _store_here(run, item, hint_key)


def _sealed(run: "Run", item: MediaItem, hint_key: str | None, reply: dict) -> None:
    """A worker's reply for ``item``: its record, or the skipped item when its member could not
    be read."""
    if reply.get("error"):
        run.report.skipped.append({"path": item.member or item.ref, "reason": reply["message"]})
        if run.src is not None and reply.get("member"):
            run.src.note_read_failure(reply["member"], reply["message"])
        return
    oid, size = reply["oid"], reply["size"]
    run.emit(Event("bytes", size))
    if reply["new"]:
        run.report.bytes_stored += size
    elif not _stored_by_this_run(run, oid) and not run.durable(oid):
        # A file of that name without a checksum line: left by an interrupted run, so not to be
        # trusted.  Written again here.
        _store_here(run, item, hint_key)
        return
    from .mediainfo import facts_from_json

    _stored(run, item, hint_key, oid, size, facts_from_json(reply["facts"]))


def _stored_by_this_run(run: "Run", oid: str) -> bool:
    pool = run.sealer
    if pool is None:
        return False
    # Written by this import: its line still waits in ``written``, or it was synced and listed
    # already (``checksums_now_and_then``), and then a record of this import holds it.
    if oid in pool.written or run.refers(oid):
        return True
    pool.wait_all()  # a job sent later may have written it first
    return oid in pool.written


def _stored(run: "Run", item: MediaItem, hint_key: str | None, oid: str, size: int, facts: "MediaFacts") -> None:
    """The media record of stored object ``oid`` and the hints that find it next time."""
    run.refers_to(oid)
    _describe(run, item, oid, size, facts)
    mid = media_id(oid)
    if run.cat.ref(run.importer.name, item.ref) != mid:
        run.stage({"op": "ref", "source": run.importer.name, "ref": item.ref, "media": mid})
    if hint_key:
        run.stage({"op": "hint", "k": hint_key, "v": oid})


def _known_bytes(run: "Run", item: MediaItem, known: str | None) -> bool:
    """True when the file's bytes are stored already (its fingerprint named them): nothing to
    read.  Metadata the export adds (a caption from a JSON part imported later) still lands on
    the stored record."""
    source = run.importer.name
    stored = run.cat.get_raw(media_id(known)) if known else None
    if known is None or stored is None or not run.vault.objects.exists(known):
        return False
    if run.cat.ref(source, item.ref) != media_id(known):
        run.stage({"op": "ref", "source": source, "ref": item.ref, "media": media_id(known)})
    run.emit(Event("bytes", item.size or 0))
    additions = {key: value for key, value in (
        ("caption", nfc(item.caption)), ("alt", nfc(item.alt)),
        ("taken_at", iso(item.taken_at)), ("created_at", iso(item.created_at))) if value and not stored.get(key)}
    if additions and stored.get("source") == source:
        richer = dict(stored, id=media_id(known), **additions)
        richer["provenance"] = run.provenance(item.member)
        run.upsert("media", richer)
    else:
        run.report.unchanged["media"] += 1
    return True


def _store_bytes(run: "Run", item: MediaItem) -> tuple[str, int, bytes] | None:
    """(object id, size, head of the plaintext) of the file, stored (hashed only on a dry run);
    None after reporting a file that cannot be read."""
    from .archive import ArchiveMemberError

    try:
        with item.open() as stream:
            if run.dry_run:
                return _hash_only(run, stream)
            res = run.vault.objects.put_stream(stream, run.wk, run.recipients, lambda n: run.emit(Event("bytes", n)),
                                               background=run.writer, known=run.durable)
    except ArchiveMemberError as exc:
        run.report.skipped.append({"path": item.member or item.ref, "reason": exc.message})
        return None
    if res.new:
        run.report.bytes_stored += res.size
        if res.cipher_sha256:  # else written in the background: drained at finish
            run.vault.checksums.add(run.vault.objects.relpath(res.object_id), res.cipher_sha256)
    return res.object_id, res.size, res.head


def _hash_only(run: "Run", stream) -> tuple[str, int, bytes]:
    mac = hmac.new(run.wk, digestmod=hashlib.sha256)
    head = b""
    size = 0
    while chunk := stream.read(1 << 20):
        mac.update(chunk)
        if len(head) < (1 << 20):
            head += chunk[: (1 << 20) - len(head)]
        size += len(chunk)
        run.emit(Event("bytes", len(chunk)))
    return mac.hexdigest(), size, head


def _describe(run: "Run", item: MediaItem, oid: str, size: int, facts: "MediaFacts") -> None:
    """Write the media record of object ``oid``, unless another source's record holds it."""
    if facts.problem:
        run.report.warnings.append(f"{item.member or item.ref}: {facts.problem}")
    mid = media_id(oid)
    existing = run.cat.get_raw(mid)
    if existing is not None and existing.get("source") != run.importer.name:
        # The same bytes were imported from another source first; keep that record and
        # just let this source's posts find it.
        run.report.unchanged["media"] += 1
        return
    rec: dict[str, Any] = {
        "id": mid,
        "kind": "media",
        "source": run.importer.name,
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
        "provenance": run.provenance(item.member),
    }
    if item.extra:
        rec["extra"] = item.extra
    if facts.exif_datetime is not None:
        # Not the capture time (see mediainfo.MediaFacts): stored under its EXIF name.
        rec["extra"] = dict(rec.get("extra") or {}, exif_datetime=iso(facts.exif_datetime))
    if run.members.replayed and not any((item.caption, item.alt, item.taken_at, item.created_at)):
        _keep_description(run, item, rec, existing)
    run.upsert("media", rec)


def _keep_description(run: "Run", item: MediaItem, rec: dict[str, Any], existing: dict | None) -> None:
    """This import did not read every file that describes media (unchanged ones were skipped),
    so a file it knows only by its bytes keeps what the stored record said about it (the same
    bytes, or the earlier bytes under the same name) rather than losing it."""
    before = existing
    if before is None:
        known = run.cat.ref(run.importer.name, item.ref)
        before = run.cat.get_raw(known) if known else None
    if before is None:
        return
    for key in _DESCRIBED:
        if before.get(key):
            rec[key] = before[key]


def capture(run: "Run", item: CaptureItem) -> None:
    """A raw capture (a saved page): an object of its own that ratings cite as provenance."""
    if run.dry_run:
        run.captures[item.ref] = ""
        return
    res = run.vault.objects.put_bytes(item.data, run.wk, run.recipients)
    if res.new and res.cipher_sha256:
        run.vault.checksums.add(run.vault.objects.relpath(res.object_id), res.cipher_sha256)
    run.captures[item.ref] = res.object_id
    run.stage({"op": "hint", "k": "capture:" + res.object_id, "v": res.object_id})
