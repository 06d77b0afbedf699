"""The values inside an X archive's tweets: ids, times, t.co links, HTML references, media names.

Each helper takes what the archive gives (any JSON value) and returns a clean value or None.
"""

from __future__ import annotations

import html
import posixpath
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from importers.common.shapes import as_list, dig

_TCO = re.compile(r"https?://t\.co/[A-Za-z0-9]+")
# Only references with a closing ";" are decoded: X escapes just &, < and >, so a bare "&copy"
# can only be text the user typed and must stay as it is.
_ENTITY = re.compile(r"&(#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_X_TIME = re.compile(r"^[A-Z][a-z]{2} ([A-Z][a-z]{2}) (\d{1,2}) (\d{2}):(\d{2}):(\d{2}) \+0000 (\d{4})$")
_TWITTER_EPOCH_MS = 1288834974657
# Ids below this predate snowflakes (Nov 2010) and carry no time.
_FIRST_SNOWFLAKE = 1 << 32


def media_entities(tweet: dict) -> list[dict]:
    """``extended_entities.media`` (all items), else ``entities.media`` (only the first)."""
    media = as_list(dig(tweet, "extended_entities", "media")) or as_list(dig(tweet, "entities", "media"))
    return [m for m in media if isinstance(m, dict)]


def media_basename(media: dict) -> str | None:
    """The basename X names the archived file after: for videos and GIFs the highest-bitrate
    variant's (query string dropped), for photos ``media_url_https``'s."""
    url: Any = None
    if media.get("type") in ("video", "animated_gif"):
        best = -2
        for variant in as_list(dig(media, "video_info", "variants")):
            if not isinstance(variant, dict) or not isinstance(variant.get("url"), str):
                continue
            bitrate = int_or_none(variant.get("bitrate"))
            # Streaming playlists (m3u8) have no bitrate and are never the archived file.
            rank = bitrate if bitrate is not None else (-1 if variant.get("content_type") == "video/mp4" else -2)
            if url is None or rank > best:
                url, best = variant["url"], rank
    if url is None:
        url = media.get("media_url_https") or media.get("media_url")
    if not isinstance(url, str) or not url:
        return None
    basename = posixpath.basename(urlsplit(url).path)
    return basename or None


def expand_tco(text: str, expand: dict[str, str], media_tco: set[str]) -> str:
    """``text`` with t.co links replaced by their expansions and the trailing media link dropped.

    Links are matched as whole t.co tokens (never by prefix); a t.co link with no expansion
    stays as it is.
    """
    text = text.rstrip()
    while True:
        match = None
        for match in _TCO.finditer(text):
            pass
        if match is None or match.end() != len(text) or match.group(0) not in media_tco:
            break
        text = text[: match.start()].rstrip()
    return _TCO.sub(lambda m: expand.get(m.group(0), m.group(0)), text)


def unescape(text: str) -> str:
    """Decode the HTML character references in ``text`` once (``&amp;lt;`` -> ``&lt;``)."""
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)


def parse_x_time(value: Any) -> datetime | None:
    """``"Sat Nov 19 09:41:00 +0000 2022"`` -> aware UTC (locale-independent), else None."""
    if not isinstance(value, str):
        return None
    match = _X_TIME.match(value.strip())
    if not match or match.group(1) not in _MONTHS:
        return None
    month = _MONTHS[match.group(1)]
    day, hour, minute, second, year = (int(match.group(i)) for i in (2, 3, 4, 5, 6))
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        return None


def snowflake_time(tweet_id: str) -> datetime | None:
    """The creation time encoded in a snowflake tweet id, or None for older ids."""
    try:
        number = int(tweet_id)
    except ValueError:
        return None
    if number < _FIRST_SNOWFLAKE:
        return None
    millis = (number >> 22) + _TWITTER_EPOCH_MS
    try:
        return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).replace(microsecond=0)
    except (OverflowError, OSError, ValueError):
        return None


def status_url(tweet_id: str) -> str:
    return f"https://x.com/i/status/{tweet_id}"


def str_id(value: Any) -> str | None:
    """A tweet id as a digit string (archives give strings; an int is accepted as it is)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def add_once(items: list[str], value: str) -> None:
    if value and value not in items:
        items.append(value)
