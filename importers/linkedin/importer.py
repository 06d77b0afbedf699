"""LinkedIn "Download your data" exports: shares.

The export is a zip (or folder) of CSV files.  Posts are in ``Shares.csv`` (reported as
``Shares_<memberid>.csv`` in complete exports), found *by its header*, not by its name: any CSV
whose header row has ``Date``, ``ShareLink`` and ``ShareCommentary``.  Columns are mapped by
name (case, spaces and a BOM do not matter, so 2018's ``Share Commentary`` is ``ShareCommentary``),
so their order may change.  Two file shapes exist:

* current exports: UTF-8 (BOM optional), comma-separated, ``Date`` as ``YYYY-MM-DD HH:MM:SS``;
* 2018 exports: UTF-16 with a BOM, tab-separated, every field quoted, ``Date`` as
  ``2016/08/25 17:41:57 UTC``, and two more columns, ``Share Title`` and ``Share Description``
  (the shared link's card), kept in ``extra``.

What becomes what, per row:

* ``Date`` (no zone, or ``UTC``) -> ``created_at``, **taken to be UTC**: the export says nothing
  else, and UTC is the only reading that does not depend on the importing machine.
* ``ShareCommentary`` -> ``text``.  The csv module handles quoted newlines and doubled quotes;
  on top of that, exports since about 2024 wrap *each line* of a multi-line commentary in its own
  quotes (the lines are joined with ``"`` newline ``"`` instead of a newline), so a commentary in
  which every line break is quoted that way has those quotes removed: the text is the one typed.
* ``SharedUrl`` and ``MediaUrl`` -> ``links`` (their files are not in the export, so no media);
* ``ShareLink`` -> ``url`` and ``source_id``; a row without one gets a content key
  (``li:`` + sha256 of date, commentary and links);
* ``Visibility`` (``PUBLIC``, ``MEMBER_NETWORK``, 2018: ``Public``, ``Connections``) ->
  ``source_visibility`` as given.

A bare repost (empty commentary) is kept only when it has a SharedUrl or MediaUrl; with neither
it says nothing the vault could show, so it is not a post.  Comments, reactions and connections
are other files and are not read.  A row that cannot be read (bad date, cut short) is a
``Skipped`` naming the file and line; the other rows are imported.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterator

from vault.plugin_api import ArchiveMemberError, Item, PostItem, Skipped

from ..common.members import CsvFileError, csv_rows
from ..common.probing import probe_candidates

if TYPE_CHECKING:
    from vault.plugin_api import Entry, ExportSource

# recognize() reads this much of each CSV; LinkedIn headers sit on the first line.
_HEAD = 8 * 1024
# Header rows are looked for in this many first lines (Connections.csv, for one, has a preamble).
_HEADER_LINES = 5
_REQUIRED = frozenset({"date", "sharelink", "sharecommentary"})
# A line break inside a commentary as current exports write it: closing and reopening quotes.
_WRAPPED_BREAK = re.compile(r'"(\r?\n)"')


class LinkedInImporter:
    """Reads LinkedIn Shares CSVs; see the module docstring for what becomes what."""

    name = "linkedin"
    version = "1"
    description = "LinkedIn \"Download your data\" zip: shares (posts) from Shares.csv"
    reads = ("zip, folder or file with Shares.csv (any CSV with a Date,ShareLink,ShareCommentary,SharedUrl,"
             "MediaUrl,Visibility header; 2018: UTF-16, tab-separated, \"Share Commentary\" ...)")

    def recognize(self, src: "ExportSource") -> int:
        """90 when any CSV member has a Shares header, else 0 (reads only their first 8 KiB)."""
        return 90 if _shares_files(src) else 0

    def read(self, src: "ExportSource") -> Iterator[Item]:
        """Yield one PostItem per share row; unreadable rows and files as Skipped."""
        seen: set[str] = set()
        shares = _shares_files(src)
        for entry in shares:
            if src.unchanged(entry, depends=shares):  # read by an earlier import (a share in two files counts once)
                continue
            for item in _read_shares(entry):
                if isinstance(item, PostItem):
                    if item.source_id in seen:
                        continue  # the same share in Shares.csv and Shares_<id>.csv
                    seen.add(item.source_id)
                yield item


def _normalise(name: str) -> str:
    """Header name as compared: no BOM, no spaces, case-folded ("Share Commentary" -> "sharecommentary")."""
    return "".join(name.replace("\ufeff", "").split()).casefold()


def _encoding(head: bytes) -> str:
    """The text encoding of a CSV from its first bytes: UTF-16 by its BOM (2018 exports) or by
    the zero bytes of ASCII text in UTF-16LE, else UTF-8 with an optional BOM."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 8 and head[1:8:2] == b"\0\0\0\0" and head[0:8:2].count(0) == 0:
        return "utf-16-le"
    return "utf-8-sig"


