"""One eBay feedback, in the data request's CSV field names, as items: the rating, identity, text
and date rules shared by the CSV, XML and JSON readers."""

from __future__ import annotations

import hashlib
import html
from datetime import datetime
from typing import Any

from vault.plugin_api import Item, RatingItem, Skipped, Warning_, iso, parse_iso

from . import page as ebay_html
from .page import normalize_comment

POLARITIES = {"positive", "neutral", "negative"}
WITHDRAWN = {"withdrawn", "independentlywithdrawn", "independently withdrawn"}


def unescape(text: str | None) -> str | None:
    """eBay text is HTML-entity-escaped: decode exactly once; empty text is no text."""
    if text is None:
        return None
    out = html.unescape(text).replace("\r\n", "\n").replace("\r", "\n")
    return out if out.strip() else None


def content_key(*parts: str | None) -> str:
    return "content:" + hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()


def parse_role(text: str | None) -> str | None:
    """"seller" or "buyer" from eBay's role text (any case), else None."""
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


def feedback_row_items(row: dict[str, str], raw: Any, direction: str, where: str, member: str) -> list[Item]:
    """One feedback (CSV row, XML or JSON entry, in CSV field names) as items: a RatingItem
    (preceded by a Warning_ when its date is unreadable), or one Warning_ (withdrawn feedback) or
    Skipped (no rating, or neither a date nor an id).  ``raw`` is kept as the item's source
    fragment, ``where`` names it in problems, ``member`` is the export member it came from."""
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
        role=parse_role(row.get("role")),  # type: ignore[arg-type]
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
