"""X (Twitter) "Download an archive of your data" exports.

Detection is by content: ``data/manifest.js`` starting with ``window.__THAR_CONFIG =`` (certain),
else any ``.js`` member starting with ``window.YTD.tweets.partN =`` or ``window.YTD.tweet.partN =``
(the 2019-22 name).  Parts are enumerated from the manifest's ``dataTypes.tweets`` /
``dataTypes.tweet`` file lists, plus any tweet part found by content that the manifest omits.

What becomes what:

* every tweet -> ``PostItem``: ``source_id`` is the tweet id *string* (ids exceed 2^53, so never
  an int); ``url`` is ``https://x.com/i/status/<id>``; ``created_at`` from ``created_at``
  (``%a %b %d %H:%M:%S +0000 %Y``, always UTC), else from the snowflake id.
* ``full_text`` is HTML-unescaped exactly once, *then* t.co links are replaced by their
  ``entities.urls[].expanded_url`` (which are not escaped, so they are never decoded), the
  expanded URLs are the post's ``links``, and the trailing t.co link that stands for the attached
  media is dropped.
* a reply's ``reply_to`` is the parent's URL, ``https://x.com/i/status/<in_reply_to_status_id_str>``:
  the same form as every X post's ``url``, so a reply to one's own tweet can be matched to it.
* a retweet (text ``RT @user: ...``; archives always say ``retweeted: false``) is a post with
  ``repost_of = "@user"`` and its (truncated) text as the archive has it.
* media files ``<mediaDirectory>/<tweet id>-<basename>`` (``data/tweets_media/``, 2020:
  ``data/tweet_media/``) -> ``MediaItem`` with ref ``x:media/<tweet id>-<basename>``.  A video's
  basename is that of its highest-bitrate variant without the query string.  A file missing from
  the export gives a ``Warning_``; the tweet still imports and keeps the ref (``missing_media``).
  Media a tweet shows from another status (a retweet's, or ``source_status_id_str``) is attached
  the same way when the archive holds its file (named after the retweet's own id, or else the
  original's); when it does not, its page URL becomes a link instead, without a warning.  Files
  in the tweets' media folder that no tweet names are imported as media too (media are the files in
  the export).
* likes, DMs, deleted tweets, note tweets and community tweets are other files, never read.

A tweets part is read as a stream: a part that is truncated or not valid JSON gives
``Skipped(<member>, "invalid JSON after element #N: ...")`` after the tweets before the damage,
a tweet over the stream's limits (a text over 8 MiB, nested over 100 levels) is skipped with its
position, and the other parts are imported.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple
from urllib.parse import urlsplit

from importers.common.shapes import as_list, dig
from vault.plugin_api import ArchiveMemberError, Item, MediaItem, PostItem, Skipped, Warning_

from ..common.members import RecordStream
from ..common.probing import probe_candidates

if TYPE_CHECKING:
    from vault.plugin_api import Entry, ExportSource

# data/manifest.js, read whole; tweets.js, which runs to hundreds of MB, is streamed.
JS_LIMIT = 64 * 2**20
# recognize() reads this much of a member; the JS prefix is within the first few bytes.
_HEAD = 256

_MANIFEST_PREFIX = re.compile(r"\s*window\.__THAR_CONFIG\s*=")
_YTD_PREFIX = re.compile(r"\s*window\.YTD\.([A-Za-z0-9_]+)\.part(\d+)\s*=")
_TWEET_TYPES = ("tweets", "tweet")  # dataTypes keys and YTD global names: current, then 2019-22
_MEDIA_DIRS = ("data/tweets_media", "data/tweet_media")
_TCO = re.compile(r"https?://t\.co/[A-Za-z0-9]+")
_RETWEET = re.compile(r"^RT @([A-Za-z0-9_]{1,15}):")
# Only references with a closing ";" are decoded: X escapes just &, < and >, so a bare "&copy"
# can only be text the user typed and must stay as it is.
_ENTITY = re.compile(r"&(#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_X_TIME = re.compile(r"^[A-Z][a-z]{2} ([A-Z][a-z]{2}) (\d{1,2}) (\d{2}):(\d{2}):(\d{2}) \+0000 (\d{4})$")
_TWITTER_EPOCH_MS = 1288834974657
# Ids below this predate snowflakes (Nov 2010) and carry no time.
_FIRST_SNOWFLAKE = 1 << 32


class XImporter:
    """Reads X/Twitter archives; see the module docstring for what becomes what."""

    name = "x"
    version = "1"
    description = "X (Twitter) \"Download an archive of your data\" zip: tweets, replies, retweets, tweet media"
    reads = ("zip or folder with data/manifest.js and data/tweets.js, tweets-partN.js (2019-22: data/tweet.js) "
             "and data/tweets_media/")

    # -- detection ------------------------------------------------------------------------------

    def recognize(self, src: "ExportSource") -> int:
        """100 for a manifest.js with the __THAR_CONFIG prefix, 90 for a tweets part found by
        content, else 0.  Reads only the first bytes of candidate members."""
        if _find_manifest(src) is not None:
            return 100
        return 90 if _parts_by_content(src) else 0

    # -- reading --------------------------------------------------------------------------------

    def read(self, src: "ExportSource") -> Iterator[Item]:
        """Yield media and posts of every tweet part; problems as Skipped/Warning_ values."""
        parts: list[tuple[str, int | None]] = []  # (rel path, manifest count)
        media_dirs: list[str] = []
        base = ""
        found = _find_manifest(src)
        if found is not None:
            manifest_entry, base = found
            manifest, problem = _load_js(manifest_entry)
            if problem is not None:
                yield problem
            else:
                parts, media_dirs = _manifest_parts(manifest, base)
        listed = {rel for rel, _ in parts}
        bases = {base}
        for entry in _parts_by_content(src):
            if entry.rel not in listed:
                parts.append((entry.rel, None))
                listed.add(entry.rel)
                bases.add(_root_of(entry, "data/" + posixpath.basename(entry.path)) or "")
        for folder in sorted(bases):
            media_dirs += [folder + d for d in _MEDIA_DIRS if folder + d not in media_dirs]

        state = _State(src, media_dirs)
        # A part read by an earlier import is skipped (its media are still yielded, as files no
        # tweet named); its tweets also drew on the manifest and on the other parts (duplicates).
        inputs = [listed_part for rel, _ in parts if (listed_part := src.get(rel)) is not None] + ([found[0]] if found else [])
        for rel, count in parts:
            part = src.get(rel)
            if part is None:
                yield Skipped(rel, "listed in data/manifest.js but missing from the export")
                continue
            if src.unchanged(part, depends=inputs):
                continue
            state.reading = rel
            # Read as a stream: a tweets part can be hundreds of MB.
            records = RecordStream(part, fallback=lambda root: [root], after=b"=", strip_tail=True)
            damaged = False
            for got in records:
                if isinstance(got, Skipped):
                    damaged = True
                    yield got
                    continue
                number, element = got
                tweet = element.get("tweet", element) if isinstance(element, dict) else None
                if not isinstance(tweet, dict):
                    yield Skipped(rel, f"tweet #{number} is not an object")
                    continue
                yield from state.tweet(tweet, rel, number - 1)
            if count is not None and count != records.count and not damaged:
                yield Warning_(f"data/manifest.js lists {count} tweets, the file holds {records.count}", path=rel)
        yield from state.unreferenced_media()


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def _head(entry: "Entry") -> str:
    """The first bytes of a member as text ("" when unreadable)."""
    try:
        with entry.open() as stream:
            data = stream.read(_HEAD)
    except (ArchiveMemberError, OSError):
        return ""
    return data.decode("utf-8-sig", errors="replace")


def _find_manifest(src: "ExportSource") -> tuple["Entry", str] | None:
    """(manifest entry, base folder with a trailing "/" or "") of the archive, by content."""
    for entry in src.by_name("manifest.js"):
        base = _root_of(entry, "data/manifest.js")
        if base is not None and _MANIFEST_PREFIX.match(_head(entry)):
            return entry, base
    return None


def _root_of(entry: "Entry", inside: str) -> str | None:
    """The folder ("" or "x/") that holds ``inside`` (e.g. "data/manifest.js") for this member.

    Taken from the member's rel, else from its full path: a zip of nothing but ``data/`` has
    that folder stripped from rel as a wrapper, and ``src.get`` finds full paths too.
    """
    for name in (entry.rel, entry.path):
        if name == inside:
            return ""
        if name.endswith("/" + inside):
            return name[: -len(inside)]
    return None


def _parts_by_content(src: "ExportSource") -> list["Entry"]:
    """Members whose text starts with ``window.YTD.tweets.partN =`` (or ``tweet``), in name order.

    Small exports (a bare file, whatever its name) have every member probed; bigger ones only
    ``*.js`` members, so detection stays cheap on a big archive of another kind.
    """
    out = []
    for entry in probe_candidates(src, ".js"):
        match = _YTD_PREFIX.match(_head(entry))
        if match and match.group(1) in _TWEET_TYPES:
            out.append(entry)
    return sorted(out, key=lambda e: _natural(e.rel))


def _natural(path: str) -> list[Any]:
    """Sort key that puts tweets-part2.js before tweets-part10.js."""
    return [int(bit) if bit.isdigit() else bit for bit in re.split(r"(\d+)", path)]


def _load_js(entry: "Entry") -> tuple[Any, Skipped | None]:
    """(parsed value, None) of a ``window.X = <json>;`` member, or (None, Skipped naming it).

    The JSON is the text after the first ``=``; a trailing ``;`` is dropped.
    """
    try:
        data = entry.read_bytes(JS_LIMIT)
    except ArchiveMemberError as exc:
        return None, Skipped(entry.rel, exc.message)
    except OSError as exc:  # a folder member that vanished or became unreadable since listing
        return None, Skipped(entry.rel, f"cannot read: {exc.strerror or exc}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, Skipped(entry.rel, f"not UTF-8 text: {exc}")
    _, sep, body = text.partition("=")
    if not sep:
        return None, Skipped(entry.rel, "not an X archive data file (no `window.... =` prefix)")
    body = body.strip()
    if body.endswith(";"):
        body = body[:-1]
    try:
        return json.loads(body), None
    except json.JSONDecodeError as exc:
        return None, Skipped(entry.rel, f"invalid JSON (truncated or damaged): {exc}")
    except RecursionError:
        return None, Skipped(entry.rel, "invalid JSON: nested too deeply")


def _manifest_parts(manifest: Any, base: str) -> tuple[list[tuple[str, int | None]], list[str]]:
    """(tweet part paths with their counts, media folders) that the manifest lists."""
    parts: list[tuple[str, int | None]] = []
    media_dirs: list[str] = []
    types = manifest.get("dataTypes") if isinstance(manifest, dict) else None
    if not isinstance(types, dict):
        return parts, media_dirs
    for name in _TWEET_TYPES:
        info = types.get(name)
        if not isinstance(info, dict):
            continue
        folder = info.get("mediaDirectory")
        if isinstance(folder, str) and folder.strip("/"):
            media_dirs.append(base + folder.strip("/"))
        for item in as_list(info.get("files")):
            file_name = item.get("fileName") if isinstance(item, dict) else None
            if isinstance(file_name, str) and file_name:
                parts.append((base + file_name.removeprefix("./").lstrip("/"), _int(item.get("count"))))
    return parts, media_dirs


# ---------------------------------------------------------------------------------------------
# Tweets
# ---------------------------------------------------------------------------------------------


class _Shown(NamedTuple):
    """The tweet a media entity belongs to."""

    tid: str
    retweet: bool
    created: datetime
    rel: str  # the tweets part it was read from


def _links(tweet: dict) -> tuple[list[str], dict[str, str]]:
    """(the tweet's links, expanded; t.co short url -> expanded url)."""
    links: list[str] = []
    expand: dict[str, str] = {}
    for url in as_list(dig(tweet, "entities", "urls")):
        short = _text(url.get("url")) if isinstance(url, dict) else None
        if short is None:
            continue
        target = _text(url.get("expanded_url")) or short
        expand[short] = target
        _add(links, target)
    return links, expand


class _State:
    """What one read() has seen: tweets (for duplicates across parts) and media refs."""

    def __init__(self, src: "ExportSource", media_dirs: list[str]) -> None:
        self.src = src
        self.media_dirs = media_dirs
        self.seen_tweets: set[str] = set()
        self.seen_media: set[str] = set()  # rel paths of media files already yielded
        self.reading: str | None = None    # the tweets part being read

    def tweet(self, tweet: dict, rel: str, index: int) -> Iterator[Item]:
        tid = _str_id(tweet.get("id_str")) or _str_id(tweet.get("id"))
        if tid is None:
            yield Skipped(rel, f"tweet #{index + 1} has no id")
            return
        if tid in self.seen_tweets:
            return  # the same tweet repeated in another part
        self.seen_tweets.add(tid)
        created = parse_x_time(tweet.get("created_at")) or snowflake_time(tid)
        if created is None:
            yield Skipped(rel, f"tweet {tid} has no usable created_at")
            return

        # Early archives call it "text"; either is HTML-escaped.
        text = unescape(_text(tweet.get("full_text")) or _text(tweet.get("text")) or "")
        retweet = _RETWEET.match(text)
        links, expand = _links(tweet)

        shown = _Shown(tid, bool(retweet), created, rel)
        media_refs: list[str] = []
        media_tco: set[str] = set()
        for media in _media_entities(tweet):
            if isinstance(media.get("url"), str):
                media_tco.add(media["url"])
            yield from self._media(media, shown, links, media_refs)

        text = expand_tco(text, expand, media_tco)
        reply_id = _str_id(tweet.get("in_reply_to_status_id_str")) or _str_id(tweet.get("in_reply_to_status_id"))
        extra = {key: tweet[key] for key in ("lang",) if isinstance(tweet.get(key), str)}
        yield PostItem(
            source_id=tid,
            created_at=created,
            text=text or None,
            url=status_url(tid),
            links=links,
            reply_to=status_url(reply_id) if reply_id else None,
            repost_of=f"@{retweet.group(1)}" if retweet else None,
            media_refs=media_refs,
            member=rel,
            extra=extra,
            raw=tweet,
        )

    def _media(self, media: dict, shown: "_Shown", links: list[str], media_refs: list[str]) -> Iterator[Item]:
        """One media entity of a tweet: its ref appended to ``media_refs`` and its file yielded
        (once per read), a warning if the file is missing, or, for another status's media the
        archive does not hold, its page appended to ``links``."""
        source_status = _str_id(media.get("source_status_id_str")) or _str_id(media.get("source_status_id"))
        borrowed = bool(shown.retweet or (source_status and source_status != shown.tid))
        basename = media_basename(media)
        # Archives name a file after the status that shows it (a retweet's own id); the
        # original's id is tried too.
        statuses = dict.fromkeys((shown.tid, source_status or shown.tid))
        names = [f"{status}-{basename}" for status in statuses] if basename else []
        found = next(((name, entry) for name in names if (entry := self._media_entry(name)) is not None), None)
        if found is None and (borrowed or not names):
            # Another status's media the archive does not hold: its page is a link.
            if borrowed and isinstance(media.get("expanded_url"), str):
                _add(links, media["expanded_url"])
            return
        name = found[0] if found else names[0]
        ref = f"x:media/{name}"
        if ref in media_refs:
            return
        media_refs.append(ref)
        if found is None:
            yield Warning_(f"media file missing from the export: {name} (tweet {shown.tid})", path=shown.rel)
            return
        entry = found[1]
        if entry.rel not in self.seen_media:
            self.seen_media.add(entry.rel)
            yield MediaItem(
                ref=ref,
                open=entry.open,
                size=entry.size,
                filename=posixpath.basename(entry.rel),
                member=entry.rel,
                fingerprint=entry.fingerprint,
                created_at=shown.created,
                alt=media.get("ext_alt_text") if isinstance(media.get("ext_alt_text"), str) else None,
            )

    def _media_entry(self, name: str) -> "Entry | None":
        for folder in self.media_dirs:
            entry = self.src.get(f"{folder}/{name}")
            if entry is not None:
                return entry
        if self.reading is not None:
            self.src.unsettled(self.reading)  # what a tweet keeps of a file depends on whether the export holds it
        return None

    def unreferenced_media(self) -> Iterator[Item]:
        """Files in the tweets' media folders that no tweet named (e.g. from a tweet the
        archive's tweets.js no longer lists)."""
        for folder in self.media_dirs:
            prefix = folder + "/"
            for entry in self.src.entries:
                if entry.rel in self.seen_media:
                    continue
                if entry.rel.startswith(prefix):
                    name = entry.rel[len(prefix):]
                elif entry.path.startswith(prefix):
                    name = entry.path[len(prefix):]
                else:
                    continue
                if "/" in name or name.startswith("."):
                    continue
                self.seen_media.add(entry.rel)
                yield MediaItem(ref=f"x:media/{name}", open=entry.open, size=entry.size, filename=name,
                                member=entry.rel, fingerprint=entry.fingerprint)


def _media_entities(tweet: dict) -> list[dict]:
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
            bitrate = _int(variant.get("bitrate"))
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


def _str_id(value: Any) -> str | None:
    """A tweet id as a digit string (archives give strings; an int is accepted as it is)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _add(items: list[str], value: str) -> None:
    if value and value not in items:
        items.append(value)
