"""eBay feedback (ratings): formats.md section 7.

Reads, from a zip, a folder or bare files:

* the data-request CSVs ``Feedback/Feedback_Received.csv`` and ``Feedback_Left.csv`` (section 7.1):
  UTF-8 with BOM, CRLF, RFC 4180 quoting; columns found by header name (trimmed, any case), unknown
  columns ignored; a file without Rating and Comment columns is refused with a reason;
* saved feedback-profile pages in either markup (section 7.2; parsing in ``ebay_html``);
* saved official API responses (section 7.3): Trading API ``GetFeedback`` XML and the REST
  Feedback API's JSON.  Neither says which feedback type was requested, so a file whose name
  contains "left" or "sent" is read as feedback the owner left; anything else as received.

Identity: ``source_id`` is eBay's feedback id; a row without one gets a content key
("content:<sha256>"), a card (which never carries an id) "card:<sha256 of item id and comment>".
Every form also carries the same ``match_key`` ("direction|item id|comment") so the pipeline merges
a card with the CSV row or table row of the same feedback, in whichever order they arrive.

Text: eBay's data is HTML-entity-escaped, so comments, replies and titles from CSV, XML and JSON are
decoded exactly once (``&lt;script&gt;`` becomes the text ``<script>``, stored verbatim).  Page
text is decoded once by the HTML parser.

Per-item problems are values: a malformed row is ``Skipped("<member>:row N", reason)`` (rows are
numbered as a spreadsheet shows them: the header is row 1), a withdrawn feedback a ``Warning_``.
Only input that holds no eBay feedback at all raises ``UnsupportedInputError``.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator

from vault.archive import ArchiveMemberError
from vault.errors import UnsupportedInputError
from vault.models import CaptureItem, Item, RatingItem, Skipped, Warning_, iso, parse_iso

from . import ebay_html
from .ebay_html import normalize_comment

CSV_FILES = {"feedback_received.csv": "received", "feedback_left.csv": "left"}
SNIFF_BYTES = 64 * 1024
MAX_FILE_BYTES = 256 * 2**20
MAX_HTML_SNIFF = 50      # HTML members recognize() looks into; a Facebook HTML export has thousands
MAX_DATA_SNIFF = 200     # XML/JSON members recognize() looks into
MAX_HTML_FULL_READS = 5  # of those, how many it may read whole (markers can sit deep in a saved page)

# Column header (lowercase, whitespace collapsed) -> field.
COLUMNS = {
    "feedback id": "feedback_id", "feedbackid": "feedback_id", "id": "feedback_id",
    "role": "role",
    "rating": "rating", "comment type": "rating", "commenttype": "rating",
    "comment": "comment", "comment text": "comment", "commenttext": "comment",
    "from user": "from_user", "commenting user": "from_user",
    "to user": "to_user",
    "from user feedback score": "score", "to user feedback score": "score", "commenting user score": "score",
    "feedback score": "score",
    "date (utc)": "date", "date": "date", "comment time": "date", "date (gmt)": "date",
    "item id": "item_id", "itemid": "item_id",
    "item title": "item_title",
    "item price": "item_price", "price": "item_price",
    "currency": "currency",
    "transaction id": "transaction_id",
    "order line item id": "order_line_item_id",
    "reply": "reply", "feedback response": "reply", "response": "reply",
}
POLARITIES = {"positive", "neutral", "negative"}
WITHDRAWN = {"withdrawn", "independentlywithdrawn", "independently withdrawn"}
NOT_FEEDBACK_HINT = (
    "import the zip from eBay's data request (Feedback/Feedback_Received.csv), a saved page of "
    "https://www.ebay.com/fdbk/feedback_profile/<user>, or capture it with `vault scrape ebay USER`"
)


def unescape(text: str | None) -> str | None:
    """eBay text is HTML-entity-escaped: decode exactly once; empty text is no text."""
    if text is None:
        return None
    out = html.unescape(text).replace("\r\n", "\n").replace("\r", "\n")
    return out if out.strip() else None


def content_key(*parts: str | None) -> str:
    return "content:" + hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()


def direction_from_name(path: str) -> str:
    base = posixpath.basename(path).lower()
    return "left" if ("left" in base or "sent" in base) else "received"


def _role(text: str | None) -> str | None:
    value = (text or "").strip().lower()
    return value if value in ("seller", "buyer") else None


def _int(text: Any) -> int | None:
    try:
        return int(str(text).strip().replace(",", ""))
    except (TypeError, ValueError):
        return None


def _price(amount: str | None, currency: str | None) -> str | None:
    amount = (amount or "").strip()
    currency = (currency or "").strip()
    if not amount:
        return None
    if currency:
        return f"{amount} {currency}"
    return ebay_html.price_from_shown(amount)


def parse_time(text: str | None) -> datetime | None:
    """eBay's ``2024-03-05T14:22:10.000Z`` and near variants; a time without a zone is UTC."""
    value = (text or "").strip()
    if not value:
        return None
    return parse_iso(value.replace(" UTC", "Z").replace(" GMT", "Z"))


