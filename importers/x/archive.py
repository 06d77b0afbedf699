"""How an X archive is laid out: its manifest, its ``window.YTD.<type>.partN = [...]`` data parts
found by name or by content, and how a whole ``.js`` member is read."""

from __future__ import annotations

import json
import posixpath
import re
from typing import TYPE_CHECKING, Any

from importers.common.shapes import as_list
from vault.plugin_api import ArchiveMemberError, Skipped

from ..common.members import read_whole
from ..common.probing import probe_candidates
from .fields import int_or_none

if TYPE_CHECKING:
    from vault.plugin_api import Entry, ExportSource

# data/manifest.js, read whole; tweets.js, which runs to hundreds of MB, is streamed.
JS_LIMIT = 64 * 2**20
# recognize() reads this much of a member; the JS prefix is within the first few bytes.
_HEAD = 256
_MANIFEST_PREFIX = re.compile(r"\s*window\.__THAR_CONFIG\s*=")
_YTD_PREFIX = re.compile(r"\s*window\.YTD\.([A-Za-z0-9_]+)\.part(\d+)\s*=")
TWEET_TYPES = ("tweets", "tweet")  # dataTypes keys and YTD global names: current, then 2019-22


def head_text(entry: "Entry") -> str:
    """The first bytes of a member as text ("" when unreadable)."""
    try:
        with entry.open() as stream:
            data = stream.read(_HEAD)
    except (ArchiveMemberError, OSError):
        return ""
    return data.decode("utf-8-sig", errors="replace")


def find_manifest(src: "ExportSource") -> tuple["Entry", str] | None:
    """(manifest entry, the archive's data folder: see ``data_folder``), found by content."""
    for entry in src.by_name("manifest.js"):
        folder = data_folder(entry)
        if folder is not None and _MANIFEST_PREFIX.match(head_text(entry)):
            return entry, folder
    return None


def data_folder(entry: "Entry") -> str | None:
    """The folder of the archive's ``data/`` that holds this member, as a prefix of member paths:
    "data/" (or "x/data/" under a wrapper), or "" when the export given is that folder itself
    (someone who unpacked the zip and named its ``data`` folder).  None for a member in a
    subfolder of it.

    Taken from the member's rel, else from its full path: a zip of nothing but ``data/`` has
    that folder stripped from rel as a wrapper, and ``src.get`` finds full paths too.
    """
    name = posixpath.basename(entry.path)
    for path in (entry.rel, entry.path):
        if path == name:
            return ""
        if path == "data/" + name or path.endswith("/data/" + name):
            return path[: -len(name)]
    return None


def in_archive(folder: str, path: str) -> str:
    """A path as the manifest spells it, from the archive's top ("data/tweets.js"), as a member
    path of this export, whose data folder is ``folder``."""
    path = path.removeprefix("./").lstrip("/")
    return folder + path[len("data/"):] if path.startswith("data/") else folder.removesuffix("data/") + path


def parts_by_content(src: "ExportSource") -> list["Entry"]:
    """Members whose text starts with ``window.YTD.tweets.partN =`` (or ``tweet``), in name order.

    Small exports (a bare file, whatever its name) have every member probed; bigger ones only
    ``*.js`` members, so detection stays cheap on a big archive of another kind.
    """
    out = []
    for entry in probe_candidates(src, ".js"):
        match = _YTD_PREFIX.match(head_text(entry))
        if match and match.group(1) in TWEET_TYPES:
            out.append(entry)
    return sorted(out, key=lambda e: natural_key(e.rel))


def natural_key(path: str) -> list[Any]:
    """Sort key that puts tweets-part2.js before tweets-part10.js."""
    return [int(bit) if bit.isdigit() else bit for bit in re.split(r"(\d+)", path)]


def load_js(entry: "Entry") -> tuple[Any, Skipped | None]:
    """(parsed value, None) of a ``window.X = <json>;`` member, or (None, Skipped naming it).

    The JSON is the text after the first ``=``; a trailing ``;`` is dropped.
    """
    data, problem = read_whole(entry, JS_LIMIT)
    if data is None:
        return None, problem
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


def manifest_parts(manifest: Any, folder: str) -> tuple[list[tuple[str, int | None]], list[str]]:
    """(tweet part paths with their counts, media folders) that the manifest lists, as member
    paths of an export whose data folder is ``folder``."""
    parts: list[tuple[str, int | None]] = []
    media_dirs: list[str] = []
    types = manifest.get("dataTypes") if isinstance(manifest, dict) else None
    if not isinstance(types, dict):
        return parts, media_dirs
    for name in TWEET_TYPES:
        info = types.get(name)
        if not isinstance(info, dict):
            continue
        media = info.get("mediaDirectory")
        if isinstance(media, str) and media.strip("/"):
            media_dirs.append(in_archive(folder, media.strip("/")))
        for item in as_list(info.get("files")):
            file_name = item.get("fileName") if isinstance(item, dict) else None
            if isinstance(file_name, str) and file_name:
                parts.append((in_archive(folder, file_name), int_or_none(item.get("count"))))
    return parts, media_dirs
