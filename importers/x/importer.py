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

import re
from datetime import datetime
from typing import TYPE_CHECKING, Iterator, NamedTuple

from importers.common.shapes import as_list, dig
from vault.plugin_api import Item, MediaItem, PostItem, Skipped, Warning_

from ..common.members import RecordStream
from .archive import data_folder, find_manifest, load_js, manifest_parts, parts_by_content
from .fields import add_once, expand_tco, media_basename, media_entities, parse_x_time, snowflake_time, status_url, str_id, text_or_none, unescape

if TYPE_CHECKING:
    from vault.plugin_api import Entry, ExportSource

MEDIA_DIRS = ("tweets_media", "tweet_media")  # in the data folder: current, then 2020
RETWEET = re.compile(r"^RT @([A-Za-z0-9_]{1,15}):")


class XImporter:
    """Reads X/Twitter archives; see the module docstring for what becomes what."""

    name = "x"
    version = "1"
    description = "X (Twitter) \"Download an archive of your data\" zip: tweets, replies, retweets, tweet media"
    reads = ("zip or folder with data/manifest.js and data/tweets.js, tweets-partN.js (2019-22: data/tweet.js) "
             "and data/tweets_media/, or that data folder itself")

    # -- detection ------------------------------------------------------------------------------

    def recognize(self, src: "ExportSource") -> int:
        """100 for a manifest.js with the __THAR_CONFIG prefix, 90 for a tweets part found by
        content, else 0.  Reads only the first bytes of candidate members."""
        if find_manifest(src) is not None:
            return 100
        return 90 if parts_by_content(src) else 0

    # -- reading --------------------------------------------------------------------------------

    def read(self, src: "ExportSource") -> Iterator[Item]:
        """Yield media and posts of every tweet part; problems as Skipped/Warning_ values."""
        parts: list[tuple[str, int | None]] = []  # (rel path, manifest count)
        media_dirs: list[str] = []
        folder = "data/"
        found = find_manifest(src)
        if found is not None:
            manifest_entry, folder = found
            manifest, problem = load_js(manifest_entry)
            if problem is not None:
                yield problem
            else:
                parts, media_dirs = manifest_parts(manifest, folder)
        listed = {rel for rel, _ in parts}
        folders = {folder}
        for entry in parts_by_content(src):
            if entry.rel not in listed:
                parts.append((entry.rel, None))
                listed.add(entry.rel)
                where = data_folder(entry)
                folders.add("data/" if where is None else where)
        for prefix in sorted(folders):
            media_dirs += [prefix + d for d in MEDIA_DIRS if prefix + d not in media_dirs]

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
        short = text_or_none(url.get("url")) if isinstance(url, dict) else None
        if short is None:
            continue
        target = text_or_none(url.get("expanded_url")) or short
        expand[short] = target
        add_once(links, target)
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
        tid = str_id(tweet.get("id_str")) or str_id(tweet.get("id"))
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
        text = unescape(text_or_none(tweet.get("full_text")) or text_or_none(tweet.get("text")) or "")
        retweet = RETWEET.match(text)
        links, expand = _links(tweet)

        shown = _Shown(tid, bool(retweet), created, rel)
        media_refs: list[str] = []
        media_tco: set[str] = set()
        for media in media_entities(tweet):
            if isinstance(media.get("url"), str):
                media_tco.add(media["url"])
            yield from self._media(media, shown, links, media_refs)

        text = expand_tco(text, expand, media_tco)
        reply_id = str_id(tweet.get("in_reply_to_status_id_str")) or str_id(tweet.get("in_reply_to_status_id"))
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
        source_status = str_id(media.get("source_status_id_str")) or str_id(media.get("source_status_id"))
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
                add_once(links, media["expanded_url"])
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
            yield MediaItem.from_entry(
                entry, ref,
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
                yield MediaItem.from_entry(entry, f"x:media/{name}", filename=name)


