"""The pieces of the streaming JSON reader that bound what one element may cost.

:class:`StringGuard` sits between a member and the parser and cuts every over-long string, so
the parser never holds more than ``JsonLimits.max_string`` bytes of one token; :class:`Builder`
builds one element from parser events, counting its size and depth as it goes.  Both are used
by :class:`~importers.common.members.RecordStream`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator


@dataclass(frozen=True)
class JsonLimits:
    """What one streamed element may cost.  Real posts are a few KiB; these are far above."""

    max_string: int = 8 * 2**20   # bytes of one JSON string (text, key) as stored in the file
    max_item: int = 32 * 2**20    # about the bytes one element takes as Python objects
    max_depth: int = 100          # nesting of lists and objects inside one element


# A noncharacter that the reader appends to a string it has cut short; the element holding it
# is skipped.  A file that contains it on purpose only gets its own element skipped.
CUT = "\ufdd0"
CUT_ESCAPED = b"\\ufdd0"
CHUNK = 64 * 1024
# An escaped backslash or quote: the only escapes that can hide a quote or make one look escaped.
_QUOTING = re.compile(rb'\\[\\"]')
# Anything that ends a number or literal token; a chunk outside strings without one of these
# continues a single token (a parser buffers a token whole, as it does a string).
_TOKEN_END = re.compile(rb"[,:\[\]{}\s\"]")


def blank_escapes(chunk: bytes) -> bytes:
    """``chunk`` with every escaped backslash and escaped quote replaced by ``xx``: its quotes
    are then exactly the string delimiters, at the same offsets.  Other escapes (``\\n``,
    ``\\u00e9``) hold no quote and are left as they are: Meta's exports write every non-ASCII
    character as ``\\u00XX`` escapes, and blanking those too took seven times as long."""
    return _QUOTING.sub(b"xx", chunk)


class StringGuard:
    """A file-like reader over a member that cuts every JSON string longer than ``max_string``.

    A JSON parser must hold a whole string token before it can report it, so one 200 MB string
    would cost hundreds of megabytes whatever the parser.  This reader follows where strings
    start and end at C speed (escaped quotes and backslashes are blanked out with same-length
    fillers, then quotes are counted per chunk; only a chunk where a string runs over the limit is looked at closer) and
    replaces the rest of an oversized string by ``\\ufdd0``, so the parser never sees more than
    ``max_string`` bytes of one string.  A chunk never ends inside an escape sequence.

    ``after`` drops everything up to and including the first occurrence of those bytes (X's
    ``window.YTD.tweets.part0 =`` prefix); ``strip_tail`` drops a trailing ``;`` and blanks.
    """

    def __init__(self, stream: Any, max_string: int, after: bytes | None = None, strip_tail: bool = False) -> None:
        self._stream = stream
        self._max = max(max_string, CHUNK)
        self._after = after
        self._strip_tail = strip_tail
        self._carry = b""        # the start of an escape sequence cut by the chunk boundary
        self._held = b""         # the last chunk, held back while strip_tail needs to see the end
        self._started = False
        self._in_string = False
        self._run = 0            # bytes of the open string so far
        self._dropping = False   # inside an oversized string, after its cut
        self._bare = 0           # bytes of a number or literal token running over chunks
        self._out = b""
        self.cuts = 0
        # The last chunk handed on whole and unchanged, with its escapes blanked (for jsonfast).
        self.blanked: tuple[bytes, bytes] = (b"", b"")

    def read(self, size: int = -1) -> bytes:
        while not self._out:
            chunk = self._next()
            if chunk is None:
                return b""
            self._out = chunk
        if size is None or size < 0 or size >= len(self._out):
            out, self._out = self._out, b""
        else:
            out, self._out = self._out[:size], self._out[size:]
        return out

    def _next(self) -> bytes | None:
        """The next guarded bytes (possibly empty), or None at the end."""
        raw = self._stream.read(CHUNK)
        if not raw:
            if self._carry:
                tail, self._carry = self._carry, b""
                return self._tail(self._guard(tail), final=True)
            if self._held:
                return self._tail(b"", final=True)
            return None
        if not self._started:
            raw = self._skip_head(raw)
            if raw is None:
                return b""
        chunk = self._carry + raw
        clean = blank_escapes(chunk)
        # A backslash in the last five bytes may start an escape the chunk boundary cuts: it goes
        # with the next chunk (a complete short escape there, such as \n, goes along unharmed).
        cut = clean.rfind(b"\\")
        if cut != -1 and cut >= len(clean) - 5:
            chunk, clean, self._carry = chunk[:cut], clean[:cut], chunk[cut:]
        else:
            self._carry = b""
        out = self._tail(self._guard(chunk, clean), final=False)
        self.blanked = (out, clean)
        return out

    def _skip_head(self, raw: bytes) -> bytes | None:
        if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark, which parsers refuse
            raw = raw[3:]
        if self._after is not None:
            pos = raw.find(self._after)
            if pos == -1:
                raise ValueError(f"no {self._after.decode()!r} near the start")
            raw = raw[pos + len(self._after):]
        self._started = True
        return raw

    def _tail(self, data: bytes, final: bool) -> bytes:
        if not self._strip_tail:
            return data
        data, self._held = self._held + data, b""
        if final:
            return data.rstrip(b" \t\r\n;")
        # Hold back the trailing blanks and ';' until it is known whether more data follows.
        body = data.rstrip(b" \t\r\n;")
        self._held = data[len(body):]
        return body

    def _guard(self, chunk: bytes, clean: bytes | None = None) -> bytes:
        if clean is None:
            clean = blank_escapes(chunk)
        quotes = clean.count(b'"')
        first = clean.find(b'"')
        end_of_open = first if quotes else len(clean)
        if self._in_string and (self._dropping or self._run + end_of_open > self._max):
            # The string open since an earlier chunk is too long: it was fed up to that chunk's
            # end (at most max bytes); cut it there and drop the rest of it.
            out = b""
            if not self._dropping:
                self._dropping = True
                self.cuts += 1
                out = CUT_ESCAPED
            if not quotes:
                return out
            self._dropping = False
            self._in_string = False
            self._track(clean[first + 1:], quotes - 1)
            return out + chunk[first:]
        if not self._in_string and not quotes and _TOKEN_END.search(clean) is None:
            self._bare += len(clean)
            if self._bare > self._max:
                raise ValueError(f"a number or literal longer than {human_size(self._max)}")
        else:
            self._bare = 0
        self._track(clean, quotes)
        return chunk

    def _track(self, clean: bytes, quotes: int) -> None:
        """Advance the string state over ``clean``, which holds ``quotes`` real quotes."""
        if not quotes:
            if self._in_string:
                self._run += len(clean)
            return
        last = clean.rfind(b'"')
        self._in_string ^= bool(quotes & 1)
        if self._in_string:
            self._run = len(clean) - last - 1


def clean_error(exc: BaseException) -> str:
    """A parser error as one short line (yajl's messages carry a multi-line excerpt)."""
    text = str(exc)
    if text.startswith(("b'", 'b"')):  # yajl's message as bytes, with escaped newlines
        text = text[2:].split("\\n")[0]
    lines = text.strip().splitlines()
    return lines[0].rstrip(".") if lines else type(exc).__name__


class TooBig(Exception):
    """Internal: the element being built went over a limit; carries the reason."""


class Builder:
    """Builds one element from parser events, accounting for its size and depth."""

    __slots__ = ("limits", "stack", "keys", "size", "result", "cut")

    def __init__(self, limits: JsonLimits) -> None:
        self.limits = limits
        self.stack: list[Any] = []
        self.keys: list[str | None] = []
        self.size = 0
        self.result: Any = None
        self.cut = False

    def _add(self, value: Any) -> None:
        if not self.stack:
            self.result = value
            return
        top = self.stack[-1]
        if isinstance(top, list):
            top.append(value)
        else:
            top[self.keys[-1]] = value

    def build(self, kind: str, value: Any, events: Iterator[tuple[str, Any]]) -> str | None:
        """Build one value from its first event and the ones ``events`` brings.  Returns None, or
        why the value is refused (``is ...`` / ``holds ...``), with its events consumed."""
        try:
            done = self.event(kind, value)
            while not done:
                kind, value = next(events)
                done = self.event(kind, value)
        except TooBig as exc:
            skip_value(events, len(self.stack))
            return f"is {exc}"
        if self.cut:
            return f"holds a text longer than {human_size(self.limits.max_string)}"
        return None

    def event(self, kind: str, value: Any) -> bool:
        """Feed one event; True when the element is complete."""
        self.size += 16
        if kind == "map_key":
            if CUT in value:
                self.cut = True
            self.size += len(value)
            self.keys[-1] = value
        elif kind in ("start_map", "start_array"):
            container: Any = {} if kind == "start_map" else []
            self._add(container)
            self.stack.append(container)
            self.keys.append(None)
            if len(self.stack) > self.limits.max_depth:  # raised after the push: stack = open containers
                raise TooBig(f"nested more than {self.limits.max_depth} levels deep")
        elif kind in ("end_map", "end_array"):
            self.stack.pop()
            self.keys.pop()
        else:
            if kind == "string":
                if CUT in value:
                    self.cut = True
                self.size += len(value)
            self._add(value)
        if self.size > self.limits.max_item:
            raise TooBig(f"larger than {self.limits.max_item // 2**20} MiB")
        return not self.stack


def human_size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit} bytes"


def skip_value(events: Iterator[tuple[str, Any]], depth: int) -> None:
    """Consume events until ``depth`` open containers have closed, building nothing."""
    while depth > 0:
        kind, _ = next(events)
        if kind in ("start_map", "start_array"):
            depth += 1
        elif kind in ("end_map", "end_array"):
            depth -= 1
