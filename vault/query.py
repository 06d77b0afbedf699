"""Filters, id lookup and one-line summaries for reading records."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from .errors import NotFoundError, UsageError
from .models import KINDS, VISIBILITIES


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


def resolve_id(catalog, given: str) -> str:
    if catalog.get_raw(given) is not None:
        return given
    matches = catalog.find_prefix(given) if len(given) >= 4 else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UsageError(f"id prefix {given!r} is ambiguous", hint="give more characters")
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
        body = _clip(rec.get("text") or rec.get("title") or (rec.get("links") or [""])[0])
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
