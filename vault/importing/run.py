"""One import run: the state an import keeps while items flow in, and its commit at the end.

Items are turned into records by ``records`` (posts, ratings) and ``media`` (files, captures);
this module dedups them against the catalog, stages what changed and commits it all as one
journal segment after the objects it references.
"""

from __future__ import annotations

import posixpath
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..ids import keyed, record_id
from ..models import CaptureItem, Held, Item, MediaItem, PostItem, RatingItem, Skipped, Warning_, iso
from ..store.catalog import encode_record
from . import media, records
from .provenance import Provenances
from .replay import ExportReplay, MemberMemory
from .report import Event, ImportReport

if TYPE_CHECKING:
    from ..repository import Vault
    from .archive import Entry, ExportSource
    from .pipeline import Importer
    from .sealing import SealPool

# Posts and ratings looked up in the catalog together (memory: this many items at most).
READ_AHEAD = 256
# Members whose hints store_ahead looks up in one query.
AHEAD_BATCH = 500
# Jobs sent ahead that wait for their items, at most (each holds its message, then its reply: about
# 1.5 KB).  More are sent as items claim these: an export of 30,000 photos held 42 MB of them
# when every member was sent at once.
AHEAD_WINDOW = 4096
# Hints store_ahead found that it keeps for the media items to come (about 200 bytes each).
KNOWN_HINTS = 20_000
# Objects the workers wrote whose checksum lines wait in memory (about 250 bytes each), at most:
# then they are synced and their lines written (``checksums_now_and_then``).
CHECKSUM_BATCH = 4096


_USUAL_ID = re.compile(r"[a-z]_[0-9a-f]{24}")


def seen_key(rid: str) -> int | str:
    """A record id as ``Run`` remembers it: the same id as a number when it has the usual form (a
    letter, "_", 24 hex digits; 40 bytes instead of 75, for every record of an import), else
    as it is.  Distinct ids give distinct keys."""
    if _USUAL_ID.fullmatch(rid):
        return int(rid[2:], 16) << 8 | ord(rid[0])
    return rid


def object_key(oid: str) -> int:
    """The first 64 bits of an object id (36 bytes instead of 113): what ``Run.referenced``
    keeps.  A false match (odds of 2^-64 per pair) only keeps an unclaimed object for ``gc``."""
    return int(oid[:16], 16)


