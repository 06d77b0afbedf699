"""Bluesky repository exports (``repo.car``).

Detection is by content: a member whose bytes start with a CAR v1 header (a varint length and
the DAG-CBOR map ``{roots, version: 1}``), whatever its name.

Reading: the CAR's root is the signed commit ``{did, version, data, rev, sig}``; ``data`` is the
root of a Merkle Search Tree whose nodes are ``{l, e: [{p, k, v, t}]}``: ``l`` the subtree of
keys before the first entry, each entry's key ``k`` the suffix after the first ``p`` bytes of the
previous key, ``v`` the record's CID and ``t`` the subtree after it.  Walking it gives every
``<collection>/<rkey>`` key; blocks are looked up by CID, so their order in the file, duplicates
and unrelated extra blocks do not matter.  The signature is not checked (the export comes from
the owner's own server; nothing here depends on it).

What becomes what: ``app.bsky.feed.post`` records -> ``PostItem``:

* ``source_id`` = ``at://<did>/app.bsky.feed.post/<rkey>``; ``url`` =
  ``https://bsky.app/profile/<did>/post/<rkey>``; ``text`` as stored; ``created_at`` =
  ``createdAt`` (client-supplied), else the time in the rkey (a TID);
* ``reply_to`` = ``reply.parent.uri`` (the parent's ``source_id`` form);
* ``links`` = facet links (``app.bsky.richtext.facet#link``), then an external embed's ``uri``,
  then a quoted post's web URL;
* a quote (``app.bsky.embed.record`` / ``recordWithMedia``) is **not** ``repost_of``: its text is
  the owner's own, and ``repost_of`` marks a repost of someone else's words (an X retweet).  The
  quoted post becomes a link (its ``https://bsky.app/...`` URL, which is also how X archives
  carry a quote tweet) and ``extra["quote"]`` keeps its ``at://`` URI;
* image and video blobs are not in the CAR, so they give no media; ``extra["images"]`` /
  ``extra["video"]`` keep their alt text, MIME type and blob CID for a later fetch.

Likes, reposts, follows, profile and other collections are not posts; they are counted
(``Held``) so the report says what the repository held.  A CAR that is cut short
or damaged yields every post whose blocks precede the damage, plus a ``Skipped`` saying so.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator

from importers.common.shapes import as_list
from vault.plugin_api import ArchiveMemberError, Held, Item, PostItem, Skipped, Warning_, parse_iso

from ..common.members import read_whole
from ..common.probing import probe_candidates
from .dagcbor import CID, DagCborError, decode, read_car, read_header

if TYPE_CHECKING:
    from vault.plugin_api import Entry, ExportSource

# A repository of a very active account is hundreds of MB at most.
CAR_LIMIT = 4 * 2**30
_HEAD = 4096
POST_COLLECTION = "app.bsky.feed.post"
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# How the report names the other collections' records (others by their NSID).
_HELD_NAMES = {
    "app.bsky.graph.follow": "follow records",
    "app.bsky.feed.like": "like records",
    "app.bsky.feed.repost": "repost records",
    "app.bsky.actor.profile": "profile records",
    "app.bsky.graph.block": "block records",
    "app.bsky.graph.list": "list records",
    "app.bsky.graph.listitem": "list item records",
    "app.bsky.feed.threadgate": "threadgate records",
    "app.bsky.feed.postgate": "postgate records",
    "chat.bsky.actor.declaration": "chat declaration records",
}


class BlueskyImporter:
    """Reads Bluesky ``repo.car`` exports; see the module docstring for what becomes what."""

    name = "bluesky"
    version = "1"
    description = "Bluesky repository export (repo.car, CAR v1 / DAG-CBOR): posts, replies, quotes, links"
    reads = "repo.car (Settings → Account → Export my data), alone, zipped or in a folder"

    def recognize(self, src: "ExportSource") -> int:
        """90 when a member starts with a CAR v1 header that names a root, else 0."""
        return 90 if _car_entries(src) else 0

    def read(self, src: "ExportSource") -> Iterator[Item]:
        """Yield a PostItem per post record of every CAR member; damage as Skipped values."""
        for entry in _car_entries(src):
            yield from _read_repo(entry)


def _car_entries(src: "ExportSource") -> list["Entry"]:
    """Members that start with a CAR v1 header, in archive order.

    Small exports (a bare repo.car, a zip of repo.car and chat.jsonl) are probed whatever the
    names; in bigger ones only members named ``*.car`` are.
    """
    out = []
    for entry in probe_candidates(src, ".car", max_probes=None):
        try:
            with entry.open() as stream:
                head = stream.read(_HEAD)
        except (ArchiveMemberError, OSError):
            continue
        try:
            roots, _ = read_header(head)
        except DagCborError:
            continue
        if roots:
            out.append(entry)
    return out


def _read_repo(entry: "Entry") -> Iterator[Item]:
    data, unreadable = read_whole(entry, CAR_LIMIT)
    if data is None:
        if unreadable is not None:
            yield unreadable
        return
    try:
        car = read_car(data)
    except DagCborError as exc:
        yield Skipped(entry.rel, f"not a readable CAR file: {exc}")
        return
    for problem in car.problems:
        yield Skipped(entry.rel, problem)

    blocks = car.blocks
    commit = None
    for root in car.roots:
        commit = _node(blocks, root)
        if isinstance(commit, dict) and isinstance(commit.get("data"), CID):
            break
        commit = None
    if commit is None:
        yield Skipped(entry.rel, "the repository's commit block is missing or unreadable; no posts can be found")
        return
    did = commit.get("did") if isinstance(commit.get("did"), str) else None
    if not did:
        yield Skipped(entry.rel, "the repository's commit names no DID")
        return

    held: dict[str, int] = {}
    for key, value in walk_mst(blocks, commit["data"], entry.rel):
        if isinstance(key, Skipped):
            yield key
            continue
        collection, _, rkey = key.partition("/")
        if collection != POST_COLLECTION or not rkey:
            what = _HELD_NAMES.get(collection, f"{collection} records")
            held[what] = held.get(what, 0) + 1
            continue
        record = _node(blocks, value)
        if record is None:
            yield Skipped(f"{entry.rel}:{key}", "the record's block is missing or unreadable")
            continue
        if not isinstance(record, dict) or record.get("$type", POST_COLLECTION) != POST_COLLECTION:
            yield Warning_(f"{key} is not a post record; ignored", path=entry.rel)
            continue
        yield _post(record, did, rkey, entry.rel)
    for what, count in held.items():
        yield Held(what, count)


def _node(blocks: dict[bytes, Any], cid: Any) -> Any:
    """The decoded block ``cid`` names, or None when it is absent or not valid DAG-CBOR."""
    if not isinstance(cid, CID):
        return None
    block = blocks.get(cid.raw)
    if block is None:
        return None
    try:
        return decode(block)
    except DagCborError:
        return None


def walk_mst(blocks: dict[bytes, Any], root: CID, rel: str) -> Iterator[tuple[str, CID] | tuple[Skipped, None]]:
    """(key, value CID) of every MST entry under ``root`` in key order.

    A missing or malformed node is yielded as ``(Skipped, None)`` and its subtree is skipped;
    a node seen twice (a cycle a crafted file could contain) is walked once.
    """
    seen: set[bytes] = set()
    # Explicit stack of pending work: ("node", cid) or ("entry", key, value); deep trees must not
    # hit the recursion limit.
    stack: list[tuple[Any, ...]] = [("node", root)]
    while stack:
        task = stack.pop()
        if task[0] == "entry":
            yield task[1], task[2]
            continue
        cid = task[1]
        if cid.raw in seen:
            continue
        seen.add(cid.raw)
        node = _node(blocks, cid)
        if not isinstance(node, dict) or not isinstance(node.get("e", []), list):
            yield Skipped(rel, f"repository tree node {cid} is missing or unreadable; the records under it are not imported"), None
            continue
        pending: list[tuple[Any, ...]] = []
        if isinstance(node.get("l"), CID):
            pending.append(("node", node["l"]))
        previous = b""
        for entry in node.get("e") or []:
            if not isinstance(entry, dict):
                continue
            prefix, suffix = entry.get("p"), entry.get("k")
            key_bytes = previous[: prefix if isinstance(prefix, int) else 0] + (suffix if isinstance(suffix, bytes) else b"")
            previous = key_bytes
            if isinstance(entry.get("v"), CID):
                key = key_bytes.decode("utf-8", errors="replace")
                pending.append(("entry", key, entry["v"]))
            if isinstance(entry.get("t"), CID):
                pending.append(("node", entry["t"]))
        stack.extend(reversed(pending))


def _post(record: dict, did: str, rkey: str, rel: str) -> Item:
    uri = f"at://{did}/{POST_COLLECTION}/{rkey}"
    created = parse_iso(record.get("createdAt") if isinstance(record.get("createdAt"), str) else None)
    if created is None:
        created = tid_time(rkey)
    if created is None:
        return Skipped(f"{rel}:{POST_COLLECTION}/{rkey}", "post without a usable createdAt")

    links = _facet_links(record)
    extra: dict[str, Any] = {}
    if isinstance(record.get("langs"), list):
        extra["langs"] = [lang for lang in record["langs"] if isinstance(lang, str)]
    _read_embed(_dict(record.get("embed")), links, extra)

    text = record.get("text") if isinstance(record.get("text"), str) else None
    return PostItem(
        source_id=uri,
        created_at=created,
        text=text or None,
        url=web_url(uri),
        links=links,
        reply_to=_reply_parent(record),
        member=rel,
        extra=extra,
        raw=_jsonable(record),
    )


def _facet_links(record: dict) -> list[str]:
    """The link targets of the post's rich-text facets, in order."""
    links: list[str] = []
    for facet in as_list(record.get("facets")):
        for feature in as_list(facet.get("features") if isinstance(facet, dict) else None):
            if isinstance(feature, dict) and feature.get("$type") == "app.bsky.richtext.facet#link":
                _add(links, feature.get("uri"))
    return links


