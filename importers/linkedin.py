"""LinkedIn "Download your data" exports: shares (formats.md section 6).

The export is a zip (or folder) of CSV files.  Posts are in ``Shares.csv`` (reported as
``Shares_<memberid>.csv`` in complete exports), found *by its header*, not by its name: any CSV
whose header row has ``Date``, ``ShareLink`` and ``ShareCommentary``.  Columns are mapped by
name (case, surrounding spaces and a UTF-8 BOM do not matter), so their order may change.

What becomes what, per row:

* ``Date`` (``YYYY-MM-DD HH:MM:SS``, no zone) -> ``created_at``, **taken to be UTC**: the export
  says nothing, and UTC is the only reading that does not depend on the importing machine.
* ``ShareCommentary`` -> ``text`` (the csv module handles quoted newlines and doubled quotes);
* ``SharedUrl`` and ``MediaUrl`` -> ``links`` (their files are not in the export, so no media);
* ``ShareLink`` -> ``url`` and ``source_id``; a row without one gets a content key
  (``li:`` + sha256 of date, commentary and links);
* ``Visibility`` (``PUBLIC``, ``MEMBER_NETWORK``, ...) -> ``source_visibility`` as given.

A bare repost (empty commentary) is kept only when it has a SharedUrl or MediaUrl; with neither
it says nothing the vault could show, so it is not a post.  Comments, reactions and connections
are other files and are not read.  A row that cannot be read (bad date, cut short) is a
``Skipped`` naming the file and line; the other rows are imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterator

from vault.archive import ArchiveMemberError
from vault.models import Item, PostItem, Skipped
from .probing import probe_candidates

if TYPE_CHECKING:
    from vault.archive import Entry, ExportSource

# recognize() reads this much of each CSV; LinkedIn headers sit on the first line.
_HEAD = 8 * 1024
# Header rows are looked for in this many first lines (Connections.csv, for one, has a preamble).
_HEADER_LINES = 5
_REQUIRED = frozenset({"date", "sharelink", "sharecommentary"})


class LinkedInImporter:
    """Reads LinkedIn Shares CSVs; see the module docstring for what becomes what."""

    name = "linkedin"
    version = "1"
    description = "LinkedIn \"Download your data\" zip: shares (posts) from Shares.csv"
    reads = "zip, folder or CSV file with a Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility header"

    def recognize(self, src: "ExportSource") -> int:
        """90 when any CSV member has a Shares header, else 0 (reads only their first 8 KiB)."""
        return 90 if _shares_files(src) else 0

    def read(self, src: "ExportSource") -> Iterator[Item]:
        """Yield one PostItem per share row; unreadable rows and files as Skipped."""
        seen: set[str] = set()
        for entry in _shares_files(src):
            for item in _read_shares(entry):
                if isinstance(item, PostItem):
                    if item.source_id in seen:
                        continue  # the same share in Shares.csv and Shares_<id>.csv
                    seen.add(item.source_id)
                yield item


def _normalise(name: str) -> str:
    return name.replace("\ufeff", "").strip().casefold()


def _shares_files(src: "ExportSource") -> list["Entry"]:
    """Members whose header row (within the first lines) is a Shares header, in name order.

    Small exports (a bare file, whatever its name) have every member probed; bigger ones only
    ``*.csv`` members, so detection stays cheap on a big archive of another kind.
    """
    out = []
    for entry in probe_candidates(src, ".csv"):
        try:
            with entry.open() as stream:
                head = stream.read(_HEAD)
        except (ArchiveMemberError, OSError):
            continue
        lines = head.decode("utf-8-sig", errors="replace").splitlines()[:_HEADER_LINES]
        for line in lines:
            row = next(csv.reader([line]), [])
            if _REQUIRED <= {_normalise(cell) for cell in row}:
                out.append(entry)
                break
    return sorted(out, key=lambda e: e.rel)


def _read_shares(entry: "Entry") -> Iterator[Item]:
    header: dict[str, int] | None = None
    try:
        stream = entry.open()
    except (ArchiveMemberError, OSError) as exc:
        yield Skipped(entry.rel, getattr(exc, "message", None) or f"cannot read: {exc}")
        return
    with io.TextIOWrapper(stream, encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        while True:
            try:
                row = next(reader, None)
            except (csv.Error, UnicodeDecodeError, ArchiveMemberError, OSError) as exc:
                reason = getattr(exc, "message", None) or str(exc)
                yield Skipped(f"{entry.rel}:{reader.line_num}", f"cannot read the rest of the file: {reason}")
                return
            if row is None:
                return
            if header is None:
                names = [_normalise(cell) for cell in row]
                if _REQUIRED <= set(names):
                    header = {name: i for i, name in reversed(list(enumerate(names)))}
                continue
            if not any(cell.strip() for cell in row):
                continue
            item = _share(row, header, entry.rel, reader.line_num)
            if item is not None:
                yield item


def _share(row: list[str], header: dict[str, int], rel: str, line: int) -> Item | None:
    """A PostItem for one row, a Skipped for a broken one, None for a bare repost without links."""
    if len(row) < len(header):
        # Fewer fields than the header: the file was cut inside this row (e.g. in a quoted text).
        return Skipped(f"{rel}:{line}", f"the row has {len(row)} fields, the header {len(header)} (truncated file?)")

    def col(name: str) -> str:
        index = header.get(name)
        return row[index] if index is not None and index < len(row) else ""

    date = col("date").strip()
    created = parse_linkedin_date(date)
    if created is None:
        return Skipped(f"{rel}:{line}", f"unreadable Date {date[:40]!r}")
    commentary = col("sharecommentary")
    links = []
    for name in ("sharedurl", "mediaurl"):
        value = col(name).strip()
        if value and value not in links:
            links.append(value)
    if not commentary.strip() and not links:
        return None  # a bare repost: nothing of its own to keep
    share_link = col("sharelink").strip() or None
    source_id = share_link or "li:" + hashlib.sha256(
        "\n".join([date, commentary, *links]).encode("utf-8")).hexdigest()
    return PostItem(
        source_id=source_id,
        created_at=created,
        text=commentary if commentary.strip() else None,
        url=share_link,
        links=links,
        source_visibility=col("visibility").strip() or None,
        member=rel,
        raw={name: col(name) for name in header},
    )


def parse_linkedin_date(value: str) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` (or ISO 8601) -> aware datetime; a value without zone is UTC."""
    if not value:
        return None
    try:
        moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" UTC", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
