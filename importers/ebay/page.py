"""Saved (or freshly fetched) eBay feedback-profile pages: docs/formats/ebay.md, part 2.

Two markups exist and both are read:

* table markup (~2019-2024): ``table#feedback-cards > tbody > tr[data-feedback-id]`` with
  ``card__rating`` / ``card__comment`` / ``card__item`` / ``card__from`` / ``card__price`` /
  ``card__time`` cells;
* card markup (2024+): ``ul.fdbk-detail-list__cards > li.fdbk-container`` with
  ``fdbk-container__details__*`` parts and ``svg[data-test-type]``.

Elements are selected by those class names first and by their ``aria-label``s second, since eBay
changes class names more often than accessibility labels.  Parsing uses the standard library's
``html.parser`` and the small tree builder in ``dom``; it never executes or fetches anything, and text
is kept verbatim (``<script>`` in a comment stays the text ``<script>``).

Pages give only a relative time bucket ("Past month", ...).  Each rating gets an *honest*
approximate date: ``created_at`` is the latest moment the bucket allows, relative to when the page
was saved or captured, ``extra["date_range"]`` holds ``[earliest, latest]`` (earliest ``None`` for
"More than a year ago") and ``provenance["approximate_time"]`` names the bucket and the date it is
relative to.  Buckets are disjoint: a row says "Past 6 months" only when it is older than a month.

Contract: ``parse_page`` never raises on malformed or truncated markup; it reports what it found
(rows, whether the markup looks like a feedback page, truncation, a "next page" link) and the
caller decides what is an error.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vault.plugin_api import RatingItem, Skipped, utc

from .dates import (
    months_before,  # noqa: F401  (tests import it from here)
    row_time,
)
from .dom import Node, parse_html
from .saved import SaveInfo, save_info

# Markers of an eBay feedback page, searched in the raw text: any one is enough.
MARKERS = (
    "data-feedback-id", "feedback-cards", "card__feedback", "fdbk-container", "fdbk-detail-list",
    "/fdbk/feedback_profile/", "feedback score:",
)

MAX_PAGE_BYTES = 64 * 2**20


def decode_page(data: bytes) -> str:
    """Bytes of a page to text: BOM, then a declared charset, else UTF-8 (bad bytes replaced)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    head = data[:4096].decode("ascii", "replace")
    m = re.search(r"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", head, re.I)
    if m:
        try:
            return data.decode(m.group(1), "replace")
        except LookupError:
            pass
    return data.decode("utf-8", "replace")


def looks_like_html(text_head: str) -> bool:
    """True for text that starts like an HTML document (a saved page often starts with a comment)."""
    head = text_head.lstrip("\ufeff \t\r\n").lower()[:4096]
    return head.startswith("<") and ("<html" in head or head.startswith("<!doctype html"))


def has_markers(raw_lower: str) -> bool:
    return any(m in raw_lower for m in MARKERS)


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    """What one feedback row says, before it becomes a RatingItem."""

    index: int
    markup: str                       # "table" | "cards"
    complete: bool
    feedback_id: str | None = None
    polarity: str | None = None
    comment: str | None = None
    item_title: str | None = None
    item_id: str | None = None
    private_listing: bool = False
    counterparty: str | None = None
    counterparty_score: int | None = None
    direction: str = "received"
    role: str | None = None
    price: str | None = None
    price_shown: str | None = None
    time_text: str | None = None
    reply: str | None = None


@dataclass
class Page:
    rows: list[Row] = field(default_factory=list)
    markup: str | None = None
    markers: bool = False
    truncated: bool = False
    has_next: bool = False
    empty_profile: bool = False
    save: SaveInfo = field(default_factory=SaveInfo)


_POLARITY = re.compile(r"\b(positive|neutral|negative)\b", re.I)
_LEFT = re.compile(r"feedback left (by|for) (buyer|seller)", re.I)
_FROM = re.compile(r"^\s*-?\s*(?P<name>[^\s()]+)(?:\s*\(\s*(?P<score>-?[\d.,]+)\s*\))?")
_ITEM = re.compile(r"^(?P<title>.*?)\s*\(\s*#\s*(?P<id>\d+)\s*\)\s*$", re.S)

