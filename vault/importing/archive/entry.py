"""Part and Entry: one path the user gave, and one readable member of an export."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Callable

from .names import human_size, printable
from .readers import CHUNK, CORRUPT_HINT, READER_BUFFER, ArchiveMemberError, BoundedReader, open_errors


@dataclass
class Part:
    """One path the user gave: an archive, a folder or a single file."""

    name: str                   # basename as the user gave it ("facebook-jana-...-abc.zip")
    path: Path                  # absolute path
    kind: str                   # "zip" | "tar" | "dir" | "file"
    wrapper: str | None = None  # the single top-level folder stripped from Entry.rel, if any


class SourceState:
    """Shared by an ExportSource and its entries, so entries refuse to open after close()."""

    __slots__ = ("closed", "failed")

    def __init__(self) -> None:
        self.closed = False
        self.failed: dict[str, str] = {}  # path -> why, for members that could not be opened or read whole


class Entry:
    """One readable member of an export.  Opening it never extracts anything to disk."""

    __slots__ = ("path", "rel", "size", "part", "_fingerprint", "_opener", "_state")

    def __init__(
        self,
        *,
        path: str,
        rel: str,
        size: int | None,
        part: Part,
        fingerprint: str | None,
        opener: Callable[[], IO[bytes]],
        state: SourceState,
    ) -> None:
        self.path = path                # normalized POSIX path inside its part, NFC
        self.rel = rel                  # path without the part's wrapper folder
        self.size = size                # uncompressed size as declared/listed
        self.part = part
        self._fingerprint = fingerprint  # None: the opener's (a zip member's, made when asked)
        self._opener = opener
        self._state = state

    @property
    def fingerprint(self) -> str:
        """A cheap change detector (see ExportSource's docs)."""
        if self._fingerprint is not None:
            return self._fingerprint
        return self._opener.fingerprint()  # type: ignore[attr-defined]  # a ZipOpener

    def __repr__(self) -> str:
        return f"Entry({self.path!r}, part={self.part.name!r}, size={self.size})"

    @property
    def _label(self) -> str:
        """How messages name the member: its path, and which part when that is not obvious."""
        if self.part.kind == "file":
            return repr(printable(self.path))
        return f"{printable(self.path)!r} in {printable(self.part.name)}"

    def open(self) -> BinaryIO:
        """A fresh streaming reader of the member's bytes; the caller closes it.

        Never reads the whole member; raises ArchiveMemberError (here or on read) when the data
        is damaged, truncated or longer than declared.
        """
        if self._state.closed:
            raise ValueError("the export source is closed")
        try:
            inner = self._opener()
        except open_errors() as exc:
            message = f"cannot open {self._label}: {str(exc) or type(exc).__name__}"
            self._state.failed[self.path] = message
            raise ArchiveMemberError(message, hint=CORRUPT_HINT, member=self.path) from exc
        # The buffer makes line-wise reading (csv, readline) efficient; size checks sit below it.
        reader = BoundedReader(inner, self._label, self.path, self.size, on_fail=self._state.failed.__setitem__)
        return io.BufferedReader(reader, READER_BUFFER)

    def portable(self) -> dict | None:
        """How another process opens this member with ``portable.open_spec`` (JSON-safe), or
        None for a member only this process can read (a tar member shares the archive stream)."""
        spec = getattr(self._opener, "spec", None)
        if spec is None or self._state.closed:
            return None
        return {"open": spec(), "label": self._label, "member": self.path, "size": self.size}

    def _too_big(self, limit: int) -> ArchiveMemberError:
        message = f"{self._label} is larger than {human_size(limit)}; not reading it whole"
        return ArchiveMemberError(message, member=self.path)

    def read_bytes(self, limit: int = 512 * 2**20) -> bytes:
        """The whole member, refusing (ArchiveMemberError) one larger than ``limit`` bytes."""
        if self.size is not None and self.size > limit:
            raise self._too_big(limit)
        chunks: list[bytes] = []
        total = 0
        with self.open() as stream:
            while True:
                # Ask for at most one byte past the limit, so an oversized stream is noticed
                # without ever holding more than limit + 1 bytes.
                chunk = stream.read(min(CHUNK, limit + 1 - total))
                if not chunk:
                    return b"".join(chunks)
                total += len(chunk)
                if total > limit:
                    raise self._too_big(limit)
                chunks.append(chunk)
