"""Helpers shared by the Meta importers (Facebook and Instagram).

* :func:`fix_mojibake` undoes Meta's "every UTF-8 byte escaped as its own code point" bug.
* :func:`load_json` reads one member whole (with a size limit) and turns a damaged or invalid
  member into a :class:`~vault.models.Skipped` value instead of an exception;
  :func:`stream_records` reads a posts file element by element, in bounded memory.
* :func:`as_records` / :func:`as_list` normalise the root shapes Meta uses interchangeably: a bare
  array, an object with one ``*_v2`` (or named) key, or a single object where an array was expected.
* :class:`Tree` maps export members to their path relative to the *archive root*, the path that
  Meta's JSON ``uri`` fields use, whatever wrapper folder a zip or unpack tool added, and looks
  media up by ``uri``.
* :func:`html_only` spots the HTML variant of an export, which has no JSON to read.

Only the standard library and ``vault``'s public API are used; nothing here writes or prints.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
import weakref
from typing import Any, Callable, Iterable, Iterator

from importers.common.shapes import as_list, dig  # the Meta importers use them as reader.as_list, reader.dig
from vault.plugin_api import PostItem, Skipped, Warning_

from ..common import members

# Files read whole (albums, videos, check-ins); posts files, which can be 100+ MB, are streamed.
# Parsed JSON takes several times its size in memory, so nothing much larger is held at once.
JSON_LIMIT = 64 * 2**20

MEDIA_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp",
    ".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp",
})

# Top-level folders of Facebook and Instagram exports (all eras).  A member path is taken to be
# relative to the archive root from the first of these segments on (see Tree.canonical).
KNOWN_ROOTS = frozenset({
    # Facebook
    "your_facebook_activity", "your_activity_across_facebook", "posts", "photos_and_videos",
    "personal_information", "profile_information", "comments_and_reactions", "comments",
    "likes_and_reactions", "messages", "connections", "friends", "friends_and_followers",
    "logged_information", "security_and_login_information", "preferences", "ads_information",
    "apps_and_websites_off_of_facebook", "activity_messages", "stories", "groups", "events",
    "pages", "marketplace", "other_activity", "search", "saved_items_and_collections",
    "location", "about_you", "your_interactions_on_facebook", "facebook_gaming",
    "your_topics", "your_places",
    # Instagram
    "your_instagram_activity", "content", "media", "account_information",
    "ads_information", "apps_and_websites", "followers_and_following", "information_about_you",
    "instagram_account_history",
})


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def fix_text(text: str) -> str:
    """Undo Meta's mojibake in one string.

    The code points are re-encoded as latin-1 bytes and decoded as UTF-8.  A string with a code
    point above U+00FF, or whose bytes are not valid UTF-8, is returned unchanged; so correct text
    passes through, and fixing fixed text changes nothing (``"é"`` is byte E9, not valid UTF-8).
    """
    if text.isascii():
        return text
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return text


def fix_mojibake(value: Any) -> Any:
    """``value`` with :func:`fix_text` applied to every string value, recursively (keys are ASCII)."""
    if isinstance(value, str):
        return fix_text(value)
    if isinstance(value, dict):
        return {key: fix_mojibake(item) for key, item in value.items()}
    if isinstance(value, list):
        return [fix_mojibake(item) for item in value]
    return value


def text_of(value: Any) -> str | None:
    """A mojibake-fixed, NFC string, or None for a missing/blank/non-string value."""
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFC", fix_text(value))
    return text if text.strip() else None


def is_url(uri: str) -> bool:
    return "://" in uri[:16]


def is_web_url(uri: str) -> bool:
    return uri[:8].lower().startswith(("http://", "https://"))


def clean_uri(uri: Any) -> str | None:
    """A media ``uri`` as the vault refers to it: mojibake fixed, NFC, "/" separators, no "./".

    Returns None for a missing or empty uri.  Remote URLs are returned as they are (fixed only).
    """
    if not isinstance(uri, str) or not uri.strip():
        return None
    uri = unicodedata.normalize("NFC", fix_text(uri.strip()))
    if is_url(uri):
        return uri
    return "/".join(seg for seg in uri.replace("\\", "/").split("/") if seg not in ("", "."))


def is_media_name(path: str) -> bool:
    return posixpath.splitext(path)[1].lower() in MEDIA_EXTENSIONS


# ---------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------


def as_records(root: Any, *keys: str, record_keys: Iterable[str] = ()) -> list[dict]:
    """The list of record objects in a Meta JSON root, whatever its shape.

    * a bare array -> its objects;
    * an object holding one of ``keys`` (or a single ``*_v2`` key, or a single array value) ->
      that value, normalised the same way;
    * a single record object (it has one of ``record_keys``) -> [it];
    * anything else -> [].
    Non-object elements are dropped.
    """
    if isinstance(root, list):
        return [item for item in root if isinstance(item, dict)]
    if not isinstance(root, dict):
        return []
    for key in keys:
        if key in root:
            return as_records(root[key], record_keys=record_keys)
    if any(key in root for key in record_keys):
        return [root]
    v2 = [key for key in root if key.endswith("_v2")]
    if len(v2) == 1:
        return as_records(root[v2[0]], record_keys=record_keys)
    lists = [value for value in root.values() if isinstance(value, list)]
    if len(root) == 1 and len(lists) == 1:
        return [item for item in lists[0] if isinstance(item, dict)]
    return []


def number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and abs(out) != float("inf") else None


# ---------------------------------------------------------------------------------------------
# Reading members
# ---------------------------------------------------------------------------------------------


def load_json(entry, limit: int = JSON_LIMIT) -> tuple[Any, Skipped | None]:
    """See :func:`importers.common.members.load_json` (Meta's default size limit)."""
    return members.load_json(entry, limit)


def stream_records(entry, *keys: str, record_keys: Iterable[str] = ()) -> members.RecordStream:
    """The records of a posts file, read as a stream: what :func:`as_records` finds, element by
    element, so a file of any size costs the memory of its largest record.  The stream yields
    ``(index, value)`` (values may be non-objects: callers skip them) and ``Skipped`` values."""
    record_keys = tuple(record_keys)
    return members.RecordStream(entry, keys, fallback=lambda root: as_records(root, *keys, record_keys=record_keys))


# ---------------------------------------------------------------------------------------------
# The export tree
# ---------------------------------------------------------------------------------------------


# The tree of each export source still in use (see Tree.of).
_TREES: "weakref.WeakKeyDictionary[Any, Tree]" = weakref.WeakKeyDictionary()


class Tree:
    """Members of an export indexed by their path relative to the archive root.

    ``Entry.rel`` strips a single wrapper folder, which is right for an unpacked folder named after
    the zip, but wrong for a part of a multi-zip export that happens to hold one top-level folder
    (part 2 holding only ``your_facebook_activity/posts/media/...`` would lose its real root
    folder).  The canonical path is therefore taken from the first known Meta top-level folder in
    ``Entry.path`` (within the first three segments), else ``Entry.rel``.
    """

    def __init__(self, src) -> None:
        self.src = src
        self.entries: list[tuple[str, Any]] = []
        self._index: dict[str, Any] = {}
        for entry in src.entries:
            path = self.canonical(entry)
            self.entries.append((path, entry))
            self._index.setdefault(path, entry)

    @classmethod
    def of(cls, src) -> "Tree":
        """The tree of ``src``, made once however often it is asked for (detection and reading
        both need it, and in an export of a hundred thousand files it takes tens of MB)."""
        try:
            tree = _TREES.get(src)
        except TypeError:  # a source that takes no weak reference
            return cls(src)
        if tree is None:
            tree = _TREES[src] = cls(src)
            # Through a weak proxy: a tree holding its key would keep it in the cache for good.
            tree.src = weakref.proxy(src)
        return tree

    @staticmethod
    def canonical(entry) -> str:
        """The path from the first known Meta top-level folder on; the entry's own string when
        that is its whole path or its rel (one string per member, not two)."""
        path = entry.path
        segments = path.split("/")
        for i in range(min(3, len(segments) - 1)):
            if segments[i] in KNOWN_ROOTS:
                if i == 0:
                    return path
                tail = "/".join(segments[i:])
                return entry.rel if tail == entry.rel else tail
        return entry.rel

    def shared(self, path: str) -> str:
        """``path`` as the string a member of the tree already holds, when one is equal to it:
        what is kept per media file then costs no copy of its name."""
        entry = self._index.get(path)
        if entry is not None:
            for held in (entry.path, entry.rel):
                if held == path:
                    return held
        return path

    def match(self, pattern: re.Pattern[str]) -> list[tuple[str, Any]]:
        """(canonical path, entry) pairs whose canonical path matches ``pattern``, in order."""
        return [(path, entry) for path, entry in self.entries if pattern.search(path)]

    def any(self, pattern: re.Pattern[str]) -> bool:
        return any(pattern.search(path) for path, _ in self.entries)

    def lookup(self, uri: str):
        """The entry a cleaned media ``uri`` names, or None when no part of the export holds it."""
        segments = uri.split("/")
        if not uri or ".." in segments or uri.startswith("/") or is_url(uri):
            return None
        entry = self._index.get(uri)
        if entry is not None:
            return entry
        entry = self.src.get(uri)
        if entry is not None:
            return entry
        if len(segments) < 2:
            return None
        # A wrapper folder the canonical rule did not catch: match on the path's tail.
        for candidate in self.src.by_name(segments[-1]):
            if candidate.path.endswith("/" + uri) or (
                candidate.rel.count("/") >= 1 and uri.endswith("/" + candidate.rel)
            ):
                return candidate
        return None


# ---------------------------------------------------------------------------------------------
# Media
# ---------------------------------------------------------------------------------------------


def sane_time(value: Any):
    """Epoch seconds to UTC if plausible for a photo (1971 .. two days from now), else None."""
    from datetime import datetime, timedelta, timezone

    from vault.plugin_api import from_epoch

    when = from_epoch(value)
    if when is None:
        return None
    if when.year < 1971 or when > datetime.now(timezone.utc) + timedelta(days=2):
        return None
    return when


def taken_timestamp(media: dict):
    """The capture time Meta kept in ``media_metadata.*.exif_data[].taken_timestamp``, if sane."""
    meta = media.get("media_metadata")
    if not isinstance(meta, dict):
        return None
    for block in meta.values():
        for exif in as_list(dig(block, "exif_data")):
            if isinstance(exif, dict) and "taken_timestamp" in exif:
                when = sane_time(exif.get("taken_timestamp"))
                if when is not None:
                    return when
    return None


def html_only(tree: Tree, json_posts: re.Pattern[str], html_posts: re.Pattern[str]) -> bool:
    """True for the HTML variant: HTML posts pages and no JSON posts files."""
    return tree.any(html_posts) and not tree.any(json_posts)


def only_media(described_by: str) -> Warning_:
    """The warning for an export holding photos and videos but none of the files that describe
    them (``described_by``): one zip of an export Meta split into several, imported alone."""
    return Warning_(f"no {described_by} in this export, only photos and videos: if it came as several zips, give "
                    "them all to one `vault import` (a later import of all of them adds the posts and links "
                    "their photos)")


def posts_to_read(src, posts_files: list[tuple[str, Any]], also: Iterable[Any] = ()) -> tuple[list[tuple[str, Any]], list[Any]]:
    """(the posts files to read, the entries of those an earlier import read unchanged).

    A posts file's posts also draw on the other posts files (a post repeated keeps the first
    file's record) and on ``also`` (Facebook's check-ins): they are its ``depends``."""
    inputs = [entry for _, entry in posts_files] + list(also)
    unchanged = [entry for _, entry in posts_files if src.unchanged(entry, depends=inputs)]
    return [(path, entry) for path, entry in posts_files if entry not in unchanged], unchanged


def scanned_anyway(uri: str, folders: re.Pattern[str], exclude: re.Pattern[str] | None = None) -> bool:
    """True for a file a posts file names that :func:`media_items` finds by scanning ``folders``
    even when that posts file is not read: it need not be remembered with the posts file."""
    return bool(folders.search(uri)) and not (exclude is not None and exclude.search(uri)) and is_media_name(uri)


def natural_key(path: str) -> list:
    """Sort key that puts ``posts_2.json`` before ``posts_10.json``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def content_key(prefix: str, *parts: Any) -> str:
    import hashlib

    text = "\n".join("" if part is None else str(part) for part in parts)
    return prefix + hashlib.sha256(text.encode("utf-8")).hexdigest()


def html_error(service: str, what: str):
    """The UnsupportedInputError for an HTML-format export, with how to request JSON."""
    from vault.plugin_api import UnsupportedInputError

    return UnsupportedInputError(
        f"this is {what} in HTML format; vault reads only the JSON format of {service} exports",
        hint=(
            "request the export again in JSON: Accounts Center → Your information and permissions → "
            "Download your information → choose the profile → Format: JSON (the default is HTML)"
        ),
    )


START_PAGE = re.compile(r"^(?:start_here|index)\.html?$")


def is_html_export(tree: "Tree", posts_json: "re.Pattern[str]", posts_html: "re.Pattern[str]", root: "re.Pattern[str]") -> bool:
    """True for Meta's HTML-format export: HTML posts pages and no JSON ones, or a start page with
    the network's folders holding HTML and no JSON at all."""
    if tree.any(posts_json):
        return False
    if tree.any(posts_html):
        return True
    paths = [path for path, _ in tree.entries]
    mine = [path for path in paths if root.search(path)]
    return (any(START_PAGE.search(path) for path in paths) and bool(mine)
            and not any(path.endswith(".json") for path in mine)
            and any(path.endswith((".html", ".htm")) for path in mine))


def read_posts(stream: Any, rel: str, make: Callable[[dict], PostItem | Skipped | None], seen: set[str],
               not_a_post: Callable[[dict], None]) -> Iterator[PostItem | Skipped | Warning_]:
    """The posts of one posts file (``stream`` yields ``(index, entry)`` and Skipped values).

    Each entry becomes ``make(entry)``: an item, a Skipped, or None for an entry that is no post
    (handed to ``not_a_post``).  An entry ``make`` cannot read is a Skipped naming its position;
    a post already in ``seen`` (repeated in another part file or zip) is dropped.  A file in
    which no entry was found at all ends with a warning.
    """
    found = 0
    for got in stream:
        if isinstance(got, Skipped):
            yield got
            continue
        index, post = got
        if not isinstance(post, dict):
            continue
        found += 1
        try:
            item = make(post)
        except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
            yield Skipped(rel, f"post #{index} could not be read: {exc}")
            continue
        if item is None:
            not_a_post(post)
            continue
        if isinstance(item, Skipped):
            yield item
            continue
        if item.source_id in seen:
            continue
        seen.add(item.source_id)
        yield item
    if not found and not stream.empty:
        yield Warning_("no posts found: the file's structure is not one this importer knows", path=rel)