CURRENCY_PREFIXES = (
    ("US $", "USD"), ("C $", "CAD"), ("AU $", "AUD"), ("NZ $", "NZD"), ("HK $", "HKD"), ("S$", "SGD"),
    ("GBP", "GBP"), ("£", "GBP"), ("EUR", "EUR"), ("€", "EUR"), ("CHF", "CHF"), ("PLN", "PLN"),
    ("USD", "USD"), ("$", "USD"),
)


def price_from_shown(shown: str | None) -> str | None:
    """"US $1,025.00" -> "1025.00 USD"; text in an unknown form is kept as shown."""
    if not shown:
        return None
    text = " ".join(shown.split())
    for prefix, code in CURRENCY_PREFIXES:
        for candidate in (text, text.replace(" ", "")):
            p = prefix if candidate is text else prefix.replace(" ", "")
            if candidate.upper().startswith(p.upper()):
                amount = candidate[len(p):].strip().replace(",", "")
                if re.fullmatch(r"\d+(\.\d+)?", amount):
                    return f"{amount} {code}"
    m = re.fullmatch(r"([\d.,]+)\s*(EUR|€|GBP|£|CHF)", text)
    if m:
        code = {"€": "EUR", "£": "GBP"}.get(m.group(2), m.group(2))
        return f"{m.group(1).replace('.', '').replace(',', '.')} {code}"
    return text


