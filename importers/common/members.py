"""Reading export members safely: whole small JSON files, and large JSON arrays as a stream.

Every way a member can fail becomes a ``Skipped`` value naming it, never an exception.

Exports can hold JSON files of hundreds of megabytes (a decade of posts in one array), and a
hostile one can hold a single 200 MB string or a post nested a thousand levels deep.
:class:`RecordStream` reads such a file element by element, so memory is bounded by the largest
element it accepts (:class:`JsonLimits`), and an element over a limit is skipped with its
position while every other one is still read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterable, Iterator

from vault.plugin_api import ArchiveMemberError, Skipped

from . import jsonfast
from .jsonguard import CHUNK, Builder, JsonLimits, StringGuard, clean_error, skip_value

__all__ = ["CsvFileError", "CsvRow", "JsonLimits", "RecordStream", "csv_rows", "depth_over", "load_json"]

if TYPE_CHECKING:
    from vault.plugin_api import Entry


def read_whole(entry: "Entry", limit: int) -> tuple[bytes | None, Skipped | None]:
    """(the member's bytes, None), or (None, Skipped naming it) when it is damaged, over
    ``limit`` or unreadable: for members small enough to be read whole."""
    try:
        return entry.read_bytes(limit), None
    except ArchiveMemberError as exc:
        return None, Skipped(entry.rel, exc.message)
    except OSError as exc:  # a folder member that vanished or became unreadable since listing
        return None, Skipped(entry.rel, f"cannot read: {exc.strerror or exc}")


def load_json(entry: "Entry", limit: int) -> tuple[Any, Skipped | None]:
    """(parsed root, None), or (None, Skipped(entry.rel, reason)) when the member is unusable.

    Truncated or invalid JSON gives ``"invalid JSON: <detail>"``; a damaged, oversized or
    unreadable member gives the archive layer's message.  For files that hold small documents
    (profiles, manifests, albums); arrays of posts go through :func:`stream_records`.
    """
    data, problem = read_whole(entry, limit)
    if data is None:
        return None, problem
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

    Two readers give the same results: :mod:`importers.common.jsonfast` (ijson's C builder) takes
    ordinary members; the exact one here (every parser event through :class:`Builder`) reads the
    others, and the rest of a member where the fast one stopped short.
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
        self._skip = 0
        self._done = False

    def _wanted(self, key: str) -> bool:
        return key in self.keys or key.endswith("_v2")

    def __iter__(self) -> Iterator[tuple[int, Any] | Skipped]:
        raw = yield from self._open()
        if raw is None:
            return
        with raw:
            guard = StringGuard(raw, self.limits.max_string, after=self.after, strip_tail=self.strip_tail)
            source = yield from self._native(guard)
            if source is not None:
                yield from self._parse(source, 0)
        if source is not None or self._done:
            return
        # The fast path stopped short: read the member again with the exact reader, past the
        # elements already given, so whatever stopped it is reported as it always is.
        skip, self.count, self.arrays, self.empty = self.count, 0, set(), False
        raw = yield from self._open()
        if raw is None:
            return
        with raw:
            yield from self._parse(StringGuard(raw, self.limits.max_string, after=self.after,
                                               strip_tail=self.strip_tail), skip)

    def _open(self) -> Generator[Skipped, None, Any]:
        try:
            return self.entry.open()
        except ArchiveMemberError as exc:
            yield Skipped(self.entry.rel, exc.message)
        except OSError as exc:
            yield Skipped(self.entry.rel, f"cannot read: {exc.strerror or exc}")
        return None

    def _native(self, guard: StringGuard) -> Generator[tuple[int, Any], None, Any]:
        """Read with :mod:`jsonfast` when it takes the member on.  Returns what the exact reader
        must read from the start (None when the fast path read the member, or must be redone)."""
        self._done = False
        if not jsonfast.available():
            return guard
        try:
            head = guard.read(CHUNK)
        except (ArchiveMemberError, OSError, ValueError):
            return None
        layout = jsonfast.probe(head, self.limits, self._wanted) if head else None
        if layout is None:
            return _Replay(head, guard)
        self.arrays.add(layout.key)
        reader = jsonfast.read(guard, head, layout, self.limits)
        while True:
            try:
                element = next(reader)
            except StopIteration as stop:
                self._done = stop.value
                break
            self.count += 1
            yield self.count, element
        self.empty = self._done and not layout.key and not self.count
        return None

    def _parse(self, source: Any, skip: int) -> Iterator[tuple[int, Any] | Skipped]:
        """The exact reader: every event through :class:`Builder`; the first ``skip`` elements
        are passed over unbuilt."""
        import ijson

        rel = self.entry.rel
        self._skip = skip
        try:
            # Inside the try: the parser reads (``read(0)``) as it starts, and that read can fail.
            events = ijson.basic_parse(source, buf_size=CHUNK, use_float=True)
            yield from self._walk(events, rel)
        except ArchiveMemberError as exc:
            yield Skipped(rel, exc.message)
        except OSError as exc:
            yield Skipped(rel, f"cannot read: {exc.strerror or exc}")
        except (ijson.JSONError, ValueError) as exc:
            where = f" after element #{self.count}" if self.count else ""
            yield Skipped(rel, f"invalid JSON{where}: {clean_error(exc)}")

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
            builder = Builder(JsonLimits(self.limits.max_string, self.limits.max_item - rest_size, self.limits.max_depth))
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
            if self._skip:
                self._skip -= 1
                skip_value(events, 1 if kind in ("start_map", "start_array") else 0)
                continue
            builder = Builder(self.limits)
            problem = builder.build(kind, value, events)
            if problem:
                yield Skipped(rel, f"element #{index}{where} {problem}; skipped")
                continue
            yield index, builder.result


class _Replay:
    """A reader that gives ``head`` back first, then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: StringGuard) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if self._head and size != 0:  # ijson reads 0 bytes first, to see that they are bytes
            head, self._head = self._head, b""
            return head
        return self._stream.read(size)


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
