"""Relative time buckets on eBay feedback pages ("Past month", ...) as honest date ranges."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timezone

from vault.plugin_api import iso, parse_iso

BUCKETS = {
    # text (lowercase) -> (months before the save time: earliest bound, latest bound)
    "past month": (1, 0),
    "past 6 months": (6, 1),
    "past year": (12, 6),
    "more than a year ago": (None, 12),
}


def months_before(dt: datetime, n: int) -> datetime:
    """``dt`` minus ``n`` calendar months (the day clamped to the target month's length)."""
    index = dt.year * 12 + (dt.month - 1) - n
    year, month0 = divmod(index, 12)
    day = min(dt.day, calendar.monthrange(year, month0 + 1)[1])
    return dt.replace(year=year, month=month0 + 1, day=day)


_ROW_DATE_FORMATS = ("%b-%d-%y %H:%M", "%b-%d-%y", "%d %b %Y", "%b %d, %Y", "%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y")


@dataclass
class RowTime:
    created_at: datetime
    approximate: str | None = None          # provenance["approximate_time"]
    date_range: list[str | None] | None = None


def row_time(text: str, saved_at: datetime) -> RowTime:
    """The honest date for a row's time text, relative to ``saved_at``.

    A known bucket gives the latest moment the bucket allows; an exact date (old markups) is
    taken as it is; anything else is only known to be at or before the save time.
    """
    shown = " ".join(text.split())
    key = shown.lower().rstrip(".")
    on = saved_at.strftime("%Y-%m-%d")
    if key in BUCKETS:
        early_m, late_m = BUCKETS[key]
        latest = months_before(saved_at, late_m)
        earliest = months_before(saved_at, early_m) if early_m is not None else None
        return RowTime(latest, f"{shown} (relative to {on})", [iso(earliest), iso(latest)])
    for fmt in _ROW_DATE_FORMATS:
        try:
            return RowTime(datetime.strptime(shown, fmt).replace(tzinfo=timezone.utc))
        except ValueError:
            continue
    exact = parse_iso(shown) if shown else None
    if exact:
        return RowTime(exact)
    label = shown or "no time shown"
    return RowTime(saved_at, f"{label} (not a known time bucket; at or before {on})", [None, iso(saved_at)])