def normalize_comment(text: str | None) -> str:
    """The comment as used in match keys: NFC, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def clean_text(text: str) -> str:
    """Page text to stored text: newlines from ``<br>`` kept, other layout whitespace trimmed."""
    lines = [" ".join(line.split()) for line in text.replace("\r", "").split("\n")]
    return "\n".join(lines).strip("\n ")


def _label_polarity(node: Node) -> str | None:
    for el in node.iter():
        t = el.attrs.get("data-test-type", "")
        if t.lower() in ("positive", "neutral", "negative"):
            return t.lower()
    for el in node.iter():
        label = el.attrs.get("aria-label", "") or el.attrs.get("title", "")
        m = _POLARITY.search(label)
        if m and ("rating" in label.lower() or "feedback" in label.lower() or label.lower().strip() == m.group(1).lower()):
            return m.group(1).lower()
    for el in node.iter():
        for cls in el.classes:
            m = _POLARITY.search(cls.replace("-", " ").replace("_", " "))
            if m and ("icon" in cls or "rating" in cls or "fdbk" in cls):
                return m.group(1).lower()
    return None


def _who(row: Row, text: str) -> None:
    m = _LEFT.search(text)
    if not m:
        return
    by_or_for, party = m.group(1).lower(), m.group(2).lower()
    if by_or_for == "by":
        # Left BY a buyer: the owner sold (and received the feedback).
        row.direction = "received"
        row.role = "seller" if party == "buyer" else "buyer"
    else:
        # Left FOR a seller: the owner bought (and left the feedback).
        row.direction = "left"
        row.role = "buyer" if party == "seller" else "seller"


def _set_from(row: Row, text: str) -> None:
    text = _LEFT.sub("", text).strip(" -.\n\t")
    m = _FROM.match(text)
    if m:
        row.counterparty = m.group("name")
        score = (m.group("score") or "").replace(",", "").replace(".", "")
        if score.lstrip("-").isdigit():
            row.counterparty_score = int(score)


def _set_item(row: Row, node: Node | None) -> None:
    if node is None:
        return
    text = " ".join(node.text().split())
    link = node.find("a")
    m = _ITEM.match(text)
    if m:
        row.item_title = m.group("title") or None
        row.item_id = m.group("id")
    elif link is not None:
        href_id = re.search(r"/itm/(?:[^/?#]*/)?(\d+)", link.attrs.get("href", ""))
        link_text = " ".join(link.text().split())
        row.item_id = link_text if link_text.isdigit() else (href_id.group(1) if href_id else None)
        title = text.replace(link_text, "").strip(" (#)") if row.item_id else text
        row.item_title = title or None
    elif text:
        if text.lower() in ("private listing", "private"):
            row.private_listing = True
        else:
            row.item_title = text


def _table_row(tr: Node, index: int) -> Row:
    row = Row(index=index, markup="table", complete=tr.complete(), feedback_id=tr.attrs.get("data-feedback-id") or None)
    rating = tr.find(cls="card__rating")
    row.polarity = _label_polarity(rating) if rating is not None else None
    if row.polarity is None:
        row.polarity = _label_polarity(tr)
    comment = tr.find(cls="card__comment")
    if comment is None:
        feedback = tr.find(cls="card__feedback")
        comment = feedback.find("span") if feedback is not None else None
    if comment is not None:
        row.comment = clean_text(comment.text()) or None
    _set_item(row, tr.find(cls="card__item"))
    who = tr.find(cls="card__from")
    labelled = next((n for n in tr.iter() if _LEFT.search(n.attrs.get("aria-label", ""))), None)
    if labelled is not None:
        _who(row, labelled.attrs["aria-label"])
    else:
        _who(row, tr.text())
    if who is not None:
        _set_from(row, who.text())
    elif labelled is not None:
        _set_from(row, labelled.text())
    price = tr.find(cls="card__price")
    if price is not None:
        row.price_shown = " ".join(price.text().split()) or None
        row.price = price_from_shown(row.price_shown)
    when = tr.find(cls="card__time")
    if when is not None:
        row.time_text = " ".join(when.text().split())
    reply = tr.find(cls="card__reply") or tr.find(cls="card__response")
    if reply is not None:
        row.reply = clean_text(reply.text()) or None
    return row


def _card_row(li: Node, index: int) -> Row:
    row = Row(index=index, markup="cards", complete=li.complete(), feedback_id=li.attrs.get("data-feedback-id") or None)
    icon = li.find(cls="fdbk-container__details__info__icon")
    row.polarity = _label_polarity(icon) if icon is not None else None
    if row.polarity is None:
        row.polarity = _label_polarity(li)
    comment = li.find(cls="fdbk-container__details__comment")
    if comment is not None:
        row.comment = clean_text(comment.text()) or None
    link = li.find(cls="fdbk-container__details__item-link")
    _set_item(row, link)
    _who(row, li.text())
    user = li.find(cls="fdbk-container__details__info__username")
    if user is not None:
        _set_from(row, user.text())
    when = li.find(cls="fdbk-container__details__info__divide__time")
    if when is not None:
        row.time_text = " ".join(when.text().split())
    price = next((n for n in li.iter() if any("price" in c for c in n.classes)), None)
    if price is not None:
        row.price_shown = " ".join(price.text().split()) or None
        row.price = price_from_shown(row.price_shown)
    reply = next((n for n in li.iter() if any(c.endswith(("__reply", "__response")) for c in n.classes)), None)
    if reply is not None:
        row.reply = clean_text(reply.text()) or None
    return row


def _has_next(root: Node) -> bool:
    for el in root.iter():
        if el.tag not in ("a", "button", "link"):
            continue
        rel = el.attrs.get("rel", "").lower().split()
        label = el.attrs.get("aria-label", "").lower()
        is_next = "next" in rel or any("pagination__next" in c for c in el.classes) or (
            "next" in label and "page" in label)
        if not is_next:
            continue
        if el.attrs.get("aria-disabled", "").lower() == "true" or "disabled" in el.attrs:
            continue
        if el.tag == "button" or el.attrs.get("href"):
            return True
    return False


def parse_page(text: str) -> Page:
    """Everything a feedback page says; never raises on bad markup."""
    doc = parse_html(text)
    page = Page(markers=has_markers(doc.raw_lower), save=save_info(doc))
    root = doc.root
    table_rows = [n for n in root.iter() if n.tag == "tr" and "data-feedback-id" in n.attrs]
    cards = root.find_all("li", cls="fdbk-container")
    if table_rows:
        page.markup = "table"
        page.rows = [_table_row(tr, i) for i, tr in enumerate(table_rows, 1)]
        container = next((t for t in root.find_all("table") if t.attrs.get("id") == "feedback-cards"), None) or table_rows[0].parent
    elif cards:
        page.markup = "cards"
        page.rows = [_card_row(li, i) for i, li in enumerate(cards, 1)]
        container = root.find("ul", cls="fdbk-detail-list__cards") or cards[0].parent
    else:
        container = None
    page.truncated = bool(page.rows) and (any(not r.complete for r in page.rows) or (container is not None and not container.closed))
    page.has_next = _has_next(root)
    score = next((n for n in root.iter() if re.match(r"\s*feedback score:\s*0\s*$", n.attrs.get("aria-label", ""), re.I)), None)
    page.empty_profile = not page.rows and score is not None
    return page


# ---------------------------------------------------------------------------------------------
# Rows to ratings
# ---------------------------------------------------------------------------------------------


def match_key(direction: str, item_id: str | None, comment: str | None) -> str | None:
    """The second identity shared by a CSV row, a table row and a card of the same feedback.

    Formed as ``direction|item_id|normalized comment``; the direction keeps a feedback received
    and one left on the same item with the same words ("A+++") apart.  None without an item id:
    a comment alone ("Great buyer!") is far too common to identify anything.
    """
    if not item_id:
        return None
    return f"{direction}|{item_id}|{normalize_comment(comment)}"


def card_source_id(row: Row) -> str:
    """A stable id for a row that carries no feedback id (cards): its item and words."""
    comment = normalize_comment(row.comment)
    if row.item_id:
        basis = f"{row.item_id}\n{comment}"
    else:
        # A private listing: no item id, so the (masked) rater's name narrows it down.
        basis = f"\n{comment}\n{row.counterparty or ''}"
    if row.direction == "left":
        basis = "left\n" + basis
    return "card:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()


def row_rating(row: Row, *, label: str, saved_at: datetime, provenance: dict[str, Any], member: str | None,
               time_source: str | None) -> RatingItem | Skipped:
    """One row as a RatingItem (or a Skipped naming the page and row when it lacks a rating)."""
    if row.polarity is None:
        return Skipped(f"{label}:row {row.index}", "no positive/neutral/negative rating found in the row (eBay may have changed the page markup)")
    when = row_time(row.time_text or "", utc(saved_at))
    prov = dict(provenance)
    if when.approximate:
        prov["approximate_time"] = when.approximate
    if time_source:
        prov["capture_time_source"] = time_source
    extra: dict[str, Any] = {"markup": row.markup}
    if when.date_range:
        extra["date_range"] = when.date_range
    if row.time_text:
        extra["time_shown"] = row.time_text
    if row.counterparty_score is not None:
        extra["counterparty_score"] = row.counterparty_score
    if row.private_listing:
        extra["private_listing"] = True
    if row.price_shown and row.price_shown != row.price:
        extra["price_shown"] = row.price_shown
    source_id = row.feedback_id or card_source_id(row)
    return RatingItem(
        direction=row.direction,  # type: ignore[arg-type]
        polarity=row.polarity,  # type: ignore[arg-type]
        source_id=source_id,
        created_at=when.created_at,
        role=row.role,  # type: ignore[arg-type]
        stars=None,
        comment=row.comment,
        counterparty=row.counterparty,
        item_title=row.item_title,
        item_id=row.item_id,
        price=row.price,
        feedback_id=row.feedback_id,
        reply=row.reply,
        member=member,
        match_key=match_key(row.direction, row.item_id, row.comment),
        provenance=prov,
        extra=extra,
    )