class Run:
    def __init__(self, vault: "Vault", src: "ExportSource | None", importer: "Importer", dry_run: bool,
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
        self.captures: dict[str, str] = {}
        self._seen_ids: set[int | str] = set()  # seen_key of every record handled
        self.post_ids: dict[str, str] = {}  # source_id -> record id, for the batch being handled
        self.provenances = Provenances(self)
        from ..store.objects import BackgroundWriter

        self.writer = BackgroundWriter(vault.objects)
        self.sealer: SealPool | None = None  # worker processes storing media (a big import)
        self._may_seal = False
        self.export_replay = ExportReplay(self)
        self.members = MemberMemory(self)
        if src is not None:
            src.memory = self.members
            src.ahead = self.store_ahead
        # Members sent ahead: path -> (their job, the hint key they were checked under, file name).
        self.ahead: dict[str, tuple[Any, str, str]] = {}
        # What store_ahead was given and has not looked at yet (from ``_ahead_at`` on), what it
        # found not stored and has not sent, the new bytes found so far, and the members whose
        # items came before store_ahead reached them (never sent ahead then).
        self._ahead_list: list[tuple["Entry", str]] = []
        self._ahead_at = 0
        self._ahead_found: list[tuple["Entry", dict, str]] = []
        self._ahead_bytes = 0
        self._handled: set[str] = set()
        self.referenced: set[int] = set()  # object_key of the objects this import's media records hold
        # Fingerprint hints store_ahead found stored (hint key -> object), so that the media
        # items they belong to are not looked up again one by one.
        self.known_hints: dict[str, str] = {}

    def use_workers(self, member_bytes: int) -> None:
        """Media may be stored by worker processes: the export holds ``member_bytes``."""
        from . import sealing

        self._may_seal = not self.dry_run and member_bytes >= sealing.MIN_BYTES

    def workers(self, starting: bool = False) -> SealPool | None:
        """The worker processes storing media, started once this import has stored enough
        itself to show it is a big one (an export whose files were mostly stored before, such
        as a newer export of the same account, never starts them), or ``starting`` them now."""
        from . import sealing

        if self.sealer is None and self._may_seal and (starting or self.report.bytes_stored >= sealing.START_AFTER):
            self._may_seal = False
            try:
                self.sealer = sealing.SealPool(self.vault.objects, self.wk, self.recipients, sealing.worker_count())
            except OSError:
                self.sealer = None  # no processes to be had: everything is stored here
        return self.sealer

    def store_ahead(self, media: list[tuple["Entry", str]]) -> None:
        """``ExportSource.store_ahead``: start storing the members an importer will yield as
        media, when there are enough not stored before to be worth the workers.  Their hints are
        looked up a few hundred at a time, the first members go to the workers as soon as
        enough new bytes are found, and no more than AHEAD_WINDOW wait for their items at once
        (``send_ahead`` sends more as items claim them)."""
        if self.dry_run or self.sealer is None and not self._may_seal:
            return
        # Called again (an importer announcing another folder): after what is left of the first.
        self._ahead_list = [*self._ahead_list[self._ahead_at:], *media] if self.sending_ahead() else media
        self._ahead_at = 0
        self.send_ahead()

    def send_ahead(self) -> None:
        """Send members store_ahead was given to the workers while fewer than AHEAD_WINDOW sent
        ahead wait for their items."""
        from . import sealing

        while self._ahead_at < len(self._ahead_list) and len(self.ahead) < AHEAD_WINDOW:
            batch = self._ahead_list[self._ahead_at:self._ahead_at + AHEAD_BATCH]
            self._ahead_at += len(batch)
            found = self._not_stored([(entry, ref) for entry, ref in batch if entry.path not in self._handled])
            self._ahead_found += found
            self._ahead_bytes += sum(entry.size or 0 for entry, _, _ in found)
            if self.sealer is None and self._ahead_bytes < sealing.START_AFTER:
                continue  # not worth the workers yet
            pool = self.workers(starting=True)
            if pool is None:
                break
            for entry, portable, hint_key in self._ahead_found:
                name = posixpath.basename(entry.path)
                self.ahead[entry.path] = (pool.send_ahead(portable, name), hint_key, name)
            self._ahead_found = []
        if self._ahead_at >= len(self._ahead_list) or self.sealer is None and not self._may_seal:
            self.stop_ahead()

    def sending_ahead(self) -> bool:
        """True while store_ahead has members it has not looked at yet."""
        return self._ahead_at < len(self._ahead_list)

    def media_handled(self, member: str | None) -> None:
        """A media item was handled: its member is not to be sent ahead any more, and its claim
        may have made room for more."""
        if self.sending_ahead():
            if member:
                self._handled.add(member)
            self.send_ahead()

    def stop_ahead(self) -> None:
        """Send nothing more ahead (the list is done, or the workers are gone)."""
        self._ahead_list, self._ahead_at, self._ahead_found = [], 0, []
        self._handled.clear()

    def _not_stored(self, media: list[tuple["Entry", str]]) -> list[tuple["Entry", dict, str]]:
        """(entry, portable, hint key) of the members whose fingerprint names no stored object."""
        keyed_entries = []
        for entry, ref in media:
            portable = entry.portable()
            if portable is None or entry.path in self.ahead:
                continue
            hint_key = self.fingerprint_key(ref, entry.fingerprint)
            keyed_entries.append((entry, portable, hint_key))
        known = self.cat.hints([hint_key for _, _, hint_key in keyed_entries])
        if len(self.known_hints) < KNOWN_HINTS:
            self.known_hints.update(known)
        return [(entry, portable, hint_key) for entry, portable, hint_key in keyed_entries if hint_key not in known]

    def fingerprint_key(self, ref: str, fingerprint: str) -> str:
        """The hint key under which a file's fingerprint names its stored object."""
        return "fp:" + keyed(self.wk, "fingerprint", self.importer.name, ref, fingerprint)

    def provenance(self, member: str | None, extra: dict | None = None) -> dict:
        return self.provenances.of(member, extra)

    # staging ----------------------------------------------------------------------------------

    def stage(self, op: dict) -> None:
        if self.dry_run:
            return
        self.cat.stage(op)

    def first_time(self, rid: str) -> bool:
        """False when record ``rid`` was handled already in this import (the same record twice
        in one export, repeated across part files: the first one wins)."""
        key = seen_key(rid)
        if key in self._seen_ids:
            return False
        self._seen_ids.add(key)
        return True

    def refers_to(self, oid: str) -> None:
        """A media record of this import holds object ``oid``."""
        self.referenced.add(object_key(oid))

    def refers(self, oid: str) -> bool:
        return object_key(oid) in self.referenced

    def upsert(self, kind: str, rec: dict) -> None:
        """Write ``rec`` unless an identical record (provenance aside) is already stored."""
        rid = rec["id"]
        if not self.first_time(rid):
            return
        # Encoded once: the digest, the journal line and the index row all use these bytes.
        enc = encode_record(rec)
        stored = self.cat.digest(rid)
        if stored == enc.digest:
            self.report.unchanged[kind] += 1
            return
        old = self.cat.get_raw(rid)
        if old is not None and records.same_data(old, rec):
            self.report.unchanged[kind] += 1
            return
        if old is not None:
            # Keep where the record was first seen; the new capture becomes last_seen and the
            # previous last_seen moves to earlier_seen, so no place it came from is forgotten.
            from ..ratings.merge import merge_provenance

            rec["provenance"], _ = merge_provenance(old.get("provenance") or {}, rec["provenance"])
            enc = encode_record(rec)
        if not self.dry_run:
            self.cat.stage_put(enc)
        (self.report.updated if old is not None else self.report.added)[kind] += 1

    def durable(self, oid: str) -> bool:
        """Stored and synced: objects get their checksum line only after the file system sync,
        so an object without one (left by an interrupted run) is written again, never trusted."""
        # The file first: for a new object (the usual case) the vault's checksum lines, all of
        # which ``has`` reads into memory, are not needed at all.
        return self.vault.objects.exists(oid) and self.vault.checksums.has(self.vault.objects.relpath(oid))

    # items ------------------------------------------------------------------------------------

    def handle_all(self, items: Iterator[Item]) -> None:
        """Handle every item in order.  Posts and ratings are taken a few hundred at a time so
        that the catalog looks their records up in one query; anything else (media, whose
        readers may need to stream in archive order) is handled as soon as it comes."""
        batch: list[PostItem | RatingItem] = []
        source = self.importer.name

        def drain() -> None:
            # The posts' ids are kept for the post handler (an HMAC each): computed once per record.
            self.post_ids = {i.source_id: record_id(self.wk, "post", source, i.source_id)
                             for i in batch if isinstance(i, PostItem)}
            self.cat.prefetch([*self.post_ids.values(),
                               *(record_id(self.wk, "rating", source, i.source_id) for i in batch if isinstance(i, RatingItem))])
            for queued in batch:
                self.handle(queued)
            batch.clear()
            media.settle(self, everything=False)  # the workers' replies so far, between posts

        with self.cat.batched_reads():  # its lookups share read transactions
            for item in items:
                if isinstance(item, (PostItem, RatingItem)):
                    batch.append(item)
                    if len(batch) >= READ_AHEAD:
                        drain()
                    continue
                if batch:
                    drain()
                self.handle(item)
                media.settle(self, everything=False)
            if batch:
                drain()
            media.settle(self)
            media.drop_unclaimed(self)

    def handle(self, item: Item) -> None:
        if isinstance(item, MediaItem):
            media.media(self, item)
        elif isinstance(item, PostItem):
            before = self.report.total
            records.post(self, item)
            self.members.counted(item.member, "post", self.report.total - before)
        elif isinstance(item, RatingItem):
            before = self.report.total
            records.rating(self, item)
            self.members.counted(item.member, "rating", self.report.total - before)
        elif isinstance(item, CaptureItem):
            media.capture(self, item)
        elif isinstance(item, Skipped):
            self.report.skipped.append({"path": item.path, "reason": item.reason})
            self.members.skipped(item.path, item.reason)
        elif isinstance(item, Warning_):
            shown = f"{item.path}: {item.message}" if item.path else item.message
            self.report.warnings.append(shown)
            self.members.warned(item.path, shown)
        elif isinstance(item, Held):
            self.report.held[item.what] = self.report.held.get(item.what, 0) + item.count
        self.emit(Event("item"))

    # the end ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the object writer's threads and the export's hashing (after finish(), or when the
        import failed)."""
        try:
            self.writer.close()
            if self.sealer is not None:
                self.sealer.close()
        finally:
            self.provenances.close()

    def flush_objects(self) -> None:
        """Wait for background object writes; their checksums join the next commit."""
        media.settle(self)
        for rel, sha in self.writer.drain():
            self.vault.checksums.add(rel, sha)
        self._sync_written()

    def checksums_now_and_then(self) -> None:
        """Once the workers have written CHECKSUM_BATCH objects for items: sync them and write
        their checksum lines now, so that memory does not grow with the export.  A line means
        "durable" (see ``durable``), which they are; if the import stops before its commit,
        they are objects no record names yet, which the next import adopts and ``gc`` removes."""
        if self.sealer is not None and len(self.sealer.written) >= CHECKSUM_BATCH and not self.dry_run:
            self._sync_written()
            self.vault.checksums.flush()

    def _sync_written(self) -> None:
        if self.sealer is not None and self.sealer.written:
            from ..store.files import storage_error

            try:
                self.vault.objects.sync(list(self.sealer.written))  # the workers' objects, all at once
            except OSError as exc:
                raise storage_error(exc, "objects") from exc
            for oid, sha in self.sealer.written.items():
                self.vault.checksums.add(self.vault.objects.relpath(oid), sha)
            self.sealer.written.clear()

    def finish(self) -> None:
        """Commit the import: the hints that let the next one skip what this one read go into
        the same segment as its records, so they exist only if the records do."""
        self.flush_objects()
        if self.dry_run:
            return
        self.export_replay.remember()
        self.members.stage_done()
        self.provenances.keep_finished()
        self.stage({"op": "import", "at": iso(self.captured_at), "source": self.importer.name,
                    "export": self.label, "summary": {
                        "added": self.report.added, "updated": self.report.updated,
                        "unchanged": self.report.unchanged, "skipped": len(self.report.skipped)}})
        self.vault.commit()
        self.vault.maybe_autocompact()
