"""Reading export members safely: whole small JSON files, and large JSON arrays as a stream.

Every way a member can fail becomes a ``Skipped`` value naming it, never an exception.

Exports can hold JSON files of hundreds of megabytes (a decade of posts in one array), and a
hostile one can hold a single 200 MB string or a post nested a thousand levels deep.
:func:`stream_records` reads such a file element by element, so memory is bounded by the largest
element it accepts (:class:`JsonLimits`), and an element over a limit is skipped with its
position while every other one is still read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from vault.plugin_api import ArchiveMemberError, Skipped

if TYPE_CHECKING:
    from vault.plugin_api import Entry


def load_json(entry: "Entry", limit: int) -> tuple[Any, Skipped | None]:
    """(parsed root, None), or (None, Skipped(entry.rel, reason)) when the member is unusable.

    Truncated or invalid JSON gives ``"invalid JSON: <detail>"``; a damaged, oversized or
    unreadable member gives the archive layer's message.  For files that hold small documents
    (profiles, manifests, albums); arrays of posts go through :func:`stream_records`.
    """
    try:
        data = entry.read_bytes(limit)
    except ArchiveMemberError as exc:
        return None, Skipped(entry.rel, exc.message)
    except OSError as exc:  # a folder member that vanished or became unreadable since listing
        return None, Skipped(entry.rel, f"cannot read: {exc.strerror or exc}")
    try:
        root = json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, RecursionError):
            detail = "nested too deeply"
        return None, Skipped(entry.rel, f"invalid JSON: {detail}")
    if depth_over(root, JsonLimits().max_depth):
        # The importers walk records recursively; a crafted file must not reach their stack.
        return None, Skipped(entry.rel, f"invalid JSON: nested more than {JsonLimits().max_depth} levels deep")
    return root, None


# ---------------------------------------------------------------------------------------------
# Depth
# ---------------------------------------------------------------------------------------------


def depth_over(value: Any, limit: int) -> bool:
    """True when ``value`` nests lists/dicts more than ``limit`` levels deep.  Never recurses."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


# ---------------------------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonLimits:
    """What one streamed element may cost.  Real posts are a few KiB; these are far above."""

    max_string: int = 8 * 2**20   # bytes of one JSON string (text, key) as stored in the file
    max_item: int = 32 * 2**20    # about the bytes one element takes as Python objects
    max_depth: int = 100          # nesting of lists and objects inside one element


# A noncharacter that the reader appends to a string it has cut short; the element holding it
# is skipped.  A file that contains it on purpose only gets its own element skipped.
_CUT = "\ufdd0"
_CUT_ESCAPED = b"\\ufdd0"
_CHUNK = 64 * 1024
_PAIRED_BACKSLASHES = re.compile(rb"\\\\")
_UNICODE_ESCAPE = re.compile(rb"\\u[0-9A-Fa-f]{4}")
_SHORT_ESCAPE = re.compile(rb"\\[^u]")
# Anything that ends a number or literal token; a chunk outside strings without one of these
# continues a single token (a parser buffers a token whole, as it does a string).
_TOKEN_END = re.compile(rb"[,:\[\]{}\s\"]")


class _StringGuard:
    """A file-like reader over a member that cuts every JSON string longer than ``max_string``.

    A JSON parser must hold a whole string token before it can report it, so one 200 MB string
    would cost hundreds of megabytes whatever the parser.  This reader follows where strings
    start and end at C speed (escapes are blanked out with same-length fillers, then quotes are
    counted per chunk; only a chunk where a string runs over the limit is looked at closer) and
    replaces the rest of an oversized string by ``\\ufdd0``, so the parser never sees more than
    ``max_string`` bytes of one string.  A chunk never ends inside an escape sequence.

    ``after`` drops everything up to and including the first occurrence of those bytes (X's
    ``window.YTD.tweets.part0 =`` prefix); ``strip_tail`` drops a trailing ``;`` and blanks.
    """

    def __init__(self, stream: Any, max_string: int, after: bytes | None = None, strip_tail: bool = False) -> None:
        self._stream = stream
        self._max = max(max_string, _CHUNK)
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
        raw = self._stream.read(_CHUNK)
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
        clean = _SHORT_ESCAPE.sub(b"xx", _UNICODE_ESCAPE.sub(b"xxxxxx", _PAIRED_BACKSLASHES.sub(b"xx", chunk)))
        cut = clean.rfind(b"\\")
        if cut != -1 and cut >= len(clean) - 5:
            chunk, clean, self._carry = chunk[:cut], clean[:cut], chunk[cut:]
        else:
            self._carry = b""
        return self._tail(self._guard(chunk, clean), final=False)

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
            clean = _SHORT_ESCAPE.sub(b"xx", _UNICODE_ESCAPE.sub(b"xxxxxx", _PAIRED_BACKSLASHES.sub(b"xx", chunk)))
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
                out = _CUT_ESCAPED
            if not quotes:
                return out
            self._dropping = False
            self._in_string = False
            self._track(clean[first + 1:], quotes - 1)
            return out + chunk[first:]
        if not self._in_string and not quotes and _TOKEN_END.search(clean) is None:
            self._bare += len(clean)
            if self._bare > self._max:
                raise ValueError(f"a number or literal longer than {_human_size(self._max)}")
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