def _delimiter(line: str) -> str:
    """Tab for 2018's tab-separated files, else comma."""
    return "\t" if line.count("\t") > line.count(",") else ","


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
        lines = head.decode(_encoding(head), errors="replace").splitlines()[:_HEADER_LINES]
        for line in lines:
            row = next(csv.reader([line], delimiter=_delimiter(line)), [])
            if _REQUIRED <= {_normalise(cell) for cell in row}:
                out.append(entry)
                break
    return sorted(out, key=lambda e: e.rel)


def _read_shares(entry: "Entry") -> Iterator[Item]:
    header: dict[str, int] | None = None
    try:
        with entry.open() as probe:
            head = probe.read(8)
        stream = entry.open()
    except (ArchiveMemberError, OSError) as exc:
        yield Skipped(entry.rel, getattr(exc, "message", None) or f"cannot read: {exc}")
        return
    with stream:
        # Rows are read one by one: a row with bytes that are not UTF-8 is skipped and named,
        # every other row (after it too) is read.
        rows = csv_rows(stream, encoding=_encoding(head), delimiter=_delimiter)
        while True:
            try:
                got = next(rows, None)
            except CsvFileError as exc:
                yield Skipped(f"{entry.rel}:{exc.line}", f"cannot read the rest of the file: {exc.reason}")
                return
            if got is None:
                return
            row = got.values
            if got.problem:
                if header is not None:
                    yield Skipped(f"{entry.rel}:{got.line}", f"{got.problem}; the row was not imported")
                continue
            if header is None:
                names = [_normalise(cell) for cell in row]
                if _REQUIRED <= set(names):
                    header = {name: i for i, name in reversed(list(enumerate(names)))}
                continue
            if not any(cell.strip() for cell in row):
                continue
            item = _share(row, header, entry.rel, got.line)
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
    commentary = unwrap_lines(col("sharecommentary"))
    links = []
    for name in ("sharedurl", "mediaurl"):
        value = col(name).strip()
        if value and value not in links:
            links.append(value)
    if not commentary.strip() and not links:
        return None  # a bare repost: nothing of its own to keep
    share_link = col("sharelink").strip() or None
    # 2018 exports: the shared link's card (title and description), not the member's words.
    extra = {key: col(name).strip() for key, name in (("share_title", "sharetitle"), ("share_description", "sharedescription"))
             if col(name).strip()}
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
        extra=extra,
        raw={name: col(name) for name in header},
    )


def unwrap_lines(commentary: str) -> str:
    """The commentary as typed: when *every* line break is written as ``"`` newline ``"`` (each
    line wrapped in its own quotes, as exports since about 2024 do), those quotes are removed.
    Any other text, including one line breaks of which are plain, is returned unchanged."""
    breaks = commentary.count("\n")
    if breaks and len(_WRAPPED_BREAK.findall(commentary)) == breaks:
        return _WRAPPED_BREAK.sub(lambda m: m.group(1), commentary)
    return commentary


def parse_linkedin_date(value: str) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS``, 2018's ``YYYY/MM/DD HH:MM:SS UTC`` (or ISO 8601) -> aware
    datetime; a value without zone is UTC."""
    if not value:
        return None
    if value.endswith(" UTC"):
        value = value[:-4].rstrip()
    try:
        moment = datetime.strptime(value.replace("/", "-"), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
