"""Saved official API responses: Trading API ``GetFeedback`` XML and the REST Feedback API's JSON."""

from __future__ import annotations

import json
import posixpath
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any, Iterator

from vault.plugin_api import Item, RatingItem, Skipped

from .members import read_member
from .record import feedback_row_items, parse_role

if TYPE_CHECKING:
    from .state import ReadState

MAX_FILE_BYTES = 256 * 2**20


def direction_from_name(path: str) -> str:
    base = posixpath.basename(path).lower()
    return "left" if ("left" in base or "sent" in base) else "received"


def read_xml(entry, state: "ReadState") -> Iterator[Item]:
    """Items of a saved Trading API ``GetFeedback`` response."""
    label = entry.rel
    data = read_member(entry, MAX_FILE_BYTES)
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
        for item in feedback_row_items(row, fields, direction, f"{label}:FeedbackDetail {i}", entry.rel):
            if isinstance(item, RatingItem):
                state.ratings += 1
                if fields.get("CommentReplaced", "").strip().lower() == "true":
                    item.extra["comment_replaced"] = True
            yield item


def read_json(entry, state: "ReadState") -> Iterator[Item]:
    """Items of a saved REST Feedback API response."""
    label = entry.rel
    data = read_member(entry, MAX_FILE_BYTES)
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
        summary = fb.get("orderLineItemSummary")
        summary = summary if isinstance(summary, dict) else {}
        price = summary.get("listingPrice")
        price = price if isinstance(price, dict) else {}
        provider = fb.get("providerUserDetail")
        provider = provider if isinstance(provider, dict) else {}
        provider_role = parse_role(provider.get("role"))
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
        for item in feedback_row_items(row, fb, direction, f"{label}:feedback {i}", entry.rel):
            if isinstance(item, RatingItem):
                state.ratings += 1
                if fb.get("automatedFeedback") is True:
                    item.extra["automated"] = True
            yield item


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
