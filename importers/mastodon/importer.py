"""Mastodon account archives ("Request your archive").

Containers: ``.tar.gz`` (Mastodon <= 4.1) and ``.zip`` (4.2+), or an unpacked folder; the archive
layer reads them all and refuses hostile members (links, ``..``, absolute paths) before this
module sees anything, recording them in ``src.problems`` (which the pipeline reports, exit 3).

Detection is by content: a root ``outbox.json`` whose JSON says ``"type": "OrderedCollection"``
(95 with an ``actor.json`` beside it, 60 without).

What becomes what:

* ``Create`` activities whose ``object`` is a status (``Note``, ``Question``, ``Article``, ...) ->
  ``PostItem``: ``source_id`` = the status URI (``object.id``, stable across archives, so a newer
  archive adds only what is new); ``url`` = ``object.url``; ``created_at`` = ``published``;
  ``reply_to`` = ``inReplyTo`` (the parent's status URI: the ``source_id`` it has in the vault);
  ``content_warning`` = ``summary``; ``source_visibility`` from the addressing (see
  :func:`visibility`); ``text`` from the HTML ``content`` (see :func:`html_to_text`); ``links`` =
  the hrefs of the content's ordinary links (mention and hashtag links are the text's own
  markup, not links the author shared) and of a quoted status, if any.
* attachments -> ``MediaItem``: ``url`` with its leading ``/`` stripped is a path *inside the
  archive* (never the file system), which is also the ref; ``name`` is the alt text.  A file the
  archive lacks gives a ``Warning_`` and the post keeps the ref.
* ``Announce`` (boosts), likes and bookmarks are not posts and are not read (boosts are counted
  as ``Held`` so the report says what the archive held).

Media are yielded after all posts, in archive order, because a tar can only be read forwards
cheaply (Mastodon writes the media before ``outbox.json``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Iterator

from importers.common.shapes import as_list
from vault.plugin_api import ArchiveMemberError, Held, Item, MediaItem, PostItem, Skipped, Warning_, parse_iso

from ..common.members import RecordStream, load_json

if TYPE_CHECKING:
    from vault.plugin_api import Entry, ExportSource

# actor.json, read whole; outbox.json, which can be hundreds of MB, is streamed.
JSON_LIMIT = 64 * 2**20
# Enough of outbox.json to get past "@context" to "type" (Mastodon writes them first).
_HEAD = 64 * 1024
PUBLIC = frozenset({"https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"})
_STATUS_TYPES = frozenset({"Note", "Question", "Article", "Page"})
# Elements that end a paragraph (a blank line) or a line (a newline) in plain text.
_PARAGRAPHS = frozenset({"p", "div", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"})
_LINES = frozenset({"li"})
_OUTBOX_TYPE = re.compile(r'"type"\s*:\s*"OrderedCollection"')
# Status HTML that is only <p> paragraphs of text (no "<" or "&" in it) and <br> line breaks.
_PLAIN_PARAGRAPHS = re.compile(r"(?:<p>[^<&]*(?:<br ?/?>[^<&]*)*</p>)*")
_BREAK = re.compile(r"<br ?/?>")


class MastodonImporter:
    """Reads Mastodon archives; see the module docstring for what becomes what."""

    name = "mastodon"
    version = "1"
    description = "Mastodon account archive (tar.gz up to 4.1, zip after): statuses, replies, attachments"
    reads = "archive-*.tar.gz / .zip or folder with outbox.json, actor.json and media_attachments/"

    # -- detection ------------------------------------------------------------------------------

    def recognize(self, src: "ExportSource") -> int:
        """95 for an ActivityStreams ``OrderedCollection`` outbox.json plus actor.json, 60 for the
        outbox alone, else 0.  Reads at most the first 64 KiB of outbox.json."""
        outbox = src.get("outbox.json")
        if outbox is None or not _looks_like_outbox(outbox):
            return 0
        return 95 if src.get("actor.json") is not None else 60

    # -- reading --------------------------------------------------------------------------------

    def read(self, src: "ExportSource") -> Iterator[Item]:
        """Yield every status as a PostItem, then its attachments as MediaItems."""
        actor_entry = src.get("actor.json")
        followers, problem = _followers_collection(actor_entry)
        if problem is not None:
            yield problem

        outbox_entry = src.get("outbox.json")
        if outbox_entry is None:
            return
        if src.unchanged(outbox_entry, depends=[actor_entry] if actor_entry else []):
            yield from _recalled(src, outbox_entry)  # read by an earlier import: only its media and boosts
            return
        # Read as a stream: an outbox can be hundreds of MB; memory follows its largest activity.
        items = RecordStream(outbox_entry, ("orderedItems",))
        media: dict[str, tuple["Entry", dict, Any]] = {}  # ref -> (entry, attachment, published)
        damaged = False
        boosts = 0
        for got in items:
            if isinstance(got, Skipped):
                damaged = True
                yield got
                continue
            number, activity = got
            index = number - 1
            if not isinstance(activity, dict) or _type(activity) != "Create":
                # Announce (boosts) and anything else: not the owner's posts; boosts are counted.
                boosts += isinstance(activity, dict) and _type(activity) == "Announce"
                continue
            status = activity.get("object")
            if not isinstance(status, dict) or _type(status) not in _STATUS_TYPES:
                continue
            post, refs_found, problems = _post(status, activity, followers, src, outbox_entry.rel, index)
            yield from problems
            if post is None:
                continue
            if len(refs_found) < len(post.media_refs):  # a file it names is missing: read it again next time
                src.unsettled(outbox_entry.rel)
            for ref, (entry, attachment) in refs_found.items():
                media.setdefault(ref, (entry, attachment, post.created_at))
            yield post
        if "orderedItems" not in items.arrays and not damaged:
            yield Skipped(outbox_entry.rel, "no orderedItems list in outbox.json")
            return
        if boosts:
            yield Held("boosts", boosts)
        src.remember(outbox_entry, [f"boosts:{boosts}", *media], inputs=[entry for entry, _, _ in media.values()])

        yield from _attachments(src, media)


def _followers_collection(actor_entry: "Entry | None") -> tuple[str | None, Skipped | None]:
    """(the owner's followers collection IRI from actor.json, or None; the problem reading it)."""
    if actor_entry is None:
        return None, None
    root, problem = _load_json(actor_entry)
    if problem is not None or not isinstance(root, dict):
        return None, problem
    followers = root.get("followers")
    return (followers if isinstance(followers, str) else None), None


def _attachments(src: "ExportSource", media: dict[str, tuple["Entry", dict, Any]]) -> Iterator[MediaItem]:
    """The attachment files the statuses named, in the export's order (ref -> entry, the
    attachment's ActivityStreams object, the status's time)."""
    order = {id(entry): i for i, entry in enumerate(src.entries)}
    for ref, (entry, attachment, published) in sorted(media.items(), key=lambda kv: order.get(id(kv[1][0]), 0)):
        yield MediaItem.from_entry(
            entry, ref,
            created_at=published,
            mime=_str(attachment.get("mediaType")),
            width=_int(attachment.get("width")),
            height=_int(attachment.get("height")),
            alt=_str(attachment.get("name")),
        )


def _recalled(src: "ExportSource", outbox_entry: "Entry") -> Iterator[Item]:
    """What an outbox read by an earlier import still gives: its boosts, and its media files
    (unchanged, or it would have been read again), which skip by their own fingerprints."""
    for name in src.recalled(outbox_entry):
        if name.startswith("boosts:"):
            if int(name[7:]):
                yield Held("boosts", int(name[7:]))
            continue
        entry = src.get(name)
        if entry is not None:
            yield MediaItem.from_entry(entry, name)


# ---------------------------------------------------------------------------------------------
# Statuses
# ---------------------------------------------------------------------------------------------


def _post(status: dict, activity: dict, followers: str | None, src: "ExportSource", member: str,
          index: int) -> tuple[PostItem | None, dict[str, tuple["Entry", dict]], list[Item]]:
    """(post or None, {ref: (entry, attachment)} of files found, problems) for one status."""
    problems: list[Item] = []
    found: dict[str, tuple["Entry", dict]] = {}
    status_id = _href(status.get("id")) or _href(activity.get("id"))
    if status_id is None:
        return None, found, [Skipped(member, f"activity #{index + 1}: status without an id")]
    created = parse_iso(_str(status.get("published"))) or parse_iso(_str(activity.get("published")))
    if created is None:
        return None, found, [Skipped(member, f"status {status_id} has no valid published time")]

    content = status.get("content")
    if not isinstance(content, str):
        content_map = status.get("contentMap")
        content = next((v for v in content_map.values() if isinstance(v, str)), None) if isinstance(content_map, dict) else None
    text, links = html_to_text(content) if content else ("", [])
    quote = _href(status.get("quote")) or _href(status.get("quoteUri")) or _href(status.get("quoteUrl"))
    if quote and quote not in links:
        links.append(quote)

    refs: list[str] = []
    for attachment in as_list(status.get("attachment")):
        if not isinstance(attachment, dict):
            continue
        url = _href(attachment.get("url"))
        if not url:
            continue
        if "://" in url[:12]:
            # Not a file of the archive (a remote copy): at best a link.
            if url.startswith(("http://", "https://")) and url not in links:
                links.append(url)
            continue
        ref = archive_path(url)
        if ref is None:
            problems.append(Warning_(f"attachment path refused (outside the archive): {url[:200]}", path=member))
            continue
        if ref in refs:
            continue
        refs.append(ref)
        entry = src.get(ref)
        if entry is None:
            problems.append(Warning_(f"media file missing from the archive: {ref} (status {status_id})", path=member))
        else:
            found[ref] = (entry, attachment)

    post = PostItem(
        source_id=status_id,
        created_at=created,
        text=text or None,
        url=_href(status.get("url")),
        links=links,
        reply_to=_href(status.get("inReplyTo")),
        source_visibility=visibility(status, followers),
        media_refs=refs,
        content_warning=_str(status.get("summary")) or None,
        member=member,
        raw=status,
    )
    return post, found, problems


def visibility(status: dict, followers: str | None) -> str:
    """Mastodon's visibility from a status's addressing.

    Public in ``to`` -> "public"; Public in ``cc`` -> "unlisted"; the author's followers
    collection (``followers`` from actor.json; without it, any ``.../followers`` collection)
    -> "followers-only"; otherwise "direct".
    """
    to = {_href(a) for a in as_list(status.get("to"))} - {None}
    cc = {_href(a) for a in as_list(status.get("cc"))} - {None}
    if to & PUBLIC:
        return "public"
    if cc & PUBLIC:
        return "unlisted"
    audience = to | cc
    if followers is not None and followers in audience:
        return "followers-only"
    if followers is None and any(str(a).endswith("/followers") for a in audience):
        return "followers-only"
    return "direct"


def archive_path(url: str) -> str | None:
    """The archive member an attachment ``url`` names: leading slashes stripped, "." and empty
    segments dropped; None for a path with a ".." segment (it could only point outside)."""
    segments = [seg for seg in url.replace("\\", "/").split("/") if seg not in ("", ".")]
    if not segments or ".." in segments:
        return None
    return "/".join(segments)


# ---------------------------------------------------------------------------------------------
# HTML content -> text
# ---------------------------------------------------------------------------------------------


class _TextParser(HTMLParser):
    """Collects the text of Mastodon's sanitised status HTML as paragraphs, and its links."""

    def __init__(self) -> None:
        # convert_charrefs: entities are decoded by the parser, exactly once.
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []  # (separator before it, text)
        self.current: list[str] = []
        self.pending_sep = "\n\n"
        self.links: list[str] = []

    def _flush(self, sep_after: str) -> None:
        text = "".join(self.current).strip(" \t\r\n")
        self.current = []
        if text:
            self.blocks.append((self.pending_sep, text))
            self.pending_sep = sep_after
        elif sep_after == "\n\n":
            self.pending_sep = "\n\n"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.current.append("\n")
        elif tag in _PARAGRAPHS:
            self._flush("\n\n")
        elif tag in _LINES:
            self._flush("\n")
        elif tag == "a":
            values = dict(attrs)
            href = values.get("href")
            classes = (values.get("class") or "").split()
            if href and "mention" not in classes and "hashtag" not in classes and values.get("rel") != "tag":
                if href not in self.links:
                    self.links.append(href)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _PARAGRAPHS:
            self._flush("\n\n")
        elif tag in _LINES:
            self._flush("\n")

    def handle_data(self, data: str) -> None:
        self.current.append(data)

    def text(self) -> str:
        self._flush("\n\n")
        out: list[str] = []
        for sep, text in self.blocks:
            if out:
                out.append(sep)
            out.append(text)
        return "".join(out)


def html_to_text(content: str) -> tuple[str, list[str]]:
    """(plain text, link hrefs) of a status's HTML ``content``.

    Paragraphs are separated by a blank line, ``<br>`` becomes a newline, character references
    are decoded once (user-typed ``&lt;script&gt;`` becomes the text ``<script>``), every tag is
    dropped (the text of Mastodon's "invisible" URL spans is kept, so long URLs stay whole), and
    whitespace inside a paragraph is kept as it is.  Links exclude mention and hashtag anchors.
    """
    if _PLAIN_PARAGRAPHS.fullmatch(content):
        # Most statuses: paragraphs of plain text and line breaks, no tag with attributes and no
        # character reference; the same text as the parser gives, without running it.
        bodies = content[3:-4].split("</p><p>")  # no other "<p>" or "</p>" can be in them
        if "<br" in content:
            bodies = [_BREAK.sub("\n", body) for body in bodies]
        return "\n\n".join([text for body in bodies if (text := body.strip(" \t\r\n"))]), []
    parser = _TextParser()
    parser.feed(content)
    parser.close()
    return parser.text(), parser.links


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _looks_like_outbox(entry: "Entry") -> bool:
    """True when the member's first bytes are a JSON object saying ``"type": "OrderedCollection"``."""
    try:
        with entry.open() as stream:
            head = stream.read(_HEAD)
    except (ArchiveMemberError, OSError):
        return False
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    return text.startswith("{") and _OUTBOX_TYPE.search(text) is not None


def _load_json(entry: "Entry") -> tuple[Any, Skipped | None]:
    return load_json(entry, JSON_LIMIT)


def _type(obj: dict) -> str | None:
    value = obj.get("type")
    if isinstance(value, list):  # JSON-LD allows several types
        value = next((v for v in value if isinstance(v, str)), None)
    return value if isinstance(value, str) else None


def _href(value: Any) -> str | None:
    """A URI given as a string, or as an object with ``id`` / ``href`` (JSON-LD allows both)."""
    if value.__class__ is not str:  # the common case first: a plain string
        if isinstance(value, list):
            value = next(iter(value), None)
        if isinstance(value, dict):
            value = value.get("href") or value.get("id")
        if not isinstance(value, str):
            return None
    return value.strip() or None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

