"""Reputation summary: what `vault reputation` shows and the publish step signs.

``summarize(catalog, now=None)`` reads every rating (``catalog.query(kind="rating")``) and returns
one JSON-ready dict.  It never prints.  Its shape is a contract (the publish step and scripts read
it); extend it, never change it:

```
{
  "generated_at": "2024-06-01T00:00:00Z",           # `now`
  "window": {"months": 12, "since": ISO, "until": ISO},  # "last 12 months" = since < created_at <= until
  "overall": SCOPE,                                  # every marketplace together
  "marketplaces": {"ebay": SCOPE, "etsy": SCOPE, ...}  # one per record source, sorted by name
}

SCOPE = {
  "ratings": n,                                      # ratings counted, both directions
  "received": COUNTS,                                # feedback the owner received, all time
  "left": COUNTS,                                    # feedback the owner left, all time
  "percent_positive": {                              # eBay-style: positive / (positive + negative),
      "all_time": 98.7 | null,                       # over received ratings, in percent, 1 decimal;
      "last_12_months": 100.0 | null},               # null when there is no positive or negative one
  "last_12_months": {"received": COUNTS, "left": COUNTS, "approximate_dates": n},
  "stars": null | {                                  # received ratings that carry stars (Etsy)
      "histogram": {"1": n, "2": n, "3": n, "4": n, "5": n},
      "count": n, "mean": 4.67},                     # mean to 2 decimals
  "date_range": {"oldest": ISO | null, "newest": ISO | null},
  "undated": n,                                      # ratings without a date (not in any window)
  "approximate_dates": n,                            # dates derived from a page's time bucket
  "provenance": {
      "exports":  [{"export": name, "sha256": hex | null, "members": [path, ...],
                    "importer": name, "importer_version": v, "captured_at": ISO, "ratings": n}],
      "captures": [{"url": url | null, "sha256": hex, "object": id | null, "captured_at": ISO,
                    "time_source": str | null, "export": name | null, "member": path | null,
                    "importer": name, "ratings": n}]}
}

COUNTS = {"positive": n, "neutral": n, "negative": n, "total": n}
```

Provenance lists every export and raw capture (a fetched page, or a saved page file) that supplied
a counted rating: every place the rating's provenance names, that is where it was first seen, where
it was last seen (``last_seen``) and every place in between (``earlier_seen``, written when one
rating is merged from several exports or pages).  ``ratings`` says how many counted ratings each
one supplied; a rating counts once per place, however often it names it.  Captures are named by the
SHA-256 of the raw page bytes, which are kept in the vault as ``object``.

Approximate dates: feedback pages show only buckets ("Past 6 months"); such ratings are dated at the
latest moment their bucket allows (so a window never loses one that belongs to it, and may count
one that is slightly older), and ``approximate_dates`` says how many figures rest on them.
"""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Iterable

from ..models import iso, parse_iso, utc

WINDOW_MONTHS = 12
POLARITIES = ("positive", "neutral", "negative")


def months_before(dt: datetime, n: int) -> datetime:
    """``dt`` minus ``n`` calendar months (the day clamped to the target month's length)."""
    index = dt.year * 12 + (dt.month - 1) - n
    year, month0 = divmod(index, 12)
    return dt.replace(year=year, month=month0 + 1, day=min(dt.day, calendar.monthrange(year, month0 + 1)[1]))


def percent_positive(positive: int, negative: int) -> float | None:
    if positive + negative == 0:
        return None
    return round(100.0 * positive / (positive + negative), 1)


def is_approximate(rec: dict) -> bool:
    """True when the record's current date came from a time bucket, not an exact time.

    The fields of a record come from its latest write, whose provenance is ``last_seen`` when a
    later import changed it, so that provenance decides.
    """
    if (rec.get("extra") or {}).get("date_range"):
        return True
    prov = rec.get("provenance") or {}
    latest = prov.get("last_seen")
    latest = latest if isinstance(latest, dict) else prov
    return bool(latest.get("approximate_time"))


def summarize(catalog: Any, now: datetime | None = None) -> dict[str, Any]:
    """The reputation summary of every rating in ``catalog`` (see the module docstring).

    ``catalog`` needs only ``query(kind="rating")`` returning record dicts.  ``now`` fixes the
    "last 12 months" window (default: the current time).
    """
    until = utc(now) if now is not None else datetime.now(timezone.utc)
    since = months_before(until, WINDOW_MONTHS)
    ratings = list(catalog.query(kind="rating"))
    by_source: dict[str, list[dict]] = {}
    for rec in ratings:
        by_source.setdefault(rec.get("source") or "unknown", []).append(rec)
    return {
        "generated_at": iso(until),
        "window": {"months": WINDOW_MONTHS, "since": iso(since), "until": iso(until)},
        "overall": _scope(ratings, since, until),
        "marketplaces": {source: _scope(recs, since, until) for source, recs in sorted(by_source.items())},
    }