def _clean_error(exc: BaseException) -> str:
    """A parser error as one short line (yajl's messages carry a multi-line excerpt)."""
    text = str(exc)
    if text.startswith(("b'", 'b"')):  # yajl's message as bytes, with escaped newlines
        text = text[2:].split("\\n")[0]
    lines = text.strip().splitlines()
    return lines[0].rstrip(".") if lines else type(exc).__name__


class _TooBig(Exception):
    """Internal: the element being built went over a limit; carries the reason."""


class _Builder:
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
        except _TooBig as exc:
            _skip_value(events, len(self.stack))
            return f"is {exc}"
        if self.cut:
            return f"holds a text longer than {_human_size(self.limits.max_string)}"
        return None

    def event(self, kind: str, value: Any) -> bool:
        """Feed one event; True when the element is complete."""
        self.size += 16
        if kind == "map_key":
            if _CUT in value:
                self.cut = True
            self.size += len(value)
            self.keys[-1] = value
        elif kind in ("start_map", "start_array"):
            container: Any = {} if kind == "start_map" else []
            self._add(container)
            self.stack.append(container)
            self.keys.append(None)
            if len(self.stack) > self.limits.max_depth:  # raised after the push: stack = open containers
                raise _TooBig(f"nested more than {self.limits.max_depth} levels deep")
        elif kind in ("end_map", "end_array"):
            self.stack.pop()
            self.keys.pop()
        else:
            if kind == "string":
                if _CUT in value:
                    self.cut = True
                self.size += len(value)
            self._add(value)
        if self.size > self.limits.max_item:
            raise _TooBig(f"larger than {self.limits.max_item // 2**20} MiB")
        return not self.stack


def _human_size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit} bytes"


