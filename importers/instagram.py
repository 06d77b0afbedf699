"""Instagram "Download your information" exports, JSON format (formats.md section 2).

Layouts: 2025+ (``your_instagram_activity/media/posts_N.json``) and 2021-24 (``content/posts_N.json``),
from a zip, several zips (parts of one export) or an unpacked folder.  Media ``uri``s are relative
to the archive root (``media/posts/YYYYMM/<id>.jpg``).

What becomes what:

* every file a post names, plus media files under ``media/posts/`` that nothing names -> ``MediaItem``
  (yielded first, once per uri);
* every post (single photo/video or carousel) -> ``PostItem``.  Single-media posts keep their
  caption and time on ``media[0]``; carousels keep them at the top level (formats.md §2).
* stories, reels, profile pictures, messages and comments are not read (stories are never posts).

Instagram gives posts no id, so ``source_id`` is a content key: time + caption + number of media.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from vault.models import Item, PostItem, Skipped, Warning_, from_epoch

from .meta import (
    is_html_export,
    JsonFiles, MediaCatalog, Tree, as_list, as_records, clean_uri, content_key, fix_mojibake,
    html_error, is_media_name, is_url, is_web_url, media_items, natural_key, text_of,
)

_POSTS_HOME = r"(?:your_instagram_activity/(?:media|content)/|content/)"
POSTS_JSON = re.compile(rf"^{_POSTS_HOME}posts(?:_\d+)?\.json$")
POSTS_HTML = re.compile(rf"^{_POSTS_HOME}posts(?:_\d+)?\.html?$")
MEDIA_FOLDERS = re.compile(r"^media/posts/")

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
             "content/posts_N.json (2021-24) and media/posts/...; several zips = one export")

    # -- detection ------------------------------------------------------------------------------

    def recognize(self, src) -> int:
        tree = Tree(src)
        if tree.any(POSTS_JSON):
            return 95
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
        tree = Tree(src)
        if self._is_html(tree):
            raise html_error("Instagram", "an Instagram export")
        files = JsonFiles()
        posts_files = sorted(tree.match(POSTS_JSON), key=lambda pe: natural_key(pe[0]))
        catalog = MediaCatalog()

        # Pass 1: what the posts say about their media.
        for _, entry in posts_files:
            root, skipped = files.load(entry)
            if skipped is not None:
                yield skipped
                continue
            posts = _posts(root)
            if not posts and root not in ([], {}):
                yield Warning_("no posts found: the file's structure is not one this importer knows", path=entry.rel)
            for post in posts:
                media = _media(post)
                created = from_epoch(_post_time(post, media))
                for one in media:
                    uri = clean_uri(one.get("uri"))
                    if uri and not is_url(uri):
                        catalog.add(uri, one, entry.rel, caption=text_of(one.get("title")) or "",
                                    created_at=created)
        # The captions above are "" rather than None so a missing caption is not taken from
        # another field; turn them back into None.
        for uri in catalog:
            if catalog[uri]["caption"] == "":
                catalog[uri]["caption"] = None

        yield from media_items(tree, catalog, MEDIA_FOLDERS)

        # Pass 2: posts.
        seen: set[str] = set()
        for _, entry in posts_files:
            root, skipped = files.load(entry)
            if skipped is not None:
                yield skipped
            if root is None:
                continue
            for index, post in enumerate(_posts(root)):
                try:
                    item = _post_item(post, entry.rel)
                except (TypeError, ValueError, AttributeError, KeyError) as exc:
                    yield Skipped(entry.rel, f"post #{index + 1} could not be read: {exc}")
                    continue
                if item is None:
                    continue
                if isinstance(item, Skipped):
                    yield item
                    continue
                if item.source_id in seen:
                    continue  # the same post repeated in another part file or zip
                seen.add(item.source_id)
                yield item


# ---------------------------------------------------------------------------------------------
# Record shapes (formats.md §2)
# ---------------------------------------------------------------------------------------------


def _posts(root: Any) -> list[dict]:
    return as_records(root, "ig_posts", "posts", record_keys=("media", "creation_timestamp"))


def _media(post: dict) -> list[dict]:
    return [m for m in as_list(post.get("media")) if isinstance(m, dict)]


def _post_time(post: dict, media: list[dict]) -> Any:
    """Top-level ``creation_timestamp`` (carousels), else the first media's (single posts)."""
    if from_epoch(post.get("creation_timestamp")) is not None:
        return post.get("creation_timestamp")
    for one in media[:1]:
        return one.get("creation_timestamp")
    return None


def _post_item(post: dict, member: str) -> PostItem | Skipped | None:
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

    return PostItem(
        source_id=content_key("ig:", timestamp, text or "", len(refs)),
        created_at=created,
        text=text,
        links=links,
        media_refs=refs,
        member=member,
        raw=post,
    )
