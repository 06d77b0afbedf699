"""Merging one rating seen in several captures (a data-request CSV row, a saved page's table row
or card, a live capture) into one record without losing what the richer capture knew.

Rules (MUST hold in every import order):

* a known value is never replaced by an unknown one (None, empty text) nor by a masked name
  (``n***0``) that is consistent with the known full name (same first and last character);
* when the incoming copy is poorer (an approximate date where an exact one is stored, or no
  feedback id where one is stored), every known stored value wins except a revised rating or
  comment, and the page's capture notes (markup, the bucket text, the date range) are not added;
  otherwise the newer known value wins;
* the same words with other spacing keep the stored spelling;
* dates follow ``vault.ratings.dates.keep_best_date``;
* provenance keeps every source: the first one stays at the top, the latest is ``last_seen`` and
  earlier later ones move to ``earlier_seen`` (one entry per export file or URL).

A copy without item id (an eBay "Private listing" card) is matched to a stored rating by
``loose_key`` (direction, polarity, comment, the name's first and last character) and
``same_feedback``.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from ..models import parse_iso
from .dates import date_range, keep_best_date

# Fields of a rating record that a merge fills (the id, kind and source never change).
FIELDS = ("created_at", "direction", "role", "polarity", "stars", "comment", "counterparty",
          "item_title", "item_id", "price", "feedback_id", "reply", "source_id", "raw")
# What a later page may legitimately show changed (eBay lets a rater revise a rating).
REVISABLE = frozenset({"polarity", "comment", "reply"})
# Extra keys that only describe how a page showed the rating, not the rating itself.
CAPTURE_NOTES = frozenset({"markup", "time_shown", "date_range", "price_shown", "private_listing"})
# A bucket is relative to a save time known to the second at best; allow for zones and clocks.
DATE_SLACK = timedelta(days=1)


def unknown(value: Any) -> bool:
    """None, blank text or an empty list/dict: nothing a merge may keep over a known value."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, (list, dict)) and not value)


def is_masked(name: Any) -> TypeGuard[str]:
    """eBay shows other members' names as ``first***last`` (``n***0``)."""
    return isinstance(name, str) and "***" in name


def mask_fits(masked: str, full: Any) -> bool:
    """True when ``masked`` could be how eBay shows ``full`` (same first and last character)."""
    masked, full = masked.strip(), full.strip()
    if not masked or not full:
        return False
    if is_masked(full):
        return masked.lower() == full.lower()
    head, _, tail = masked.partition("***")
    tail = tail.lstrip("*")
    return full.lower().startswith(head.lower()) and full.lower().endswith(tail.lower()) and len(full) >= len(head) + len(tail)


def names_agree(a: Any, b: Any) -> bool:
    if unknown(a) or unknown(b):
        return True
    if a == b:
        return True
    if is_masked(a) and mask_fits(a, b):
        return True
    return is_masked(b) and mask_fits(b, a)


def poorer(stored: dict, rec: dict) -> bool:
    """True when ``rec`` is a lossier copy of ``stored`` (a page row of a CSV/API record)."""
    if stored.get("feedback_id") and not rec.get("feedback_id"):
        return True
    return date_range(rec) is not None and date_range(stored) is None and bool(stored.get("created_at"))


def merge_rating(stored: dict, rec: dict) -> None:
    """Turn ``rec`` (the incoming copy) into the merge of ``stored`` and ``rec``, in place."""
    lossy = poorer(stored, rec)
    # The stored copy came from a page and this one from the CSV/API: the page's notes go, so
    # both import orders end with the same record.
    superseded = poorer(rec, stored)
    keep_best_date(stored, rec)
    for key in FIELDS:
        if key != "created_at":
            _merge_field(key, stored, rec, lossy=lossy, superseded=superseded)
    merged = _merged_extra(stored.get("extra") or {}, dict(rec.get("extra") or {}), lossy=lossy, superseded=superseded)
    if merged:
        rec["extra"] = merged
    else:
        rec.pop("extra", None)


def _merge_field(key: str, stored: dict, rec: dict, *, lossy: bool, superseded: bool) -> None:
    """Set ``rec[key]`` to the value the merge keeps (see the module's rules)."""
    old, new = stored.get(key), rec.get(key)
    if unknown(old):
        return
    if unknown(new):
        rec[key] = old
    elif key in ("comment", "reply") and normalized(new) == normalized(old):
        if not superseded:
            rec[key] = old  # the same words; a page collapses the spacing the CSV kept
    elif lossy and key not in REVISABLE:
        rec[key] = old
    elif key == "counterparty" and is_masked(new) and not is_masked(old) and mask_fits(new, old):
        rec[key] = old