class RecordStream:
    """The elements of the JSON arrays in one member, read as a stream.  Iterate once.

    Yields ``(index, element)`` (index counts from 1 within its array) and ``Skipped`` values:
    an element over a :class:`JsonLimits` limit, or the member itself when it is damaged (the
    elements before the damage have been yielded by then).

    Which arrays: a root array's elements; for a root object, the elements of the arrays under
    ``keys`` (and under a key ending in ``_v2``, Meta's newer names).  Everything else in a root
    object is built as one bounded value; when no array under ``keys`` was found, ``fallback``
    turns that object into records (e.g. a file that is a single post).

    After iterating: ``empty`` is True for a root ``[]`` or ``{}``, ``count`` is the number of
    elements seen, ``arrays`` the keys whose arrays were streamed ("" for a root array).
    """

    def __init__(self, entry: "Entry", keys: Iterable[str] = (), *, fallback: Callable[[dict], list] | None = None,
                 limits: JsonLimits = JsonLimits(), after: bytes | None = None, strip_tail: bool = False) -> None:
        self.entry = entry
        self.keys = frozenset(keys)
        self.fallback = fallback
        self.limits = limits
        self.after = after
        self.strip_tail = strip_tail
        self.empty = False
        self.count = 0
        self.arrays: set[str] = set()

    def _wanted(self, key: str) -> bool:
        return key in self.keys or key.endswith("_v2")

    def __iter__(self) -> Iterator[tuple[int, Any] | Skipped]:
        import ijson

        rel = self.entry.rel
        try:
            raw = self.entry.open()
        except ArchiveMemberError as exc:
            yield Skipped(rel, exc.message)
            return
        except OSError as exc:
            yield Skipped(rel, f"cannot read: {exc.strerror or exc}")
            return
        with raw:
            guard = _StringGuard(raw, self.limits.max_string, after=self.after, strip_tail=self.strip_tail)
            events = ijson.basic_parse(guard, use_float=True)
            try:
                yield from self._walk(events, rel)
            except ArchiveMemberError as exc:
                yield Skipped(rel, exc.message)
            except OSError as exc:
                yield Skipped(rel, f"cannot read: {exc.strerror or exc}")
            except (ijson.JSONError, ValueError) as exc:
                where = f" after element #{self.count}" if self.count else ""
                yield Skipped(rel, f"invalid JSON{where}: {_clean_error(exc)}")

    def _walk(self, events: Iterator[tuple[str, Any]], rel: str) -> Iterator[tuple[int, Any] | Skipped]:
        first = next(events, None)
        if first is None:
            raise ValueError("the file is empty")
        kind, _ = first
        if kind == "start_array":
            yield from self._elements(events, rel, "")
            return
        if kind != "start_map":
            return  # a bare scalar: no records
        rest: dict[str, Any] = {}
        rest_size = 0
        streamed = False
        seen_key = False
        for kind, value in events:
            if kind == "end_map":
                break
            seen_key = True
            key = value  # kind is "map_key"
            kind, value = next(events)
            if kind == "start_array" and self._wanted(key):
                streamed = True
                yield from self._elements(events, rel, key)
                continue
            builder = _Builder(JsonLimits(self.limits.max_string, self.limits.max_item - rest_size, self.limits.max_depth))
            problem = builder.build(kind, value, events)
            if problem:
                yield Skipped(rel, f"the value of {key!r} {problem}; skipped")
                continue
            rest_size += builder.size
            rest[key] = builder.result
        self.empty = not seen_key
        if not streamed and rest and self.fallback is not None:
            for index, record in enumerate(self.fallback(rest), 1):
                self.count += 1
                yield index, record

    def _elements(self, events: Iterator[tuple[str, Any]], rel: str, key: str) -> Iterator[tuple[int, Any] | Skipped]:
        where = f" of {key!r}" if key else ""
        self.arrays.add(key)
        index = 0
        for kind, value in events:
            if kind == "end_array":
                if not key and index == 0:
                    self.empty = True
                return
            index += 1
            self.count += 1
            builder = _Builder(self.limits)
            problem = builder.build(kind, value, events)
            if problem:
                yield Skipped(rel, f"element #{index}{where} {problem}; skipped")
                continue
            yield index, builder.result


def _skip_value(events: Iterator[tuple[str, Any]], depth: int) -> None:
    """Consume events until ``depth`` open containers have closed, building nothing."""
    while depth > 0:
        kind, _ = next(events)
        if kind in ("start_map", "start_array"):
            depth += 1
        elif kind in ("end_map", "end_array"):
            depth -= 1


# ---------------------------------------------------------------------------------------------
# CSV rows
# ---------------------------------------------------------------------------------------------


@dataclass
class CsvRow:
    """One CSV record: ``values``, its ``number`` (the header is record 1) and the physical
    ``line`` it starts on.  ``problem`` says why the record cannot be trusted (bytes that are not
    UTF-8, an overlong line), naming the byte offset in the file; such a record is skipped by
    the importer, and the rows around it are read as usual."""

    values: list[str]
    number: int
    line: int
    problem: str | None = None


