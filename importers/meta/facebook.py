"""Facebook "Download Your Information" exports, JSON format.

Every layout era is read: 2018 (``posts/your_posts.json`` = ``{"status_updates": [...]}``),
2020-22 (``posts/your_posts_N.json``), 2022-23 (``your_activity_across_facebook/posts/...``) and
2024+ (``your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_N.json``), from a
zip, several zips (parts of one export) or an unpacked folder.

What becomes what:

* every photo/video the posts, albums, uncategorized photos and videos files name, plus media files
  under the posts media folders that nothing names -> ``MediaItem`` (yielded first, once per uri);
* every entry of the posts files with text, media or a link -> ``PostItem``; the line Facebook
  writes about the entry ("Jana updated her status.") is kept as ``extra["activity"]``, and the
  post has no ``title`` (it is not the author's);
* the check-ins file only fills in place details of posts (never creates posts); comments,
  messages, reactions and stories are not read.

Facebook gives posts no id, so a post's ``source_id`` is a content key over what stays the same
between exports of different eras (time, text, links, place name, number of media), not the media
paths, which change between eras.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Iterator

from vault.plugin_api import Item, Place, PostItem, Skipped, Warning_, from_epoch

from ..common.members import RecordStream
from .checkins import read_checkins
from .mediacatalog import MediaCatalog, media_items, store_media_ahead
from .reader import (
    Tree,
    as_list,
    clean_uri,
    content_key,
    dig,
    fix_mojibake,
    html_error,
    is_html_export,
    is_media_name,
    is_url,
    is_web_url,
    natural_key,
    number,
    only_media,
    posts_to_read,
    read_posts,
    scanned_anyway,
    stream_records,
    text_of,
)

_ERA = r"(?:(?:your_facebook_activity|your_activity_across_facebook)/)?"
_MEDIA_HOME = r"(?:posts|photos_and_videos)"

POSTS_JSON = re.compile(rf"^{_ERA}posts/your_posts[^/]*\.json$")
POSTS_HTML = re.compile(rf"^{_ERA}posts/your_posts[^/]*\.html?$")
ALBUMS = re.compile(rf"^{_ERA}{_MEDIA_HOME}/album/[^/]+\.json$")
UNCATEGORIZED = re.compile(rf"^{_ERA}{_MEDIA_HOME}/your_uncategorized_photos[^/]*\.json$")
VIDEOS = re.compile(rf"^{_ERA}{_MEDIA_HOME}/your_videos[^/]*\.json$")
CHECKINS = re.compile(rf"^{_ERA}posts/check-ins[^/]*\.json$")
MEDIA_FOLDERS = re.compile(rf"^(?:{_ERA}posts/media/|photos_and_videos/)")
MEDIA_EXCLUDE = re.compile(r"^photos_and_videos/(?:stickers_used|album)/")

# Facebook-only top-level folders (the 2020-era ones such as posts/ are shared with other tools).
_FB_ROOT = re.compile(r"^(?:your_facebook_activity|your_activity_across_facebook)/")
_FB_JSON = re.compile(
    r"^(?:your_facebook_activity|your_activity_across_facebook)/.+\.json$"
    r"|^(?:personal_information/)?profile_information/profile_information\.json$"
    r"|^comments_and_reactions/.+\.json$"
)
_FB_MEDIA_NAME = re.compile(r"(?:^|/)\d+_\d+_\d+_[a-z]\.[A-Za-z0-9]+$")


class FacebookImporter:
    name = "facebook"
    version = "2"  # 2: Facebook's activity line moved from `title` to `extra.activity`
    description = "Facebook \"Download your information\" export (JSON format): posts, photos, videos"
    reads = ("zip(s) or folder with your_posts*.json (2018, 2020-22, 2022-23 and 2024+ layouts), "
             "albums, uncategorized photos, videos, check-ins; several zips = one export")

    # -- detection ------------------------------------------------------------------------------

    def recognize(self, src) -> int:
        tree = Tree.of(src)
        if tree.any(POSTS_JSON):
            return 95
        if self._is_html(tree):
            raise html_error("Facebook", "a Facebook export")
        if tree.any(ALBUMS) or tree.any(UNCATEGORIZED) or tree.any(VIDEOS) or tree.any(_FB_JSON):
            return 70
        media = [path for path, _ in tree.match(MEDIA_FOLDERS) if is_media_name(path)]
        if any(_FB_ROOT.search(path) for path in media):
            return 60  # a part of a multi-zip export holding only media
        if any(_FB_MEDIA_NAME.search(path) for path in media):
            return 50
        return 0

    @staticmethod
    def _is_html(tree: Tree) -> bool:
        return is_html_export(tree, POSTS_JSON, POSTS_HTML, _FB_ROOT)

    # -- reading --------------------------------------------------------------------------------

    def read(self, src) -> Iterator[Item]:
        tree = Tree.of(src)
        if self._is_html(tree):
            raise html_error("Facebook", "a Facebook export")
        posts_files = sorted(tree.match(POSTS_JSON), key=lambda pe: natural_key(pe[0]))
        if not posts_files and not any(tree.any(pattern) for pattern in (ALBUMS, UNCATEGORIZED, VIDEOS)):
            yield only_media("posts, albums or videos files")
        # Posts files an earlier import read unchanged are not read (their posts count as unchanged).
        posts_files, unchanged = posts_to_read(src, posts_files, also=[entry for _, entry in tree.match(CHECKINS)])
        store_media_ahead(tree, MEDIA_FOLDERS, MEDIA_EXCLUDE)  # stored while pass 1 reads

        # Pass 1: what the JSON says about media (posts first, so their metadata wins), and the
        # check-ins' places.
        catalog = MediaCatalog(tree)
        _catalog_posts_media(src, posts_files, unchanged, catalog)
        yield from _catalog_collections(tree, catalog)
        checkins: dict[Any, Place] = {}
        yield from read_checkins(tree.match(CHECKINS), checkins)

        # Media before posts.
        yield from media_items(tree, catalog, MEDIA_FOLDERS, MEDIA_EXCLUDE)

        # Pass 2: posts.
        seen: set[str] = set()
        for _, entry in posts_files:
            not_posts = _NotPosts()
            yield from read_posts(_posts_stream(entry), entry.rel, partial(_post_item, member=entry.rel, checkins=checkins),
                                  seen, not_posts.add)
            yield from not_posts.warnings(entry.rel)


def _catalog_posts_media(src, posts_files: list[tuple[str, Any]], unchanged: list[Any], catalog: MediaCatalog) -> None:
    """Note in ``catalog`` the media the posts files name.  A posts file is read as a stream (it
    can be hundreds of MB); its problems are reported by pass 2, which reads it again.  What an
    unchanged posts file (not read) named is what it named when an earlier import read it."""
    for _, entry in posts_files:
        named: list[str] = []
        for got in _posts_stream(entry):
            if not isinstance(got, Skipped) and isinstance(got[1], dict):
                for media in _media_of_post(got[1]):
                    named += _note_media(catalog, media, entry.rel)
        src.remember(entry, [n for n in named if n[0] == "t" or not scanned_anyway(n[2:], MEDIA_FOLDERS, MEDIA_EXCLUDE)])
    for entry in unchanged:  # still media of their own (or thumbnails, which are not)
        for name in src.recalled(entry):
            _note_media(catalog, {"uri": name[2:]} if name[0] == "m" else {"thumbnail": {"uri": name[2:]}}, entry.rel)


def _catalog_collections(tree: Tree, catalog: MediaCatalog) -> Iterator[Skipped]:
    """Note in ``catalog`` the media of the albums, uncategorized photos and videos files;
    yields a Skipped for each of those files that cannot be read."""
    for pattern in (ALBUMS, UNCATEGORIZED, VIDEOS):
        for _, entry in sorted(tree.match(pattern), key=lambda pe: natural_key(pe[0])):
            # Read as a stream: an album can list tens of thousands of photos, and parsed whole
            # its file would take several times its size in memory.
            for got in _collection_stream(entry):
                if isinstance(got, Skipped):
                    yield got
                    continue
                for media in _media_of_collection(got[1]):
                    _note_media(catalog, media, entry.rel)


class _NotPosts:
    """The entries of one posts file that gave no post, grouped by why, for one warning each."""

    def __init__(self) -> None:
        self.titles: dict[str, list[str]] = {}  # why -> titles of the entries

    def add(self, post: dict) -> None:
        why = _why_not_a_post(post)
        if why:
            self.titles.setdefault(why, []).append(text_of(fix_mojibake(post.get("title"))) or "")

    def warnings(self, rel: str) -> Iterator[Warning_]:
        for why, titles in self.titles.items():
            example = next((title for title in titles if title), None)
            count = f"{len(titles)} entries" if len(titles) != 1 else "1 entry"
            yield Warning_(f"{count} not imported as posts: {why}"
                           + (f", e.g. {example!r}" if example else ""), path=rel)


# ---------------------------------------------------------------------------------------------
# Record shapes
# ---------------------------------------------------------------------------------------------


# A root object with one of these keys is a single post.
_POST_KEYS = ("timestamp", "attachments", "data")


def _posts_stream(entry) -> RecordStream:
    return stream_records(entry, "status_updates", record_keys=_POST_KEYS)


def _attachment_data(post: dict) -> Iterator[dict]:
    for group in as_list(post.get("attachments")):
        if not isinstance(group, dict):
            continue
        for item in as_list(group.get("data")):
            if isinstance(item, dict):
                yield item


# Attachment kinds read for what they are; media nested in any other kind (a note's ``media[]``,
# ...) is found by its ``uri``.
_READ_KINDS = frozenset({"media", "external_context", "place", "note"})
_NESTED_DEPTH = 4


def _media_of_post(post: dict) -> Iterator[dict]:
    for item in _attachment_data(post):
        yield from _media_in(item)


def _media_in(item: dict) -> Iterator[dict]:
    """The media objects of one attachment item, in order: its ``media``, then media objects
    (dicts with a local ``uri``) nested up to a few levels inside its other kinds, e.g.
    ``{"note": {"media": [{"uri": ...}]}}`` (2020-22 photo posts written as notes)."""
    media = item.get("media")
    if isinstance(media, dict):
        yield media
    for key, value in item.items():
        if key in ("media", "external_context", "place"):
            continue
        yield from _nested_media(value, _NESTED_DEPTH)


def _nested_media(value: Any, depth: int) -> Iterator[dict]:
    if depth <= 0:
        return
    if isinstance(value, list):
        for element in value:
            yield from _nested_media(element, depth - 1)
    elif isinstance(value, dict):
        uri = clean_uri(value.get("uri"))
        if uri and not is_url(uri) and is_media_name(uri):
            yield value
            return
        for key, element in value.items():
            if key != "thumbnail":
                yield from _nested_media(element, depth - 1)


def _note_texts(post: dict) -> list[str]:
    """The bodies of notes attached to ``post`` (the owner's words).  ``{"text": ...}`` items
    are not used: real exports fill them with Facebook's own words ("12 Years Ago")."""
    out: list[str] = []
    for item in _attachment_data(post):
        text = text_of(dig(item, "note", "text"))
        if text and text not in out:
            out.append(text)
    return out


def _why_not_a_post(post: dict) -> str | None:
    """Why an entry with attachments gave no post (for a warning), or None for an entry with
    none: title-only entries (profile updates...) hold nothing but Facebook's own words."""
    items = list(_attachment_data(post))
    if not items:
        return None
    kinds = list(dict.fromkeys(key for item in items for key in item if key not in _READ_KINDS))
    if kinds:
        return f"attachments this importer does not read ({', '.join(kinds)})"
    if any(isinstance(item.get("place"), dict) for item in items):
        return "check-ins with a place but neither text, media nor a link"
    return "attachments with neither text, media nor a link"


def _note_media(catalog: MediaCatalog, media: dict, member: str) -> list[str]:
    """Note a media entry of the JSON; returns the files it named, as "m:<uri>" / "t:<uri>"."""
    named = []
    uri = clean_uri(media.get("uri"))
    if uri and not is_url(uri):
        catalog.add(uri, media, member)
        named.append("m:" + uri)
    thumbnail = clean_uri(dig(media, "thumbnail", "uri"))
    if thumbnail and not is_url(thumbnail):
        catalog.thumbnails.add(thumbnail)
        named.append("t:" + thumbnail)
    return named


_COLLECTION_KEYS = ("other_photos_v2", "videos_v2", "photos", "videos")


def _collection_stream(entry) -> RecordStream:
    """The records of an album, uncategorized photos or videos file: the elements of its media
    array (an album file's photos), of a list of albums, or the file itself when it is one
    album or one media object."""
    return stream_records(entry, *_COLLECTION_KEYS, record_keys=("uri", "photos", "cover_photo"))


def _media_of_collection(record: Any) -> Iterator[dict]:
    """Media of one record of a collection file: an album (object with photos and cover_photo)
    gives its photos, a media object itself."""
    if not isinstance(record, dict):
        return
    if "photos" in record or "cover_photo" in record:  # an album
        for media in as_list(record.get("photos")):
            if isinstance(media, dict):
                yield media
        if isinstance(record.get("cover_photo"), dict):
            yield record["cover_photo"]
    elif "uri" in record:
        yield record


def _place(value: Any) -> Place | None:
    if not isinstance(value, dict):
        return None
    coordinate = value.get("coordinate")
    coordinate = coordinate if isinstance(coordinate, dict) else {}
    place = Place(
        name=text_of(value.get("name")),
        lat=number(coordinate.get("latitude")),
        lon=number(coordinate.get("longitude")),
        address=text_of(value.get("address")),
    )
    return place if (place.name or place.lat is not None or place.address) else None


@dataclass
class _Attached:
    """What a post's attachments hold, in order of first appearance."""

    links: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)  # local media uris
    direct: int = 0  # media attached as {"media": ...} items (the content key counts only these)
    place: Place | None = None


