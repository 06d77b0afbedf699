"""Instagram "Download your information" exports, JSON format.

Layouts, from a zip, several zips (parts of one export) or an unpacked folder:

* 2025+ ``your_instagram_activity/media/`` and 2021-24 ``content/`` (or
  ``your_instagram_activity/content/``): ``posts_N.json`` (a bare array of posts; 2024+ also
  ``posts.json``, whose posts are ``{timestamp, label_values: [Caption, Media...]}``), ``reels.json``
  (``{"ig_reels_media": [post...]}``), ``archived_posts.json`` (``{"ig_archived_post_media":
  [post...]}``) and ``igtv_videos.json`` (``{"ig_igtv_media": [post...]}``).  Media ``uri``s are
  relative to the archive root (``media/posts/YYYYMM/<id>.jpg``, ``media/reels/...``).
* up to 2020, ``media.json``: ``{"photos": [...], "videos": [...], "stories": [...], ...}``, one
  item per file, ``{"path", "caption", "taken_at", "location"}``; ``taken_at`` is ISO 8601 and,
  without a zone, is taken as UTC (the original string stays in ``raw``).  Files of one carousel
  are separate items with the same ``taken_at`` and caption: they make one post.

What becomes what:

* every file a post names, plus media files under ``media/posts/`` (2020: ``photos/``,
  ``videos/``) that nothing names -> ``MediaItem`` (yielded first, once per uri);
* every post, reel, archived post and IGTV video -> ``PostItem``.  Single-media posts keep their
  caption and time on ``media[0]``; carousels keep them at the top level.  Reels,
  archived posts and IGTV videos say so in ``extra["instagram"]`` (``"reel"``, ``"archived"``,
  ``"igtv"``); an archived post is one the owner hid from the profile.
* stories, profile pictures, messages and comments are not read (stories are never posts).

Instagram gives posts no id, so ``source_id`` is a content key: time + caption + number of media
(the same post in ``posts_1.json`` and ``archived_posts.json`` is one post).
"""

from __future__ import annotations

import json
import posixpath
import re
from datetime import datetime, timezone
from functools import partial
from typing import Any, Iterator

from vault.plugin_api import ArchiveMemberError, Item, Place, PostItem, Skipped, Warning_, from_epoch

from .mediacatalog import MediaCatalog, media_items, store_media_ahead
from .reader import (
    Tree,
    as_list,
    clean_uri,
    content_key,
    fix_mojibake,
    html_error,
    is_html_export,
    is_media_name,
    is_url,
    is_web_url,
    load_json,
    natural_key,
    only_media,
    posts_to_read,
    read_posts,
    scanned_anyway,
    stream_records,
    text_of,
)

_POSTS_HOME = r"(?:your_instagram_activity/(?:media|content)/|content/)"
POSTS_JSON = re.compile(rf"^{_POSTS_HOME}(?:posts(?:_\d+)?|reels|archived_posts|igtv_videos)\.json$")
POSTS_HTML = re.compile(rf"^{_POSTS_HOME}posts(?:_\d+)?\.html?$")
LEGACY_JSON = re.compile(r"^media\.json$")
MEDIA_FOLDERS = re.compile(r"^(?:media/posts/|photos/\d{6}/|videos/\d{6}/)")
# File name (without .json) -> (key holding the posts, what extra["instagram"] says).
_KINDS = {"reels": ("ig_reels_media", "reel"), "archived_posts": ("ig_archived_post_media", "archived"),
          "igtv_videos": ("ig_igtv_media", "igtv")}
# media.json lists that hold the owner's published posts (stories, direct, profile do not).
_LEGACY_POSTS = ("photos", "videos")

_IG_JSON = re.compile(
    r"^your_instagram_activity/.+\.json$"
    r"|^personal_information/personal_information/personal_information\.json$"
    r"|^account_information/personal_information\.json$"
    r"|^content/(?:stories|profile_photos|reels|igtv_videos)\.json$"
)
_IG_ROOT = re.compile(r"^your_instagram_activity/")
_IG_MEDIA = re.compile(r"^media/posts/\d{6}/[^/]+$")


