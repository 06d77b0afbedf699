"""Records and the items importers yield (docs/architecture.md, records).

Importers build these and yield them; they never compute ids (ids are keyed with the writer key,
which importers never see).  The pipeline turns items into stored records.

Datetimes are always timezone-aware UTC.  ``to_json`` gives the public JSON form.
"""

from __future__ import annotations

import posixpath
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any, Callable, Literal, Protocol

Kind = Literal["post", "media", "rating"]
KINDS: tuple[str, ...] = ("post", "media", "rating")
VISIBILITIES: tuple[str, ...] = ("private", "public", "premium")
SOURCES: tuple[str, ...] = (
    "facebook", "instagram", "x", "mastodon", "linkedin", "bluesky",
    "ebay", "etsy", "amazon", "manual", "files",
)


def utc(dt: datetime) -> datetime:
    """Return ``dt`` as aware UTC; a naive datetime is taken to be UTC already."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def from_epoch(seconds: float | int | str | None) -> datetime | None:
    """Epoch seconds (int, float or digit string) to aware UTC; None or garbage gives None."""
    if seconds is None or isinstance(seconds, bool):
        return None
    try:
        value = float(seconds)
        # Years before 1970 or after 9999 are bogus in every export we read.
        if not 0 <= value < 253402300800:
            return None
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 UTC with seconds and a ``Z`` suffix, the only form the JSON output uses."""
    if dt is None:
        return None
    u = utc(dt)
    if u.year < 1000:  # strftime writes such years unpadded; kept as they always were
        return u.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{u.year}-{u.month:02}-{u.day:02}T{u.hour:02}:{u.minute:02}:{u.second:02}Z"


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def nfc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFC", text)


@dataclass
class Provenance:
    """Where a record came from.  Lives only inside the encrypted catalog."""

    importer: str
    importer_version: str
    export: str | None = None          # export file (or folder) name as the user gave it
    export_sha256: str | None = None   # sha256 of the export file, when it is a file
    member: str | None = None          # path inside the export
    captured_at: datetime | None = None
    url: str | None = None             # for live captures
    capture_sha256: str | None = None  # sha256 of the raw captured page
    capture_object: str | None = None  # object id of the stored raw capture
    approximate_time: str | None = None  # e.g. "Past 6 months" when the source gives only a bucket

    def to_json(self) -> dict[str, Any]:
        out = {
            "importer": self.importer,
            "importer_version": self.importer_version,
            "export": self.export,
            "export_sha256": self.export_sha256,
            "member": self.member,
            "captured_at": iso(self.captured_at),
        }
        for key in ("url", "capture_sha256", "capture_object", "approximate_time"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Provenance":
        return cls(
            importer=data.get("importer", ""),
            importer_version=data.get("importer_version", ""),
            export=data.get("export"),
            export_sha256=data.get("export_sha256"),
            member=data.get("member"),
            captured_at=parse_iso(data.get("captured_at")),
            url=data.get("url"),
            capture_sha256=data.get("capture_sha256"),
            capture_object=data.get("capture_object"),
            approximate_time=data.get("approximate_time"),
        )


@dataclass
class Place:
    name: str | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "lat": self.lat, "lon": self.lon}
        if self.address:
            out["address"] = self.address
        return out


# ---------------------------------------------------------------------------------------------
# Items: what importers yield.
# ---------------------------------------------------------------------------------------------


@dataclass
class PostItem:
    """A post the owner published.  ``source_id`` is the native id, or a content key (docs/formats/)."""

    source_id: str
    created_at: datetime
    text: str | None = None
    title: str | None = None
    url: str | None = None
    links: list[str] = field(default_factory=list)
    place: Place | None = None
    reply_to: str | None = None
    repost_of: str | None = None
    source_visibility: str | None = None
    media_refs: list[str] = field(default_factory=list)  # refs of MediaItems, in order
    tagged: list[str] = field(default_factory=list)      # people tagged in the post
    content_warning: str | None = None
    member: str | None = None                             # export member the post was read from
    extra: dict[str, Any] = field(default_factory=dict)
    raw: Any = None