class CsvFileError(Exception):
    """The rest of a CSV file cannot be read (damaged member, a CSV syntax error); carries
    ``reason``, and ``line`` where it happened."""

    def __init__(self, reason: str, line: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


MAX_CSV_LINE = 4 * 2**20
_BARE_CR = re.compile(rb"(?<=\r)(?!\n)")


class _Lines:
    """Physical lines of a byte stream, each decoded on its own so one bad byte spoils only its
    line.  Undecodable bytes become lone surrogates (and are noted with their file offset), a
    line over ``MAX_CSV_LINE`` is replaced by a marker; the CSV parser sees text either way."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.line = 0        # physical lines handed out so far
        self.offset = 0      # byte offset of the next line
        self.problems: dict[int, str] = {}  # physical line -> what is wrong with it
        self._pending: list[bytes] = []     # the rest of a raw line split at bare CRs, reversed

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        raw = self._pending.pop() if self._pending else self._stream.readline(MAX_CSV_LINE + 1)
        if not raw:
            raise StopIteration
        if b"\r" in raw[:-2]:
            # Old Mac files end lines with a bare CR: split there, as universal newlines do.
            pieces = _BARE_CR.split(raw)
            if len(pieces) > 1:
                raw = pieces[0]
                self._pending.extend(reversed([piece for piece in pieces[1:] if piece]))
        start = self.offset
        self.offset += len(raw)
        self.line += 1
        if self.line == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
            start += 3
        if len(raw) > MAX_CSV_LINE and not raw.endswith(b"\n"):
            while True:  # drop the rest of the line without holding it
                more = self._stream.readline(2**20)
                self.offset += len(more)
                if not more or more.endswith(b"\n"):
                    break
            self.problems[self.line] = f"line {self.line} is longer than {MAX_CSV_LINE // 2**20} MiB"
            return "\udcff\n"
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.problems.setdefault(
                self.line, f"not UTF-8 text (byte {start + exc.start} of the file, line {self.line})")
            return raw.decode("utf-8", "surrogateescape")


class _TextLines:
    """Physical lines of a stream in an encoding other than UTF-8 (2018's UTF-16 LinkedIn files),
    decoded by the io module; damage there stops the file (see csv_rows)."""

    def __init__(self, stream: Any, encoding: str) -> None:
        import io

        self._text = io.TextIOWrapper(stream, encoding=encoding, newline="")
        self.line = 0
        self.problems: dict[int, str] = {}

    def __iter__(self) -> "_TextLines":
        return self

    def __next__(self) -> str:
        text = self._text.readline()
        if not text:
            raise StopIteration
        self.line += 1
        return text


def csv_rows(stream: Any, *, encoding: str = "utf-8",
             delimiter: Callable[[str], str] = lambda first_line: ",") -> Iterator[CsvRow]:
    """The records of a CSV byte stream, one by one, with their positions.

    UTF-8 (a BOM is dropped) is decoded line by line: a record holding undecodable bytes comes
    with ``problem`` set (its values hold lone surrogates, so callers MUST NOT use them) and the
    records around it are unaffected.  Another ``encoding`` is decoded as a whole text stream.
    ``delimiter`` picks the separator from the first line.  Raises :class:`CsvFileError` when
    reading cannot go on (a damaged member, a CSV syntax error, undecodable non-UTF-8 text).
    """
    import csv
    import itertools

    lines: _Lines | _TextLines
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig"):
        lines = _Lines(stream)
    else:
        lines = _TextLines(stream, encoding)
    try:
        first = next(lines, None)
    except UnicodeDecodeError as exc:
        raise CsvFileError(f"not {encoding} text: {exc.reason}", 1) from exc
    except ArchiveMemberError as exc:
        raise CsvFileError(exc.message, 1) from exc
    except OSError as exc:
        raise CsvFileError(f"cannot read: {exc.strerror or exc}", 1) from exc
    if first is None:
        return
    reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter(first))
    number = 0
    consumed = 0  # physical lines the records so far took
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvFileError(f"unreadable CSV at line {reader.line_num}: {exc}", reader.line_num) from exc
        except UnicodeDecodeError as exc:
            raise CsvFileError(f"not {encoding} text after line {lines.line}: {exc.reason}", lines.line + 1) from exc
        except ArchiveMemberError as exc:
            raise CsvFileError(exc.message, lines.line) from exc
        except OSError as exc:
            raise CsvFileError(f"cannot read: {exc.strerror or exc}", lines.line) from exc
        number += 1
        first_line, consumed = consumed + 1, reader.line_num
        problem = next((lines.problems[n] for n in range(first_line, consumed + 1) if n in lines.problems), None)
        for n in range(first_line, consumed + 1):
            lines.problems.pop(n, None)
        yield CsvRow(values, number, first_line, problem)
