"""Merging the dates of one rating seen several times (an exact CSV date, approximate "Past
month" buckets from pages captured on different days)."""

from __future__ import annotations


def date_range(rec: dict) -> list | None:
    rng = (rec.get("extra") or {}).get("date_range")
    return list(rng) if isinstance(rng, (list, tuple)) and len(rng) == 2 else None


def keep_best_date(stored: dict, rec: dict) -> None:
    """An exact date is never replaced by an approximate one; two approximate captures of the
    same feedback narrow its range instead of moving it forward with every re-capture."""
    old_rng, new_rng = date_range(stored), date_range(rec)
    if new_rng is None:
        return
    if old_rng is None and stored.get("created_at"):
        rec["created_at"] = stored["created_at"]
        rec["extra"].pop("date_range", None)
        rec["provenance"].pop("approximate_time", None)
        return
    if old_rng is not None:
        lows = [x for x in (old_rng[0], new_rng[0]) if x]
        highs = [x for x in (old_rng[1], new_rng[1]) if x]
        rec["extra"]["date_range"] = [max(lows) if lows else None, min(highs) if highs else None]
        if stored.get("created_at") and (not rec.get("created_at") or stored["created_at"] < rec["created_at"]):
            rec["created_at"] = stored["created_at"]
        if stored.get("provenance", {}).get("approximate_time"):
            rec["provenance"]["approximate_time"] = stored["provenance"]["approximate_time"]