def _counts(counter: Counter) -> dict[str, int]:
    out = {p: counter.get(p, 0) for p in POLARITIES}
    out["total"] = sum(out.values())
    return out


def _scope(ratings: Iterable[dict], since: datetime, until: datetime) -> dict[str, Any]:
    all_time: dict[str, Counter] = {"received": Counter(), "left": Counter()}
    window: dict[str, Counter] = {"received": Counter(), "left": Counter()}
    stars: Counter = Counter()
    dates: list[datetime] = []
    total = undated = approximate = approximate_window = 0
    evidence = _Evidence()
    for rec in ratings:
        total += 1
        direction = rec.get("direction")
        polarity = rec.get("polarity")
        created = parse_iso(rec.get("created_at"))
        approx = is_approximate(rec)
        approximate += approx
        if created is None:
            undated += 1
        else:
            dates.append(created)
        if direction in all_time and polarity in POLARITIES:
            all_time[direction][polarity] += 1
            if created is not None and since < created <= until:
                window[direction][polarity] += 1
                approximate_window += approx
        value = rec.get("stars")
        if direction == "received" and isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
            stars[value] += 1
        evidence.add(rec)
    star_count = sum(stars.values())
    return {
        "ratings": total,
        "received": _counts(all_time["received"]),
        "left": _counts(all_time["left"]),
        "percent_positive": {
            "all_time": percent_positive(all_time["received"]["positive"], all_time["received"]["negative"]),
            "last_12_months": percent_positive(window["received"]["positive"], window["received"]["negative"]),
        },
        "last_12_months": {
            "received": _counts(window["received"]),
            "left": _counts(window["left"]),
            "approximate_dates": approximate_window,
        },
        "stars": None if not star_count else {
            "histogram": {str(s): stars.get(s, 0) for s in range(1, 6)},
            "count": star_count,
            "mean": round(sum(s * n for s, n in stars.items()) / star_count, 2),
        },
        "date_range": {"oldest": iso(min(dates)) if dates else None, "newest": iso(max(dates)) if dates else None},
        "undated": undated,
        "approximate_dates": approximate,
        "provenance": evidence.to_json(),
    }


class _Evidence:
    """Exports and captures that supplied ratings, with how many each supplied."""

    def __init__(self) -> None:
        self.exports: dict[tuple, dict] = {}
        self.captures: dict[tuple, dict] = {}

    def add(self, rec: dict) -> None:
        prov = rec.get("provenance") or {}
        seen = [prov]
        if isinstance(prov.get("last_seen"), dict):
            seen.append(prov["last_seen"])
        earlier = prov.get("earlier_seen")
        seen += [p for p in earlier if isinstance(p, dict)] if isinstance(earlier, list) else []
        keys: set[tuple] = set()
        for p in seen:
            if p.get("capture_sha256"):
                key: tuple[Any, ...] = ("capture", p.get("capture_sha256"))
                entry = self.captures.setdefault(key, {
                    "url": p.get("url"), "sha256": p.get("capture_sha256"), "object": p.get("capture_object"),
                    "captured_at": p.get("captured_at"), "time_source": p.get("capture_time_source"),
                    "export": p.get("export") if p.get("export") != p.get("url") else None,
                    "member": p.get("member"), "importer": p.get("importer"), "ratings": 0,
                })
                entry["object"] = entry["object"] or p.get("capture_object")
            else:
                key = ("export", p.get("export"), p.get("export_sha256"))
                entry = self.exports.setdefault(key, {
                    "export": p.get("export"), "sha256": p.get("export_sha256"), "members": [],
                    "importer": p.get("importer"), "importer_version": p.get("importer_version"),
                    "captured_at": p.get("captured_at"), "ratings": 0,
                })
                if p.get("member") and p["member"] not in entry["members"]:
                    entry["members"].append(p["member"])
                if p.get("captured_at") and (not entry["captured_at"] or p["captured_at"] < entry["captured_at"]):
                    entry["captured_at"] = p["captured_at"]
            if key not in keys:
                keys.add(key)
                entry["ratings"] += 1

    def to_json(self) -> dict[str, list[dict]]:
        def order(e: dict) -> tuple:
            return (e.get("captured_at") or "", e.get("url") or e.get("export") or "", e.get("sha256") or "")

        exports = sorted(self.exports.values(), key=order)
        for e in exports:
            e["members"] = sorted(e["members"])
        return {"exports": exports, "captures": sorted(self.captures.values(), key=order)}
