"""Filters, id lookup and one-line summaries for reading records."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..errors import NotFoundError, UsageError
from ..models import KINDS, VISIBILITIES

if TYPE_CHECKING:
    from ..store.catalog import Catalog


def parse_date(text: str, end: bool = False) -> str:
    """``YYYY-MM-DD`` or ISO 8601 to the catalog's ``...Z`` form; a bare date with ``end`` means
    the end of that day."""
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            moment = day + timedelta(days=1, seconds=-1) if end else day
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
    except ValueError:
        raise UsageError(f"not a date: {text!r}", hint="use YYYY-MM-DD or an ISO 8601 time") from None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_filters(*, kind=None, source=None, since=None, until=None, tag=None, visibility=None) -> dict:
    if kind and kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}", hint="kinds: " + ", ".join(KINDS))
    if visibility and visibility not in VISIBILITIES:
        raise UsageError(f"unknown visibility {visibility!r}", hint="one of: " + ", ".join(VISIBILITIES))
    return {
        "kind": kind,
        "source": source,
        "since": parse_date(since) if since else None,
        "until": parse_date(until, end=True) if until else None,
        "tag": tag,
        "visibility": visibility,
    }


class AmbiguousIdError(UsageError):
    """An id prefix that matches several records; ``candidates`` lists (some of) them."""

    def __init__(self, given: str, candidates: list[str], more: bool) -> None:
        shown = ", ".join(candidates) + (", ..." if more else "")
        super().__init__(f"id prefix {given!r} matches several records: {shown}", hint="give more characters of the id")
        self.candidates = candidates

    def to_json(self) -> dict:
        return {**super().to_json(), "candidates": self.candidates}


def resolve_id(catalog, given: str) -> str:
    """The full id of the one record whose id is ``given`` or starts with it; NotFoundError or
    AmbiguousIdError (listing the candidates, exit 2) otherwise."""
    if catalog.get_raw(given) is not None:
        return given
    matches = catalog.find_prefix(given) if len(given) >= 2 else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        # find_prefix returns a few matches, not all of them: say so when it may have stopped short.
        raise AmbiguousIdError(given, matches, more=len(matches) >= 3)
    raise NotFoundError(f"no record with id {given!r}", hint="find ids with `vault list` or `vault search`")


def _clip(text: str | None, n: int = 70) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def summary(rec: dict) -> str:
    when = (rec.get("created_at") or "")[:10] or "----------"
    kind = rec["kind"]
    if kind == "post":
        activity = (rec.get("extra") or {}).get("activity")   # e.g. Facebook's "Jana posted a video."
        body = _clip(rec.get("text") or rec.get("title") or activity or (rec.get("links") or [""])[0])
        if rec.get("media"):
            body += f" [{len(rec['media'])} media]"
    elif kind == "media":
        dims = f" {rec['width']}x{rec['height']}" if rec.get("width") else ""
        body = f"{rec.get('filename') or ''} ({rec.get('mime') or '?'}{dims})"
    else:
        stars = f"{rec['stars']}★ " if rec.get("stars") else ""
        body = f"{rec.get('direction')} {rec.get('polarity')} {stars}{_clip(rec.get('comment'), 50)} — {rec.get('counterparty') or ''}"
    vis = "" if rec.get("visibility") == "private" else f" ({rec.get('visibility')})"
    return f"{rec['id']}  {when}  {rec['source']:<9} {kind:<6} {body}{vis}"


def show_text(rec: dict) -> str:
    lines = []
    for key, value in rec.items():
        if key == "raw" or value in (None, [], {}, ""):
            continue
        if isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False)
        lines.append(f"{key:<18} {value}")
    return "\n".join(lines)


CROSS_POST_WINDOW = timedelta(minutes=10)


def _comparable_text(text: str | None) -> str:
    """NFC text with runs of whitespace collapsed to one space and the ends trimmed."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def cross_posts(catalog: "Catalog", rec: dict, window: timedelta = CROSS_POST_WINDOW) -> list[dict]:
    """Copies of post ``rec`` on other networks: ``[{"id", "source", "url", "created_at"}]``.

    A copy is a post from a different source whose text equals ``rec``'s after NFC and
    whitespace normalisation (X text is compared as stored, i.e. with t.co links already
    expanded by its importer), created at most ``window`` (10 minutes) before or after it.
    Posts stay separate records (nothing is merged); this only finds them.  Returns [] for a
    record that is not a post or has no text or time.  Oldest first.

    Uses the catalog's (kind, created_at) index: only posts inside the time window are read.
    """
    if rec.get("kind") != "post" or not rec.get("created_at"):
        return []
    text = _comparable_text(rec.get("text"))
    if not text:
        return []
    try:
        moment = datetime.fromisoformat(rec["created_at"].replace("Z", "+00:00"))
    except ValueError:
        return []
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    since = (moment - window).astimezone(timezone.utc).strftime(fmt)
    until = (moment + window).astimezone(timezone.utc).strftime(fmt)
    out = []
    for other in catalog.query(kind="post", since=since, until=until, oldest_first=True):
        if other["id"] == rec.get("id") or other.get("source") == rec.get("source"):
            continue
        if _comparable_text(other.get("text")) == text:
            out.append({"id": other["id"], "source": other["source"], "url": other.get("url"),
                        "created_at": other.get("created_at")})
    return out