def _read_embed(embed: dict, links: list[str], extra: dict[str, Any]) -> None:
    """Add what the post's embed holds to ``links`` (an external card's page, a quoted post's
    page) and ``extra`` (``quote``, ``images``, ``video``)."""
    kind = embed.get("$type")
    # recordWithMedia: a quote plus its own images/video/external card under "media".
    media_embed = _dict(embed.get("media")) if kind == "app.bsky.embed.recordWithMedia" else embed
    if kind == "app.bsky.embed.external":
        _add(links, _dict(embed.get("external")).get("uri"))
    if kind in ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia"):
        quoted = _quoted_uri(embed)
        if quoted is not None:
            extra["quote"] = quoted
            _add(links, web_url(quoted) or quoted)
    media_kind = media_embed.get("$type")
    if media_kind == "app.bsky.embed.external" and media_embed is not embed:
        _add(links, _dict(media_embed.get("external")).get("uri"))
    if media_kind == "app.bsky.embed.images":
        images = [_blob_info(image.get("image"), image.get("alt")) for image in as_list(media_embed.get("images"))
                  if isinstance(image, dict)]
        if images:
            extra["images"] = images
    if media_kind == "app.bsky.embed.video":
        extra["video"] = _blob_info(media_embed.get("video"), media_embed.get("alt"))