def _post_item(post: dict, member: str, checkins: dict[Any, Place]) -> PostItem | Skipped | None:
    post = fix_mojibake(post)
    text, updated = _status_text(post)
    attached = _attachments(post)
    # The key is taken before a note's body stands in for a missing status text, over what
    # earlier versions keyed on, so posts already in a vault keep their ids.
    key_text = text
    text, extra = _with_notes(post, text)
    activity = text_of(post.get("title"))
    if activity:
        # Facebook's own line about the entry ("Jana updated her status."), not the author's
        # title: kept beside the post, never as its title.
        extra["activity"] = activity
    if not (text or attached.refs or attached.links):
        return None  # profile-picture updates, life events...: not posts (no text, media or link)

    timestamp, created = _post_time(post, updated)
    if created is None:
        return Skipped(member, f"post without a valid timestamp: {json.dumps(post.get('timestamp'))[:40]}")
    place = attached.place
    source_id = content_key(
        "fb:", timestamp, key_text or "", json.dumps(sorted(attached.links), ensure_ascii=False),
        place.name if place and place.name else "", attached.direct,
    )
    return PostItem(
        source_id=source_id,
        created_at=created,
        text=text,
        links=attached.links,
        place=_enriched(place, checkins.get(timestamp)),
        media_refs=attached.refs,
        tagged=_tagged(post),
        member=member,
        extra=extra,
        raw=post,
    )