class InstagramImporter:
    name = "instagram"
    version = "1"
    description = "Instagram \"Download your information\" export (JSON format): posts, photos, videos"
    reads = ("zip(s) or folder with your_instagram_activity/media/posts_N.json (2025+) or "
             "content/posts_N.json (2021-24), reels.json, archived_posts.json, igtv_videos.json and "
             "media/...; media.json with photos/ and videos/ (up to 2020); several zips = one export")

    # -- detection ------------------------------------------------------------------------------

    def recognize(self, src) -> int:
        tree = Tree.of(src)
        if tree.any(POSTS_JSON):
            return 95
        if _legacy_files(tree):
            return 90
        if self._is_html(tree):
            raise html_error("Instagram", "an Instagram export")
        if tree.any(_IG_JSON):
            return 70
        if any(is_media_name(path) for path, _ in tree.match(_IG_MEDIA)):
            return 40  # a part of a multi-zip export holding only media
        return 0

    @staticmethod
    def _is_html(tree: Tree) -> bool:
        return is_html_export(tree, POSTS_JSON, POSTS_HTML, _IG_ROOT)

    # -- reading --------------------------------------------------------------------------------

    def read(self, src) -> Iterator[Item]:
        tree = Tree.of(src)
        if self._is_html(tree):
            raise html_error("Instagram", "an Instagram export")
        posts_files = sorted(tree.match(POSTS_JSON), key=lambda pe: (_order(pe[0]), natural_key(pe[0])))
        posts_files += _legacy_files(tree)
        if not posts_files and not tree.any(_IG_JSON):
            yield only_media("posts or stories files")
        # Posts files an earlier import read unchanged are not read (their posts count as unchanged).
        posts_files, unchanged = posts_to_read(src, posts_files)
        store_media_ahead(tree, MEDIA_FOLDERS)  # stored while pass 1 reads
        catalog = MediaCatalog(tree)

        # Pass 1: what the posts say about their media.  Posts files are read as streams; their
        # problems are reported in pass 2, which reads them again.
        for path, entry in posts_files:
            named: list[str] = []
            for got in _PostsOf(path, entry):
                if isinstance(got, Skipped) or not isinstance(got[1], dict):
                    continue
                post = got[1]
                media = _media(post)
                created = from_epoch(_post_time(post, media))
                for one in media:
                    uri = clean_uri(one.get("uri"))
                    if uri and not is_url(uri):
                        catalog.add(uri, one, entry.rel, caption=text_of(one.get("title")) or "",
                                    created_at=created)
                        if not scanned_anyway(uri, MEDIA_FOLDERS):
                            named.append(uri)
            src.remember(entry, named)
        for entry in unchanged:  # the files they named are still media of their own
            for uri in src.recalled(entry):
                catalog.add(uri, {}, entry.rel, caption="")
        # The captions above are "" rather than None so a missing caption is not taken from
        # another field; turn them back into None.
        for uri in catalog:
            if catalog[uri]["caption"] == "":
                catalog[uri]["caption"] = None

        yield from media_items(tree, catalog, MEDIA_FOLDERS)

        # Pass 2: posts.
        seen: set[str] = set()
        for path, entry in posts_files:
            kind = _kind(path)
            empty: list[dict] = []
            yield from read_posts(_PostsOf(path, entry), entry.rel, partial(_post_item, member=entry.rel, kind=kind),
                                  seen, empty.append)
            if empty:
                yield Warning_(f"{len(empty)} {'entry' if len(empty) == 1 else 'entries'} with neither caption nor media "
                               "not imported as posts", path=entry.rel)


# ---------------------------------------------------------------------------------------------
# Record shapes
# ---------------------------------------------------------------------------------------------


def _order(path: str) -> int:
    """posts_N.json first, then reels, archived posts and IGTV (a post found twice keeps the
    first file's record)."""
    name = posixpath.basename(path)[: -len(".json")]
    return list(_KINDS).index(name) + 1 if name in _KINDS else 0


def _kind(path: str) -> str | None:
    if LEGACY_JSON.search(path):
        return None
    name = posixpath.basename(path)[: -len(".json")]
    return _KINDS[name][1] if name in _KINDS else None


class _PostsOf:
    """The posts of one posts file as ``(index, post)`` and ``Skipped`` values (see
    :class:`~importers.common.members.RecordStream`); ``empty`` is True after iterating a root ``[]``
    or ``{}``.  Current files are read as streams; the old ``media.json`` is read whole (its
    carousels are grouped across the file) within the Meta whole-file limit."""

    def __init__(self, path: str, entry: Any) -> None:
        self.path = path
        self.entry = entry
        self.empty = False

    def __iter__(self) -> Iterator[tuple[int, Any] | Skipped]:
        if LEGACY_JSON.search(self.path):
            root, skipped = load_json(self.entry)
            if skipped is not None:
                yield skipped
                return
            self.empty = root in ([], {})
            yield from enumerate(_legacy_posts(root), 1)
            return
        name = posixpath.basename(self.path)[: -len(".json")]
        if name in _KINDS:
            stream = stream_records(self.entry, _KINDS[name][0], record_keys=("media", "label_values"))
        else:
            stream = stream_records(self.entry, "ig_posts", "posts",
                                    record_keys=("media", "creation_timestamp", "label_values"))
        for got in stream:
            if not isinstance(got, Skipped):
                index, record = got
                if isinstance(record, dict) and "label_values" in record and "media" not in record:
                    got = (index, _from_label_values(record))
            yield got
        self.empty = stream.empty