def _mk(direction: str, item_id: str | None, comment: str | None) -> str | None:
    return ebay_html.match_key(direction, item_id, comment)


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
            kind = _name_kind(entry.path)
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
            head = _head(entry)
            if head is None:
                continue
            sniffed = _sniff(entry.path, head)
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
                    whole = _read(entry, ebay_html.MAX_PAGE_BYTES) or b""
                    if ebay_html.has_markers(ebay_html.decode_page(whole).lower()):
                        best = 85
        return best

    # -- reading --------------------------------------------------------------------------------

    def read(self, src) -> Iterator[Item]:
        state = _ReadState()
        for entry in src.entries:
            kind = _name_kind(entry.path)
            if kind == "skip":
                continue
            if kind == "csv":
                state.found = True
                yield from self._csv(entry, CSV_FILES[posixpath.basename(entry.path).lower()], state)
                continue
            head = _head(entry)
            sniffed = _sniff(entry.path, head) if head is not None else None
            if sniffed == "xml":
                state.found = True
                yield from self._xml(entry, state)
            elif sniffed == "json":
                state.found = True
                yield from self._json(entry, state)
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

    # -- data-request CSV -----------------------------------------------------------------------

    def _csv(self, entry, direction: str, state: "_ReadState") -> Iterator[Item]:
        label = entry.rel
        try:
            with entry.open() as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                reader = csv.reader(text)
                try:
                    header = next(reader, None)
                except csv.Error as exc:
                    yield Skipped(label, f"unreadable CSV header: {exc}")
                    return
                if header is None:
                    yield Skipped(label, "empty file")
                    return
                cols: dict[str, int] = {}
                for i, name in enumerate(header):
                    key = " ".join(name.replace("\ufeff", "").split()).lower()
                    if key in COLUMNS and COLUMNS[key] not in cols:
                        cols[COLUMNS[key]] = i
                if "rating" not in cols or "comment" not in cols:
                    shown = ", ".join(h.strip() for h in header[:12]) or "none"
                    yield Skipped(label, f"not an eBay feedback file: no Rating and Comment columns (columns: {shown})")
                    return
                row_no = 1
                while True:
                    try:
                        values = next(reader)
                    except StopIteration:
                        break
                    except csv.Error as exc:
                        yield Skipped(f"{label}:row {row_no + 1}", f"unreadable CSV (line {reader.line_num}): {exc}; the rest of the file was not read")
                        break
                    row_no += 1
                    if not any(v.strip() for v in values):
                        continue
                    row = {f: (values[i] if i < len(values) else "") for f, i in cols.items()}
                    raw_row = {h.replace("\ufeff", "").strip(): v for h, v in zip(header, values)}
                    for item in _csv_row(row, raw_row, direction, f"{label}:row {row_no}", entry.rel):
                        if isinstance(item, RatingItem):
                            state.ratings += 1
                        yield item
        except ArchiveMemberError as exc:
            yield Skipped(label, exc.message)
        except UnicodeDecodeError as exc:
            yield Skipped(label, f"not UTF-8 text ({exc.reason} at byte {exc.start}); rows before it were read")

    # -- Trading API XML ------------------------------------------------------------------------

    def _xml(self, entry, state: "_ReadState") -> Iterator[Item]:
        label = entry.rel
        data = _read(entry, MAX_FILE_BYTES)
        if data is None:
            yield Skipped(label, "unreadable file")
            return
        text = _decode_xml(data)
        if text is None:
            yield Skipped(label, "not UTF-8 or UTF-16 text")
            return
        if re.search(r"<!\s*(DOCTYPE|ENTITY)", text, re.I):
            yield Skipped(label, "refused: the XML declares a DOCTYPE or entities (a saved API response has "
                                 "none; entity expansion is a known attack)")
            return
        text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            yield Skipped(label, f"not well-formed XML: {exc}")
            return
        details = [el for el in root.iter() if _local(el.tag) == "FeedbackDetail"]
        if not details:
            errors = [(_child_text(el, "LongMessage") or _child_text(el, "ShortMessage")) for el in root.iter() if _local(el.tag) == "Errors"]
            reason = "eBay returned an error: " + "; ".join(e for e in errors if e) if any(errors) else "no FeedbackDetail entries in this response"
            yield Skipped(label, reason)
            return
        direction = direction_from_name(entry.path)
        for i, el in enumerate(details, 1):
            fields = {_local(c.tag): (c.text or "") for c in el}
            price_el = next((c for c in el if _local(c.tag) == "ItemPrice"), None)
            row = {
                "feedback_id": fields.get("FeedbackID", ""),
                "role": fields.get("Role", ""),
                "rating": fields.get("CommentType", ""),
                "comment": fields.get("CommentText", ""),
                # In feedback the owner left, CommentingUser is the owner: the other party is unknown.
                "from_user": fields.get("CommentingUser", "") if direction == "received" else "",
                "score": fields.get("CommentingUserScore", "") if direction == "received" else "",
                "date": fields.get("CommentTime", ""),
                "item_id": fields.get("ItemID", ""),
                "item_title": fields.get("ItemTitle", ""),
                "item_price": fields.get("ItemPrice", ""),
                "currency": price_el.get("currencyID", "") if price_el is not None else "",
                "transaction_id": fields.get("TransactionID", ""),
                "order_line_item_id": fields.get("OrderLineItemID", ""),
                "reply": fields.get("FeedbackResponse", ""),
            }
            for item in _csv_row(row, fields, direction, f"{label}:FeedbackDetail {i}", entry.rel):
                if isinstance(item, RatingItem):
                    state.ratings += 1
                    if fields.get("CommentReplaced", "").strip().lower() == "true":
                        item.extra["comment_replaced"] = True
                yield item

    # -- REST Feedback API JSON -----------------------------------------------------------------

    def _json(self, entry, state: "_ReadState") -> Iterator[Item]:
        label = entry.rel
        data = _read(entry, MAX_FILE_BYTES)
        try:
            doc = json.loads((data or b"").decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            yield Skipped(label, f"not valid JSON: {exc}")
            return
        entries = _feedback_entries(doc)
        if not entries:
            yield Skipped(label, "no feedback entries (feedbackId) in this JSON")
            return
        direction = direction_from_name(entry.path)
        for i, fb in enumerate(entries, 1):
            comment = fb.get("feedbackComment")
            if isinstance(comment, dict):
                comment = comment.get("commentText")
            summary = fb.get("orderLineItemSummary") if isinstance(fb.get("orderLineItemSummary"), dict) else {}
            price = summary.get("listingPrice") if isinstance(summary.get("listingPrice"), dict) else {}
            provider = fb.get("providerUserDetail") if isinstance(fb.get("providerUserDetail"), dict) else {}
            provider_role = _role(provider.get("role"))
            if direction == "received":
                # The provider wrote the feedback; the owner had the other role.
                role = {"buyer": "seller", "seller": "buyer"}.get(provider_role or "", "")
            else:
                role = provider_role or ""
            row = {
                "feedback_id": _s(fb.get("feedbackId")),
                "role": role,
                "rating": _s(fb.get("commentType")),
                "comment": _s(comment),
                "from_user": _s(provider.get("userId")) if direction == "received" else "",
                "score": _s(provider.get("feedbackScore")) if direction == "received" else "",
                "date": _s(fb.get("feedbackEnteredDate")),
                "item_id": _s(summary.get("listingId")),
                "item_title": _s(summary.get("listingTitle")),
                "item_price": _s(price.get("value")),
                "currency": _s(price.get("currency")),
                "order_line_item_id": _s(summary.get("orderLineItemId")),
            }
            for item in _csv_row(row, fb, direction, f"{label}:feedback {i}", entry.rel):
                if isinstance(item, RatingItem):
                    state.ratings += 1
                    if fb.get("automatedFeedback") is True:
                        item.extra["automated"] = True
                yield item

    # -- saved pages ----------------------------------------------------------------------------

    def _saved_page(self, entry, state: "_ReadState") -> Iterator[Item]:
        label = entry.rel
        data = _read(entry, ebay_html.MAX_PAGE_BYTES)
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


@dataclass
class _ReadState:
    found: bool = False
    ratings: int = 0
    html_pages: int = 0
    markup_changed: list[str] = field(default_factory=list)


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


def _csv_row(row: dict[str, str], raw: Any, direction: str, where: str, member: str) -> list[Item]:
    """One feedback (CSV row, XML or JSON entry, in CSV field names) as items."""
    rating = (row.get("rating") or "").strip()
    fid = (row.get("feedback_id") or "").strip() or None
    kind = rating.lower()
    if kind in WITHDRAWN:
        return [Warning_(f"withdrawn feedback{' ' + fid if fid else ''} is not a rating; not imported", path=where)]
    if kind not in POLARITIES:
        return [Skipped(where, f"unknown rating {rating!r} (expected Positive, Neutral or Negative)" if rating else "no rating")]
    out: list[Item] = []
    date_text = (row.get("date") or "").strip()
    created = parse_time(date_text)
    if created is None and not fid:
        reason = f"unreadable date {date_text!r}" if date_text else "no date"
        return [Skipped(where, f"{reason} and no feedback id: nothing identifies this feedback")]
    if created is None:
        out.append(Warning_(f"unreadable date {date_text!r}; feedback {fid} imported without a date" if date_text
                            else f"feedback {fid} has no date", path=where))
    comment = unescape(row.get("comment"))
    counterparty = (row.get("from_user") if direction == "received" else row.get("to_user")) or row.get("from_user") or row.get("to_user")
    counterparty = (counterparty or "").strip() or None
    item_id = (row.get("item_id") or "").strip() or None
    extra: dict[str, Any] = {}
    score = _int(row.get("score"))
    if score is not None:
        extra["counterparty_score"] = score
    for key in ("transaction_id", "order_line_item_id"):
        value = (row.get(key) or "").strip()
        if value:
            extra[key] = value
    source_id = fid or content_key(direction, iso(created), counterparty, item_id, normalize_comment(comment))
    out.append(RatingItem(
        direction=direction,  # type: ignore[arg-type]
        polarity=kind,  # type: ignore[arg-type]
        source_id=source_id,
        created_at=created,
        role=_role(row.get("role")),  # type: ignore[arg-type]
        stars=None,
        comment=comment,
        counterparty=counterparty,
        item_title=unescape(row.get("item_title")),
        item_id=item_id,
        price=_price(row.get("item_price"), row.get("currency")),
        feedback_id=fid,
        reply=unescape(row.get("reply")),
        member=member,
        match_key=_mk(direction, item_id, comment),
        extra=extra,
        raw=raw,
    ))
    return out


def _s(value: Any) -> str:
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(el: ET.Element, name: str) -> str | None:
    for c in el:
        if _local(c.tag) == name:
            return (c.text or "").strip() or None
    return None


def _decode_xml(data: bytes) -> str | None:
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _feedback_entries(doc: Any, depth: int = 0) -> list[dict]:
    """The list of REST FeedbackDetail objects (``feedbackEntries``, or any list holding feedbackId)."""
    if depth > 4:
        return []
    if isinstance(doc, dict):
        if "feedbackId" in doc:
            return [doc]
        preferred = doc.get("feedbackEntries")
        if isinstance(preferred, list):
            return [e for e in preferred if isinstance(e, dict)]
        for value in doc.values():
            found = _feedback_entries(value, depth + 1)
            if found:
                return found
    elif isinstance(doc, list):
        entries = [e for e in doc if isinstance(e, dict) and "feedbackId" in e]
        if entries:
            return entries
    return []


def _name_kind(path: str) -> str:
    """"csv" (a data-request file, by name), "html", "data" (XML/JSON, sniffed) or "skip"."""
    base = posixpath.basename(path)
    lower = base.lower()
    if base.startswith(".") or path.startswith("__MACOSX/") or "/__MACOSX/" in path:
        return "skip"
    if lower in CSV_FILES:
        return "csv"
    ext = posixpath.splitext(lower)[1]
    if ext in (".html", ".htm", ".xhtml"):
        return "html"
    if ext in (".xml", ".json", ".txt", ""):
        return "data"
    return "skip"  # photos, other CSVs, a saved page's scripts and styles


def _head(entry) -> bytes | None:
    try:
        with entry.open() as fh:
            return fh.read(SNIFF_BYTES)
    except (ArchiveMemberError, OSError, ValueError):
        return None


def _read(entry, limit: int) -> bytes | None:
    try:
        return entry.read_bytes(limit)
    except (ArchiveMemberError, OSError, ValueError):
        return None


def _sniff(path: str, head: bytes) -> str | None:
    """"xml", "json" or "html" when the member's first bytes look like eBay feedback data."""
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    lower = path.lower()
    if text.startswith("<?xml") or text.startswith("<") and lower.endswith(".xml"):
        return "xml" if ("FeedbackDetail" in text or "GetFeedbackResponse" in text) else None
    if text.startswith(("{", "[")):
        return "json" if '"feedbackId"' in text else None
    if ebay_html.looks_like_html(text[:4096]):
        return "html"
    return None


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
