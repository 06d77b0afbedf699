"""The URL and save time a browser or save tool recorded in a saved eBay feedback page."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from vault.plugin_api import parse_iso

from .dom import Document

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_JS_DATE = re.compile(
    r"(?:[A-Za-z]{3},?\s+)?([A-Za-z]{3})\s+(\d{1,2}),?\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"\s*(?:GMT|UTC)?\s*([+-]\d{2}:?\d{2})?"
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")


def parse_loose_date(text: str) -> datetime | None:
    """An ISO 8601 time or a JavaScript ``Date.toString()`` ("Tue Mar 05 2024 14:22:10 GMT+0100")."""
    m = _ISO_DATE.search(text)
    if m:
        value = m.group(0).replace(" ", "T")
        if re.search(r"[+-]\d{4}$", value):
            value = value[:-2] + ":" + value[-2:]
        found = parse_iso(value)
        if found:
            return found
    m = _JS_DATE.search(text)
    if m:
        mon = _MONTHS.get(m.group(1).lower())
        if mon:
            try:
                dt = datetime(int(m.group(3)), mon, int(m.group(2)), int(m.group(4)), int(m.group(5)), int(m.group(6) or 0))
            except ValueError:
                return None
            offset = m.group(7)
            if offset:
                sign = 1 if offset[0] == "+" else -1
                digits = offset[1:].replace(":", "")
                dt -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            return dt.replace(tzinfo=timezone.utc)
    return None


@dataclass
class SaveInfo:
    url: str | None = None
    saved_at: datetime | None = None
    source: str | None = None   # how saved_at was found, for provenance


def save_info(doc: Document) -> SaveInfo:
    """The URL and save time a browser or save tool recorded in the page, when it did."""
    info = SaveInfo()
    for comment in doc.comments:
        m = re.search(r"saved from url=\(\d+\)(\S+)", comment)
        if m and not info.url:
            info.url = m.group(1)
            when = parse_loose_date(comment[m.end():])
            if when and not info.saved_at:
                info.saved_at, info.source = when, "date in the page's 'saved from' comment"
        if "saved with singlefile" in comment.lower() or "saved date:" in comment.lower():
            m = re.search(r"^\s*url:\s*(\S+)", comment, re.M)
            if m and not info.url:
                info.url = m.group(1)
            m = re.search(r"saved date:\s*(.+)", comment)
            if m and not info.saved_at:
                when = parse_loose_date(m.group(1))
                if when:
                    info.saved_at, info.source = when, "SingleFile 'saved date' comment"
    for meta in doc.metas:
        name = (meta.get("name") or meta.get("property") or "").lower()
        if name == "savepage-url" and not info.url:
            info.url = meta.get("content") or None
        elif name == "savepage-date" and not info.saved_at:
            when = parse_loose_date(meta.get("content") or "")
            if when:
                info.saved_at, info.source = when, "meta savepage-date"
    if not info.url:
        canonical = next((n for n in doc.root.find_all("link") if "canonical" in n.attrs.get("rel", "").lower().split()), None)
        if canonical is not None and "/fdbk/" in canonical.attrs.get("href", ""):
            info.url = canonical.attrs["href"]
    return info