def _status_text(post: dict) -> tuple[str | None, Any]:
    """The first ``data[].post`` text and the first ``data[].update_timestamp`` of ``post``."""
    text = None
    updated = None
    for item in as_list(post.get("data")):
        if not isinstance(item, dict):
            continue
        if text is None and isinstance(item.get("post"), str):
            text = text_of(item["post"])
        if updated is None and "update_timestamp" in item:
            updated = item["update_timestamp"]
    return text, updated


def _attachments(post: dict) -> _Attached:
    """The links (web urls and shared pages), local media and first place of ``post``."""
    out = _Attached()
    for item in _attachment_data(post):
        for media in _media_in(item):
            uri = clean_uri(media.get("uri"))
            if uri and is_url(uri):
                if is_web_url(uri) and uri not in out.links:
                    out.links.append(uri)
            elif uri and uri not in out.refs:
                out.refs.append(uri)
                out.direct += media is item.get("media")
        url = dig(item, "external_context", "url")
        if isinstance(url, str) and url.strip() and url.strip() not in out.links:
            out.links.append(url.strip())
        if out.place is None:
            out.place = _place(item.get("place"))
    return out


def _with_notes(post: dict, text: str | None) -> tuple[str | None, dict[str, Any]]:
    """The post's text, the bodies of its notes standing in when it has none, and the extra
    fields the notes give (``note_text`` when the post has its own text, ``note_title``)."""
    extra: dict[str, Any] = {}
    texts = _note_texts(post)
    if texts:
        if text is None:
            text = "\n\n".join(texts)
        else:
            extra["note_text"] = texts
    for item in _attachment_data(post):
        if text_of(dig(item, "note", "title")):
            extra["note_title"] = text_of(dig(item, "note", "title"))
            break
    return text, extra


def _post_time(post: dict, updated: Any) -> tuple[Any, datetime | None]:
    """The post's raw timestamp and its time; the update time stands in for a missing or
    invalid ``timestamp``."""
    timestamp = post.get("timestamp")
    created = from_epoch(timestamp)
    if created is None:
        timestamp = updated
        created = from_epoch(updated)
    return timestamp, created


def _enriched(place: Place | None, checkin: Place | None) -> Place | None:
    """``place`` with what it lacks filled in from the check-in made at the post's time."""
    if checkin is None:
        return place
    if place is None:
        return Place(checkin.name, checkin.lat, checkin.lon, checkin.address)
    place.name = place.name or checkin.name
    if place.lat is None or place.lon is None:
        place.lat, place.lon = checkin.lat, checkin.lon
    place.address = place.address or checkin.address
    return place


def _tagged(post: dict) -> list[str]:
    tagged: list[str] = []
    for tag in as_list(post.get("tags")):
        name = text_of(tag.get("name")) if isinstance(tag, dict) else text_of(tag)
        if name and name not in tagged:
            tagged.append(name)
    return tagged