def _from_label_values(record: dict) -> dict:
    """A post of the 2024+ ``posts.json`` shape, ``{timestamp, label_values: [{label: "Caption",
    value}, {label: "Media", media: [...]}, ...]}``, in the usual ``{media, title,
    creation_timestamp}`` shape (so the same post in ``posts_1.json`` gets the same key)."""
    caption, media = None, []
    for item in as_list(record.get("label_values")):
        if not isinstance(item, dict):
            continue
        if item.get("label") == "Caption" and isinstance(item.get("value"), str):
            caption = item["value"]
        elif item.get("label") == "Media" and isinstance(item.get("media"), list):
            media = item["media"]
    out = {"media": media, "creation_timestamp": record.get("timestamp")}
    if caption is not None:
        out["title"] = caption
    return out


# ---------------------------------------------------------------------------------------------
# Up to 2020: media.json
# ---------------------------------------------------------------------------------------------


def _legacy_files(tree: Tree) -> list[tuple[str, Any]]:
    """``media.json`` members that have the old layout's shape (a ``photos`` or ``videos`` list
    of ``{path, taken_at}`` items): the name alone is far too common to go by."""
    out = []
    for path, entry in tree.match(LEGACY_JSON):
        try:
            with entry.open() as stream:
                head = stream.read(4096)
        except (ArchiveMemberError, OSError):
            continue
        if _LEGACY_HEAD.search(head) and b'"taken_at"' in head and b'"path"' in head:
            out.append((path, entry))
    return out


_LEGACY_HEAD = re.compile(rb'^\s*\{\s*"(?:photos|videos|stories|profile|direct)"\s*:\s*\[')


def legacy_time(value: Any) -> int | None:
    """``taken_at`` of media.json (``2018-12-31T08:05:13``, with or without a zone; no zone is
    UTC) -> epoch seconds, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def _legacy_posts(root: Any) -> list[dict]:
    """The old layout's photos and videos as posts in the current shape: items with the same
    ``taken_at`` and caption (a carousel's files) are one post, in file order."""
    if not isinstance(root, dict):
        return []
    posts: dict[tuple, dict] = {}
    for section in _LEGACY_POSTS:
        for item in as_list(root.get(section)):
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                continue
            caption = item.get("caption") if isinstance(item.get("caption"), str) else ""
            when = legacy_time(item.get("taken_at"))
            key = (item.get("taken_at"), caption) if when is not None else (id(item),)
            post = posts.get(key)
            if post is None:
                post = posts[key] = {"media": [], "title": caption, "creation_timestamp": when,
                                     "taken_at": item.get("taken_at")}
                if isinstance(item.get("location"), str) and item["location"].strip():
                    post["location"] = item["location"]
            post["media"].append({"uri": item["path"], "creation_timestamp": when, "title": ""})
    return list(posts.values())


def _media(post: dict) -> list[dict]:
    return [m for m in as_list(post.get("media")) if isinstance(m, dict)]


def _post_time(post: dict, media: list[dict]) -> Any:
    """Top-level ``creation_timestamp`` (carousels), else the first media's (single posts)."""
    if from_epoch(post.get("creation_timestamp")) is not None:
        return post.get("creation_timestamp")
    for one in media[:1]:
        return one.get("creation_timestamp")
    return None


def _post_item(post: dict, member: str, kind: str | None = None) -> PostItem | Skipped | None:
    post = fix_mojibake(post)
    media = _media(post)
    # Caption: the top-level title (carousels), else the first media's title (single posts).
    text = text_of(post.get("title"))
    if text is None and media:
        text = text_of(media[0].get("title"))

    refs: list[str] = []
    links: list[str] = []
    for one in media:
        uri = clean_uri(one.get("uri"))
        if uri and is_url(uri):
            if is_web_url(uri) and uri not in links:
                links.append(uri)
        elif uri and uri not in refs:
            refs.append(uri)

    if not (text or refs or links):
        return None

    timestamp = _post_time(post, media)
    created = from_epoch(timestamp)
    if created is None:
        return Skipped(member, f"post without a valid timestamp: {json.dumps(post.get('creation_timestamp'))[:40]}")

    location = text_of(post.get("location"))
    return PostItem(
        source_id=content_key("ig:", timestamp, text or "", len(refs)),
        created_at=created,
        text=text,
        links=links,
        place=Place(name=location) if location else None,
        media_refs=refs,
        member=member,
        extra={"instagram": kind} if kind else {},
        raw=post,
    )