@dataclass
class MediaItem:
    """One media file inside the export.

    ``open`` MUST return a fresh binary stream of the file each time it is called.  ``ref`` is the
    name posts use for it (e.g. the path Facebook's JSON gives); ``fingerprint`` is a cheap string
    that changes when the bytes change (zip CRC + size, file size + mtime), used to skip
    re-reading unchanged files on re-import.  Width, height, mime and taken_at are filled in by the
    pipeline from the bytes when the importer leaves them empty.
    """

    ref: str
    open: Callable[[], IO[bytes]]
    size: int | None
    filename: str
    member: str | None = None
    fingerprint: str | None = None
    created_at: datetime | None = None
    taken_at: datetime | None = None
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    caption: str | None = None
    alt: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # How a worker process opens the same bytes (JSON-safe), when it can: see Entry.portable.
    portable: dict[str, Any] | None = None

    @classmethod
    def from_entry(cls, entry: "MemberLike", ref: str, *, filename: str | None = None, **fields: Any) -> "MediaItem":
        """A media file that is a member of the export: opened, sized, fingerprinted and named
        (by default its base name) after the member; ``fields`` are the rest (times, caption...)."""
        return cls(ref=ref, open=entry.open, size=entry.size, filename=filename or posixpath.basename(entry.rel),
                   member=entry.rel, fingerprint=entry.fingerprint, portable=entry.portable(), **fields)


class MemberLike(Protocol):
    """What :meth:`MediaItem.from_entry` needs of an export member (an archive ``Entry``)."""

    @property
    def rel(self) -> str: ...

    @property
    def size(self) -> int | None: ...

    def portable(self) -> dict[str, Any] | None: ...

    @property
    def fingerprint(self) -> str | None: ...

    def open(self) -> IO[bytes]: ...


@dataclass
class RatingItem:
    direction: Literal["received", "left"]
    polarity: Literal["positive", "neutral", "negative"]
    source_id: str
    created_at: datetime | None
    role: Literal["seller", "buyer"] | None = None
    stars: int | None = None
    comment: str | None = None
    counterparty: str | None = None
    item_title: str | None = None
    item_id: str | None = None
    price: str | None = None
    feedback_id: str | None = None
    reply: str | None = None
    member: str | None = None
    # A second identity for sources where the same feedback can arrive without its id (eBay cards
    # carry no feedback id): e.g. "item_id|comment".  The pipeline merges records sharing it.
    match_key: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)  # extra provenance (url, capture_ref...)
    extra: dict[str, Any] = field(default_factory=dict)
    raw: Any = None


@dataclass
class CaptureItem:
    """Raw bytes of a live capture (a fetched page), stored as an encrypted object for provenance."""

    ref: str
    data: bytes
    url: str
    captured_at: datetime


@dataclass
class Skipped:
    """A file or item the importer could not take (unsafe, corrupt, unreadable)."""

    path: str
    reason: str


@dataclass
class Warning_:
    """Something imported with a caveat (e.g. a post whose media file is missing)."""

    message: str
    path: str | None = None


@dataclass
class Held:
    """Records the export holds that are not imported (e.g. 12 follow records of a Bluesky
    repository), counted so a report can say what an export held, above all one with nothing
    to import.  ``what`` is a plural noun phrase ("follow records")."""

    what: str
    count: int = 1


def counted(what: str, count: int) -> str:
    """``"12 follow records"``, ``"1 follow record"`` for a plural noun phrase ``what``."""
    return f"{count} {what[:-1] if count == 1 and what.endswith('s') else what}"


Item = PostItem | MediaItem | RatingItem | CaptureItem | Skipped | Warning_ | Held


def polarity_from_stars(stars: int | None) -> str | None:
    if stars is None:
        return None
    if stars >= 4:
        return "positive"
    if stars == 3:
        return "neutral"
    return "negative"