def _quoted_uri(embed: dict) -> str | None:
    """The at:// uri of the post a record or recordWithMedia embed quotes."""
    ref = embed.get("record")
    if embed.get("$type") == "app.bsky.embed.recordWithMedia" and isinstance(ref, dict):
        ref = ref.get("record")  # recordWithMedia wraps the strong ref once more
    quoted = ref.get("uri") if isinstance(ref, dict) else None
    return quoted if isinstance(quoted, str) else None


def _reply_parent(record: dict) -> str | None:
    reply = record.get("reply")
    if isinstance(reply, dict) and isinstance(reply.get("parent"), dict):
        return reply["parent"].get("uri") if isinstance(reply["parent"].get("uri"), str) else None
    return None


def web_url(at_uri: str) -> str | None:
    """``at://<did>/app.bsky.feed.post/<rkey>`` -> ``https://bsky.app/profile/<did>/post/<rkey>``."""
    if not at_uri.startswith("at://"):
        return None
    parts = at_uri[5:].split("/")
    if len(parts) == 3 and parts[1] == POST_COLLECTION and parts[0] and parts[2]:
        return f"https://bsky.app/profile/{parts[0]}/post/{parts[2]}"
    return None


def tid_time(rkey: str) -> datetime | None:
    """The timestamp in a TID record key (13 base32-sortable characters: 53 bits of
    microseconds since the epoch, then a 10-bit clock id), or None for another kind of key."""
    if len(rkey) != 13 or any(ch not in _TID_ALPHABET for ch in rkey):
        return None
    number = 0
    for ch in rkey:
        number = number * 32 + _TID_ALPHABET.index(ch)
    micros = (number >> 10) & ((1 << 53) - 1)
    try:
        return datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc).replace(microsecond=0)
    except (OverflowError, OSError, ValueError):
        return None


def _blob_info(blob: Any, alt: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"alt": alt if isinstance(alt, str) else None}
    if isinstance(blob, dict):
        info["mime"] = blob.get("mimeType") if isinstance(blob.get("mimeType"), str) else None
        ref = blob.get("ref")
        info["cid"] = str(ref) if isinstance(ref, CID) else (blob.get("cid") if isinstance(blob.get("cid"), str) else None)
    return info


def _jsonable(value: Any) -> Any:
    """``value`` with CIDs as their text form and bytes as hex, so the raw record is JSON."""
    if isinstance(value, CID):
        return {"$link": str(value)}
    if isinstance(value, bytes):
        # atproto's JSON form of bytes: base64 without padding.
        return {"$bytes": base64.b64encode(value).decode("ascii").rstrip("=")}
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}



def _add(items: list[str], value: Any) -> None:
    if isinstance(value, str) and value and value not in items:
        items.append(value)
