"""The fast path of :class:`~importers.common.members.RecordStream`: array elements built by
ijson's C backend instead of event by event in Python.

It reads exactly the bytes the exact reader would (the same :class:`StringGuard`, in the same
chunks) and yields an element only when the exact reader would yield the same one: a chunk's
elements are handed out after the parser took the whole chunk without error, and only while
nothing in the member could bring a limit into play.  At the first sign of anything else (a cut
string, nesting that may go over the limit, an element that may be too large, bytes after the
array, a parse error) it stops and says so; the caller then reads the member again with the
exact reader, past the elements already given, which reports the problem in its own words.

What it takes on: a root array, or a root object whose first streamed array starts in the first
chunk, after values that the exact reader accepts, and is the last thing in the object (Mastodon's
outbox, Meta's ``{"..._v2": [...]}``).  Anything else goes to the exact reader from the start.

Nesting is followed per chunk at C speed: with escapes blanked, the quotes split the chunk into
text and structure; the structure's brackets, stripped of innermost pairs until none is left,
give the depth at the chunk's end and bounds on the deepest and shallowest point inside it.  Only
a chunk where the streamed array may close is walked bracket by bracket.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any, Callable, Generator

from vault.plugin_api import ArchiveMemberError

from .jsonguard import CHUNK, Builder, JsonLimits, StringGuard, blank_escapes

_WS = b" \t\r\n"
# U+FDD0, the guard's cut mark, as UTF-8 or as an escape: the exact reader skips its element.
_CUT_ESCAPE = re.compile(rb"\\u[Ff][Dd][Dd]0")
_CUT_UTF8 = "\ufdd0".encode()
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"\xef')
_STRUCTURE = re.compile(rb'["\[\]{}]')
# The exact reader counts 16 per parser event plus the characters of strings and keys; every
# event takes at least one byte of the file, so an element of n bytes counts at most 17 n.
_COST_PER_BYTE = 17
_OPEN = frozenset(b"[{")
# After this many chunks with fewer quotes and brackets than this in each on average, the member
# is read by the exact reader: its cost follows the parser's events, the fast path's the bytes.
_SPARSE_AFTER = 16
_SPARSE_TOKENS = 256


def available() -> bool:
    """True when ijson runs on its C backend (the pure-Python ones would not be faster)."""
    import ijson

    return bool(ijson.backend == "yajl2_c")


@dataclass(frozen=True)
class Layout:
    """Where the streamed array is: ``key`` ("" for a root array), ijson's ``prefix`` for its
    elements, the depth of the array itself, and how many container values precede it at that
    depth (the root object's values before it)."""

    key: str
    prefix: str
    depth: int
    before: int


def probe(head: bytes, limits: JsonLimits, wanted: Callable[[str], bool]) -> Layout | None:
    """The layout of a member whose first chunk is ``head``, or None when the fast path does not
    take it on."""
    text = head.lstrip(_WS)
    if text.startswith(b"["):
        return Layout("", "item", 1, 0)
    if not text.startswith(b"{"):
        return None
    import ijson

    events = ijson.basic_parse(io.BytesIO(head), use_float=True)
    seen: set[str] = set()
    size = 0
    before = 0
    try:
        next(events)  # start_map
        while True:
            kind, key = next(events)
            if kind != "map_key":
                return None  # the object ends in the first chunk: small, the exact reader takes it
            kind, value = next(events)
            if kind == "start_array" and wanted(key):
                if key in seen or "." in key:  # ijson's prefix could not tell it apart
                    return None
                return Layout(key, f"{key}.item", 2, before)
            builder = Builder(JsonLimits(limits.max_string, limits.max_item - size, limits.max_depth))
            if builder.build(kind, value, events):
                return None
            size += builder.size
            seen.add(key)
            before += kind in ("start_map", "start_array")
    except (ijson.JSONError, ValueError, StopIteration):
        return None


class _Unsure(Exception):
    """Internal: the fast path cannot vouch for what follows."""


class _Shape:
    """Follows the nesting of the bytes the parser is fed, chunk by chunk; see the module
    docstring.  Raises :class:`_Unsure` when an element may nest deeper than ``max_depth`` or a
    chunk holds U+FDD0 as UTF-8 (the escaped form is looked for by :class:`_Feed`)."""

    def __init__(self, layout: Layout, max_depth: int) -> None:
        self.base = layout.depth
        self.before = layout.before
        self.max_depth = max_depth
        self.depth = 0
        self.in_string = False
        self.open = False      # inside the streamed array
        self.closed = False    # the streamed array has ended
        self.brace = layout.depth == 2  # the root object's closing brace is still to come
        self.tokens = 0        # quotes and brackets seen

    def feed(self, chunk: bytes, blanked: tuple[bytes, bytes]) -> bool:
        """Take the next chunk; False when anything but the end of the root follows the array.
        ``blanked`` is the guard's (chunk, chunk with escapes blanked), when it is this chunk."""
        if self.closed:
            return self._tail(chunk)
        clean = blanked[1] if blanked[0] is chunk and len(blanked[1]) == len(chunk) else blank_escapes(chunk)
        # Two quotes side by side have nothing between them: dropped, they leave every bracket on
        # its side of every string.  Only strings with brackets in them keep their quotes.
        structure = clean.translate(_AS_SQUARE, _NOT_STRUCTURE)
        self.tokens += len(structure)
        if b"\xef" in structure:  # the lead byte of U+F000-U+FFFF, U+FDD0 among them: look closer
            if _CUT_UTF8 in chunk:
                raise _Unsure
            structure = structure.replace(b"\xef", b"")
        structure = structure.replace(b'""', b"")
        parts = structure.split(b'"') if b'"' in structure else [structure]
        brackets = b"".join(parts[1::2] if self.in_string else parts[0::2])
        inner = 0
        while True:
            stripped = brackets.replace(b"[]", b"")
            if len(stripped) == len(brackets):
                break
            brackets = stripped
            inner += 1
        closes = brackets.count(b"]")
        opens = len(brackets) - closes
        if self.open and self.depth - closes >= self.base:
            if self.depth + opens + inner - self.base > self.max_depth:
                raise _Unsure
            self.depth += opens - closes
            self.in_string ^= len(parts) % 2 == 0
            return True
        return self._walk(chunk, clean)

    def _walk(self, chunk: bytes, clean: bytes) -> bool:
        depth, in_string = self.depth, self.in_string
        for match in _STRUCTURE.finditer(clean):
            pos = match.start()
            byte = clean[pos]
            if byte == 0x22:
                in_string = not in_string
            elif in_string:
                continue
            elif byte in _OPEN:
                depth += 1
                if self.open:
                    if depth - self.base > self.max_depth:
                        raise _Unsure
                elif depth == self.base:
                    if self.before:
                        self.before -= 1
                    else:
                        self.open = True
            else:
                depth -= 1
                if self.open and depth < self.base:
                    self.open, self.closed = False, True
                    return self._tail(chunk[pos + 1:])
        self.depth, self.in_string = depth, in_string
        return True

    def _tail(self, data: bytes) -> bool:
        rest = data.strip(_WS)
        if rest[:1] == b"}" and self.brace:
            self.brace = False
            rest = rest[1:].lstrip(_WS)
        return not rest

    def ended(self) -> bool:
        return self.closed and not self.brace


class _Feed:
    """The guard's chunks as the C parser reads them, each checked before the parser sees it;
    a chunk that fails a check raises :class:`_Unsure` out of the parser instead."""

    def __init__(self, guard: StringGuard, head: bytes, layout: Layout, limits: JsonLimits) -> None:
        self.guard = guard
        self.head = head
        self.shape = _Shape(layout, limits.max_depth)
        self.most = limits.max_item // _COST_PER_BYTE
        self.pending = 0      # bytes since the start of the chunk that finished the last element
        self.last = 0         # bytes of the chunk before
        self.finished = False  # an element was finished since the last read
        self.chunks = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson's check that this reader gives bytes
            return b""
        if self.head:
            chunk, self.head = self.head, b""
        else:
            chunk = self.guard.read(CHUNK)
        self.pending = self.last if self.finished else self.pending + self.last
        self.last, self.finished = len(chunk), False
        too_big = self.pending + len(chunk) > self.most
        if too_big or self.guard.cuts or _CUT_ESCAPE.search(chunk) or not self.shape.feed(chunk, self.guard.blanked):
            raise _Unsure
        self.chunks += 1
        if self.chunks == _SPARSE_AFTER and self.shape.tokens < _SPARSE_AFTER * _SPARSE_TOKENS:
            # Long texts and little structure: the exact reader, with few events, is as fast.
            raise _Unsure
        return chunk


def read(guard: StringGuard, head: bytes, layout: Layout,
         limits: JsonLimits) -> Generator[Any, None, bool]:
    """Yield the elements of the streamed array, from ``head`` (the guard's first chunk) on.

    Returns True when the member was read to its end, False when the caller must read the rest
    with the exact reader (every element yielded so far is one that reader yields as well)."""
    import ijson

    feed = _Feed(guard, head, layout, limits)
    try:
        # The C reader parses a whole chunk before it hands out the elements finished in it.
        for element in ijson.items(feed, layout.prefix, buf_size=CHUNK, use_float=True):
            feed.finished = True
            yield element
    except (ijson.JSONError, ValueError, OSError, ArchiveMemberError, _Unsure):
        return False
    return feed.shape.ended()
