"""How an X archive is laid out: its manifest, its ``window.YTD.<type>.partN = [...]`` data parts
found by name or by content, and how a whole ``.js`` member is read."""

from __future__ import annotations

import json
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
    """(manifest entry, base folder with a trailing "/" or "") of the archive, by content."""
    for entry in src.by_name("manifest.js"):
        base = root_of(entry, "data/manifest.js")
        if base is not None and _MANIFEST_PREFIX.match(head_text(entry)):
            return entry, base
    return None


def root_of(entry: "Entry", inside: str) -> str | None:
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


def manifest_parts(manifest: Any, base: str) -> tuple[list[tuple[str, int | None]], list[str]]:
    """(tweet part paths with their counts, media folders) that the manifest lists."""
    parts: list[tuple[str, int | None]] = []
    media_dirs: list[str] = []
    types = manifest.get("dataTypes") if isinstance(manifest, dict) else None
    if not isinstance(types, dict):
        return parts, media_dirs
    for name in TWEET_TYPES:
        info = types.get(name)
        if not isinstance(info, dict):
            continue
        folder = info.get("mediaDirectory")
        if isinstance(folder, str) and folder.strip("/"):
            media_dirs.append(base + folder.strip("/"))
        for item in as_list(info.get("files")):
            file_name = item.get("fileName") if isinstance(item, dict) else None
            if isinstance(file_name, str) and file_name:
                parts.append((base + file_name.removeprefix("./").lstrip("/"), int_or_none(item.get("count"))))
    return parts, media_dirs