def _merged_extra(old_extra: dict, new_extra: dict, *, lossy: bool, superseded: bool) -> dict[str, Any]:
    """The merge of the stored and incoming ``extra`` (``date_range`` as ``keep_best_date`` left it)."""
    merged: dict[str, Any] = {}
    for key in set(old_extra) | set(new_extra):
        old, new = old_extra.get(key), new_extra.get(key)
        if key == "date_range":
            if key in new_extra:  # keep_best_date decided
                merged[key] = new
            continue
        if lossy and key in CAPTURE_NOTES and key not in old_extra:
            continue
        if superseded and key in CAPTURE_NOTES and key not in new_extra:
            continue
        if unknown(new) or (lossy and not unknown(old)):
            if not unknown(old):
                merged[key] = old
            elif key in new_extra:
                merged[key] = new
        else:
            merged[key] = new
    return merged


def _where(prov: dict) -> tuple:
    return (prov.get("importer"), prov.get("url") or prov.get("export"), prov.get("member"))


def merge_provenance(old: dict, new: dict) -> tuple[dict, bool]:
    """(the merged provenance, whether ``new`` is a source not yet named in ``old``)."""
    top = {k: v for k, v in old.items() if k not in ("last_seen", "earlier_seen")}
    last = old.get("last_seen") if isinstance(old.get("last_seen"), dict) else None
    earlier = [p for p in old.get("earlier_seen") or [] if isinstance(p, dict)]
    known = {_where(top)} | {_where(p) for p in earlier} | ({_where(last)} if last else set())
    fresh = _where(new) not in known
    if last is not None and _where(last) != _where(new) and _where(last) != _where(top) \
            and all(_where(p) != _where(last) for p in earlier):
        earlier.append(last)
    out = dict(top)
    out["last_seen"] = new
    if earlier:
        out["earlier_seen"] = earlier
    return out, fresh


def normalized(text: Any) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def loose_key(rec: dict) -> str | None:
    """What a copy without item id shares with every other copy of the same feedback: direction,
    rating, words, and the first and last character of the other party's name (all a masked
    name ``n***0`` shows), so a common comment ("A+++") does not gather thousands of ratings."""
    comment = normalized(rec.get("comment"))
    name = (rec.get("counterparty") or "").strip().lower()
    if not comment or not name or not rec.get("direction") or not rec.get("polarity"):
        return None
    return f"{rec['direction']}|{rec['polarity']}|{name[0]}{name[-1]}|{comment}"


def _span(rec: dict) -> tuple[datetime | None, datetime | None]:
    """(earliest, latest) moment the rating can have been left."""
    rng = date_range(rec)
    if rng is not None:
        return parse_iso(rng[0]), parse_iso(rng[1])
    exact = parse_iso(rec.get("created_at"))
    return exact, exact


def same_feedback(a: dict, b: dict) -> bool:
    """True when two rating records with the same ``loose_key`` are copies of one feedback: ids
    that do not disagree, names that do not disagree (masked or not), and dates that can meet
    (an exact date inside a page's bucket).  Two exact dates must be equal."""
    if loose_key(a) != loose_key(b) or a.get("source") != b.get("source"):
        return False
    for key in ("feedback_id", "item_id"):
        if not unknown(a.get(key)) and not unknown(b.get(key)) and a[key] != b[key]:
            return False
    if a.get("feedback_id") and b.get("feedback_id"):
        return a["feedback_id"] == b["feedback_id"]
    if not names_agree(a.get("counterparty"), b.get("counterparty")):
        return False
    if a.get("role") and b.get("role") and a["role"] != b["role"]:
        return False
    a_low, a_high = _span(a)
    b_low, b_high = _span(b)
    if a_high is None and a_low is None or b_high is None and b_low is None:
        return False  # nothing dates one of them: a common comment alone proves nothing
    if date_range(a) is None and date_range(b) is None:
        return a_low == b_low
    if a_low is not None and b_high is not None and a_low > b_high + DATE_SLACK:
        return False
    if b_low is not None and a_high is not None and b_low > a_high + DATE_SLACK:
        return False
    return True
