"""eBay feedback (ratings): docs/formats/ebay.md.

Reads, from a zip, a folder or bare files:

* the data-request CSVs ``Feedback/Feedback_Received.csv`` and ``Feedback_Left.csv`` (part 1 of that page):
  UTF-8 with BOM, CRLF, RFC 4180 quoting; columns found by header name (trimmed, any case), unknown
  columns ignored; a file without Rating and Comment columns is refused with a reason;
* saved feedback-profile pages in either markup (part 2; parsing in ``page``);
* saved official API responses (part 3): Trading API ``GetFeedback`` XML and the REST
  Feedback API's JSON.  Neither says which feedback type was requested, so a file whose name
  contains "left" or "sent" is read as feedback the owner left; anything else as received.

Identity: ``source_id`` is eBay's feedback id; a row without one gets a content key
("content:<sha256>"), a card (which never carries an id) "card:<sha256 of item id and comment>".
Every form also carries the same ``match_key`` ("direction|item id|comment") so the pipeline merges
a card with the CSV row or table row of the same feedback, in whichever order they arrive.  A
private-listing card has no item id: the pipeline matches it on direction, rating, comment, a
masked name that fits and a date bucket that contains the other copy's date (``vault.ratings.merge``),
and a merge never replaces a known value with a page's null or masked one.

Text: eBay's data is HTML-entity-escaped, so comments, replies and titles from CSV, XML and JSON are
decoded exactly once (``&lt;script&gt;`` becomes the text ``<script>``, stored verbatim).  Page
text is decoded once by the HTML parser.

Per-item problems are values: a malformed row is ``Skipped("<member>:row N", reason)`` (rows are
numbered as a spreadsheet shows them: the header is row 1), a withdrawn feedback a ``Warning_``.
Only input that holds no eBay feedback at all raises ``UnsupportedInputError``.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from vault.plugin_api import CaptureItem, Fetcher, Item, RatingItem, Skipped, UnsupportedInputError, Warning_, iso

from . import page as ebay_html
from . import scrape
from .api import read_json, read_xml
from .csvfile import read_csv
from .members import CSV_FILES, SNIFF_BYTES, member_kind, read_head, read_member, sniff
from .state import ReadState

MAX_HTML_SNIFF = 50      # HTML members recognize() looks into; a Facebook HTML export has thousands
MAX_DATA_SNIFF = 200     # XML/JSON members recognize() looks into
MAX_HTML_FULL_READS = 5  # of those, how many it may read whole (markers can sit deep in a saved page)
NOT_FEEDBACK_HINT = (
    "import the zip from eBay's data request (Feedback/Feedback_Received.csv), a saved page of "
    "https://www.ebay.com/fdbk/feedback_profile/<user>, or capture it with `vault scrape ebay USER`"
)


# ---------------------------------------------------------------------------------------------
# The importer
# ---------------------------------------------------------------------------------------------


@dataclass
class PageResult:
    """One feedback page read for ``vault scrape``: its items and what it says about paging."""

    items: list[Item] = field(default_factory=list)
    rows: int = 0
    ratings: int = 0
    has_next: bool = False
    feedback_page: bool = False   # markers or rows were found
    empty_profile: bool = False
    truncated: bool = False


class EbayImporter:
    name = "ebay"
    version = "1"
    description = "eBay feedback: data-request zip, saved feedback-profile pages, saved API responses"
    reads = ("Feedback/Feedback_Received.csv and Feedback_Left.csv (eBay data request), saved "
             "feedback_profile pages (.html, either markup), GetFeedback XML, Feedback API JSON")

    # -- detection ------------------------------------------------------------------------------

    def recognize(self, src) -> int:
        best = 0
        html_seen = data_seen = full_reads = 0
        for entry in src.entries:
            kind = member_kind(entry.path)
            if kind == "csv":
                return 95
            if kind == "skip":
                continue
            # recognize() must stay cheap on a Facebook export with thousands of JSON or HTML files.
            if kind == "html":
                html_seen += 1
                if html_seen > MAX_HTML_SNIFF:
                    continue
            else:
                data_seen += 1
                if data_seen > MAX_DATA_SNIFF:
                    continue
            head = read_head(entry)
            if head is None:
                continue
            sniffed = sniff(entry.path, head)
            if sniffed == "xml":
                best = max(best, 90)
            elif sniffed == "json":
                best = max(best, 85)
            elif sniffed == "html" and best < 85:
                if ebay_html.has_markers(ebay_html.decode_page(head).lower()):
                    best = 85
                elif len(head) >= SNIFF_BYTES and b"ebay" in head.lower() and full_reads < MAX_HTML_FULL_READS:
                    # Saved pages carry hundreds of KiB of inline script before the feedback.
                    full_reads += 1
                    whole = read_member(entry, ebay_html.MAX_PAGE_BYTES) or b""
                    if ebay_html.has_markers(ebay_html.decode_page(whole).lower()):
                        best = 85
        return best

    # -- reading --------------------------------------------------------------------------------
    def read(self, src) -> Iterator[Item]:
        state = ReadState()
        for entry in src.entries:
            kind = member_kind(entry.path)
            if kind == "skip":
                continue
            if kind == "csv":
                state.found = True
                yield from read_csv(entry, CSV_FILES[posixpath.basename(entry.path).lower()], state)
                continue
            head = read_head(entry)
            sniffed = sniff(entry.path, head) if head is not None else None
            if sniffed == "xml":
                state.found = True
                yield from read_xml(entry, state)
            elif sniffed == "json":
                state.found = True
                yield from read_json(entry, state)
            elif sniffed == "html" or kind == "html":
                yield from self._saved_page(entry, state)
        if state.ratings == 0 and state.markup_changed:
            label, count = state.markup_changed[0], len(state.markup_changed)
            raise UnsupportedInputError(
                f"{label}: this looks like an eBay feedback page, but no feedback rows were found in it"
                + (f" (nor in {count - 1} other page(s))" if count > 1 else "")
                + "; eBay has probably changed the page markup",
                hint="please report it with the saved page; meanwhile request your eBay data (Account > Request your eBay data)",
            )
        if not state.found:
            what = "an eBay feedback page" if state.html_pages else "an eBay feedback export"
            raise UnsupportedInputError(f"{src.display_name}: not {what}", hint=NOT_FEEDBACK_HINT)
        for label in state.markup_changed:
            yield Skipped(label, "no feedback rows found in this page (eBay may have changed the page markup)")

    # -- saved pages ----------------------------------------------------------------------------

    def _saved_page(self, entry, state: "ReadState") -> Iterator[Item]:
        label = entry.rel
        data = read_member(entry, ebay_html.MAX_PAGE_BYTES)
        if data is None:
            yield Skipped(label, "unreadable file, or larger than a feedback page can be")
            return
        text = ebay_html.decode_page(data)
        if not ebay_html.looks_like_html(text[:4096]):
            return
        page = ebay_html.parse_page(text)
        state.html_pages += 1
        if not page.rows and not page.markers:
            return  # some other page (e.g. from a saved page's _files folder)
        state.found = True
        if not page.rows:
            if not page.empty_profile:
                state.markup_changed.append(label)
            else:
                yield Warning_("the saved profile shows no feedback", path=label)
            return
        saved_at, time_source = page.save.saved_at, page.save.source
        if saved_at is None:
            saved_at, time_source = _entry_time(entry)
        ref = f"saved-page:{entry.part.name}:{entry.rel}"
        digest = hashlib.sha256(data).hexdigest()
        yield CaptureItem(ref=ref, data=data, url=page.save.url or label, captured_at=saved_at)
        prov = {"capture_ref": ref, "capture_sha256": digest, "url": page.save.url, "captured_at": iso(saved_at)}
        for item in _page_items(page, label=label, saved_at=saved_at, time_source=time_source, provenance=prov, member=entry.rel):
            if isinstance(item, RatingItem):
                state.ratings += 1
            yield item

    def profile_url(self, base_url: str, user: str) -> str:
        """USER's public feedback profile on BASE; ``UsageError`` for a malformed user or URL."""
        return scrape.ebay_profile_url(base_url, user)

    def feedback_items(self, user: str, *, fetcher: Fetcher, base_url: str = scrape.DEFAULT_BASE_URL, max_pages: int | None = None,
                       delay: float = 2.0, on_page: Callable[[int, str, int], None] | None = None) -> Iterator[Item]:
        """Capture USER's public feedback profile page by page through the core's ``fetcher``
        (`vault scrape ebay`): each page's ``CaptureItem``, then its ratings.  See ``scrape``."""
        return scrape.ebay_feedback_items(user, importer=self, fetcher=fetcher, base_url=base_url, max_pages=max_pages,
                                          delay=delay, on_page=on_page)

    def read_page(self, data: bytes, *, url: str, captured_at: datetime, ref: str) -> PageResult:
        """Read one page fetched live (``vault scrape``): a CaptureItem first, then its ratings.

        ``captured_at`` is the fetch time: every relative time bucket is taken relative to it.
        """
        text = ebay_html.decode_page(data)
        page = ebay_html.parse_page(text)
        result = PageResult(rows=len(page.rows), has_next=page.has_next, empty_profile=page.empty_profile,
                            feedback_page=bool(page.rows or page.markers), truncated=page.truncated)
        if not page.rows:
            return result
        prov = {"url": url, "capture_sha256": hashlib.sha256(data).hexdigest(), "capture_ref": ref,
                "captured_at": iso(captured_at)}
        result.items.append(CaptureItem(ref=ref, data=data, url=url, captured_at=captured_at))
        for item in _page_items(page, label=url, saved_at=captured_at, time_source="live capture", provenance=prov, member=None):
            if isinstance(item, RatingItem):
                result.ratings += 1
            result.items.append(item)
        return result


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _page_items(page: ebay_html.Page, *, label: str, saved_at: datetime, time_source: str | None,
                provenance: dict[str, Any], member: str | None) -> Iterator[Item]:
    complete = [r for r in page.rows if r.complete]
    for row in complete:
        yield ebay_html.row_rating(row, label=label, saved_at=saved_at, provenance=provenance, member=member,
                                   time_source=time_source)
    if page.truncated:
        missing = len(page.rows) - len(complete)
        detail = f"{missing} incomplete row(s) not read" if missing else "rows after it may be missing"
        yield Skipped(label, f"page truncated: {len(complete)} complete row(s) read, {detail}")


def _entry_time(entry) -> tuple[datetime, str]:
    """When a saved page was saved, from the file system: the best that is left."""
    part = entry.part
    if part.kind == "zip":
        try:
            with zipfile.ZipFile(part.path) as zf:
                y, mo, d, h, mi, s = zf.getinfo(entry.path).date_time
            return datetime(y, mo, d, h, mi, s, tzinfo=timezone.utc), "zip member time (taken as UTC)"
        except (KeyError, OSError, ValueError, zipfile.BadZipFile):
            pass
    fp = entry.fingerprint or ""
    kind, _, rest = fp.partition(":")
    stamp = rest.rpartition(":")[2]
    if kind == "file" and stamp.isdigit():
        return datetime.fromtimestamp(int(stamp) / 1e9, tz=timezone.utc), "file modification time"
    if kind == "tar" and stamp.isdigit():
        return datetime.fromtimestamp(int(stamp), tz=timezone.utc), "tar member modification time"
    st = os.stat(part.path)
    return datetime.fromtimestamp(st.st_mtime, tz=timezone.utc), "export file modification time"
