"""What the Meta exports' JSON says about their media files, and the media items made from it.

The importers read the JSON first (posts, albums) and note each media file it names in a
:class:`MediaCatalog`; :func:`media_items` then yields a ``MediaItem`` per file, with that
metadata, and one per media file the JSON does not name.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Iterator

from .reader import Tree, is_media_name, taken_timestamp, text_of


class MediaInfo:
    """What the JSON says about one media file, read like a dict (``info["caption"]``).  Slotted:
    an export can name a hundred thousand files, and a dict apiece took 184 bytes, this 64."""

    __slots__ = ("created_at", "taken_at", "caption", "member")
    KEYS = __slots__

    def __init__(self, created_at: Any, taken_at: Any, caption: str | None, member: str) -> None:
        self.created_at = created_at
        self.taken_at = taken_at
        self.caption = caption
        self.member = member

    def __getitem__(self, key: str) -> Any:
        if key not in self.KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.KEYS:
            raise KeyError(key)
        setattr(self, key, value)

    def __repr__(self) -> str:
        return "MediaInfo(" + ", ".join(f"{key}={getattr(self, key)!r}" for key in self.KEYS) + ")"


class MediaCatalog:
    """Media ``uri`` -> what the JSON says about it (a :class:`MediaInfo`), merged over every
    file naming it."""

    def __init__(self, tree: Tree) -> None:
        self.info: dict[str, MediaInfo] = {}
        # Local files the JSON names only as video thumbnails: not media of their own.
        self.thumbnails: set[str] = set()
        self._tree = tree  # whose member names the uris share (Tree.shared)

    def add(self, uri: str, media: dict, member: str, caption: str | None = None, created_at=None) -> None:
        """Note ``uri``; ``caption`` defaults to the media's ``description`` (Facebook).  What a
        file names first wins; a later file fills in only what is still unknown."""
        from vault.plugin_api import from_epoch

        fresh = MediaInfo(from_epoch(media.get("creation_timestamp")) or created_at, taken_timestamp(media),
                          caption if caption is not None else text_of(media.get("description")), member)
        known = self.info.get(uri)
        if known is None:
            self.info[self._tree.shared(uri)] = fresh
            return
        for key in MediaInfo.KEYS:
            value = getattr(fresh, key)
            if getattr(known, key) is None and value is not None:
                setattr(known, key, value)

    def __contains__(self, uri: str) -> bool:
        return uri in self.info

    def __iter__(self) -> Iterator[str]:
        return iter(self.info)

    def __getitem__(self, uri: str) -> MediaInfo:
        return self.info[uri]


def media_items(tree: Tree, catalog: MediaCatalog, folders: re.Pattern[str],
                exclude: re.Pattern[str] | None = None) -> Iterator[Any]:
    """MediaItems for every file ``catalog`` names, then for unnamed media files under ``folders``.

    A named file that no part of the export holds gives one ``Warning_`` (the posts naming it
    still list its uri, so a later import of the part holding it links it).
    """
    from vault.plugin_api import MediaItem, Warning_

    done: set[int] = set()
    for uri in catalog:
        info = catalog[uri]
        entry = tree.lookup(uri)
        if entry is None:
            tree.src.unsettled(info["member"])  # read it again: a later export may hold the file
            yield Warning_(f"media file missing from the export: {uri}", path=info["member"])
            continue
        done.add(id(entry))
        yield MediaItem.from_entry(
            entry, uri,
            filename=posixpath.basename(entry.path),
            created_at=info["created_at"],
            taken_at=info["taken_at"],
            caption=info["caption"],
        )
    for path, entry in tree.match(folders):
        if id(entry) in done or path in catalog or path in catalog.thumbnails or not is_media_name(path):
            continue
        if exclude is not None and exclude.search(path):
            continue
        done.add(id(entry))
        yield MediaItem.from_entry(entry, path, filename=posixpath.basename(entry.path))


def store_media_ahead(tree: Tree, folders: re.Pattern[str], exclude: re.Pattern[str] | None = None) -> None:
    """Tell the pipeline which files :func:`media_items` will yield from ``folders`` before the
    posts files are read (``ExportSource.store_ahead``): a big import stores them meanwhile."""
    ahead = [(entry, path) for path, entry in tree.match(folders)
             if is_media_name(path) and not (exclude is not None and exclude.search(path))]
    tree.src.store_ahead(ahead)
