"""The built-in ``files`` source: a plain folder (or zip) of photos and videos, e.g. a camera roll.

Every photo or video becomes a media record; capture time, size and MIME type come from the bytes
(EXIF, content sniffing) through the pipeline, never from file-system times.  Other files are
counted and ignored.
"""

from __future__ import annotations

import posixpath
from typing import Iterator

from vault.plugin_api import Item, MediaItem, Warning_

MEDIA_EXTENSIONS = {
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".hif", ".avif", ".tif", ".tiff", ".bmp",
    ".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp",
}


def is_media_name(path: str) -> bool:
    return posixpath.splitext(path)[1].lower() in MEDIA_EXTENSIONS


class FilesImporter:
    name = "files"
    version = "1"
    description = "a folder or zip of photos and videos (camera roll)"
    reads = "any folder or zip: .jpg .png .heic .avif .gif .webp .mp4 .mov ... (EXIF DateTimeOriginal as capture time)"

    def recognize(self, src) -> int:
        entries = [e for e in src.entries if not posixpath.basename(e.path).startswith(".")]
        if not entries:
            return 0
        media = sum(1 for e in entries if is_media_name(e.path))
        # Low confidence on purpose: any specific importer that knows the export wins.
        return 10 if media and media >= len(entries) // 2 else 0

    def read(self, src) -> Iterator[Item]:
        ignored = 0
        for entry in src.entries:
            name = posixpath.basename(entry.path)
            if name.startswith("."):
                continue
            if not is_media_name(entry.path):
                ignored += 1
                continue
            yield MediaItem.from_entry(entry, entry.rel, filename=name)
        if ignored:
            yield Warning_(f"ignored {ignored} file(s) that are not photos or videos")
