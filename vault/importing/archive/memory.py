"""What an importer may ask about earlier imports of the same vault, through its ExportSource.

The import pipeline installs a :class:`MemberMemory` on the source; an ExportSource that nobody
installed one on (``recognize``, tests reading a source directly) answers "read everything".
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol

from ...models import Skipped
from .entry import Entry, SourceState


class MemberMemory(Protocol):
    """What the import pipeline installs on an ExportSource (``ExportSource.memory``) to answer
    :meth:`ExportSource.unchanged` and hear :meth:`ExportSource.unsettled`."""

    def unchanged(self, entry: Entry, depends: tuple[Entry, ...]) -> bool: ...

    def unsettled(self, rel: str) -> None: ...

    def remember(self, entry: Entry, names: tuple[str, ...], inputs: tuple[Entry, ...]) -> None: ...

    def recalled(self, entry: Entry) -> list[str]: ...


class AsksEarlierImports:
    """The re-import questions of :class:`~vault.importing.archive.ExportSource`."""

    memory: MemberMemory | None = None  # set by the import pipeline
    ahead: Callable[[list[tuple[Entry, str]]], None] | None = None  # set by the import pipeline
    entries: list[Entry]
    _state: SourceState

    def unchanged(self, entry: Entry, *, depends: Iterable[Entry] = ()) -> bool:
        """Ask this before reading a big member whole (a posts file, tweets.js, a CSV of ratings).

        True: an earlier import into this vault, by the same importer version, read this very
        member (same path, size and fingerprint) to its end and committed, and the members in
        ``depends`` (other files its records drew on, such as a check-ins file) were the same
        then.  The importer MUST NOT read it: the pipeline counts the member's records as
        unchanged and repeats the problems its reading gave.  False: read it.  The records whose
        ``member`` and the problems whose ``path`` is ``entry.rel`` are then what a later import
        repeats in its place.  Always False when no import pipeline asks (``recognize``, tests).
        """
        return self.memory is not None and self.memory.unchanged(entry, tuple(depends))

    def unsettled(self, rel: str) -> None:
        """What reading member ``rel`` gave depends on more than the member and its ``depends``
        (a file it names is missing from this export): the next import reads it again."""
        if self.memory is not None:
            self.memory.unsettled(rel)

    def remember(self, entry: Entry, names: Iterable[str] = (), *, inputs: Iterable[Entry] = ()) -> None:
        """While reading ``entry``: ``names`` are strings :meth:`recalled` gives back when a
        later import skips it (e.g. the media files it names, which the importer must still
        yield), and ``inputs`` are members its records drew on that it found only by reading it
        (the media files it names): a later import skips it only if they are unchanged."""
        if self.memory is not None:
            self.memory.remember(entry, tuple(names), tuple(inputs))

    def recalled(self, entry: Entry) -> list[str]:
        """The ``names`` remembered with a member that :meth:`unchanged` said to skip."""
        return self.memory.recalled(entry) if self.memory is not None else []

    def store_ahead(self, media: Iterable[tuple[Entry, str]]) -> None:
        """Say early which members this importer will yield as media, each as
        ``MediaItem.from_entry(entry, ref)``, before it reads what must come first (the posts
        files that give their captions).  A big import starts storing them meanwhile.

        Only a head start: each must still be yielded as usual.  A member named here that is
        never yielded is stored for nothing, and removed again when the import ends."""
        if self.ahead is not None:
            self.ahead(list(media))

    def read_failed(self, entry: Entry) -> bool:
        """True when opening or reading ``entry`` failed since the source was opened (damaged
        data, an I/O error, a file that went away or became unreadable)."""
        return entry.path in self._state.failed

    def note_read_failure(self, path: str, message: str) -> None:
        """Reading member ``path`` failed in another process (a worker storing media): from
        now on it counts as if it had failed here."""
        self._state.failed[path] = message

    def unreadable(self) -> list[Skipped]:
        """Every member that could not be opened or read since the source was opened, as a
        skipped item with the reason, whoever tried to read it (an importer, or recognition)."""
        failed = self._state.failed
        return [Skipped(entry.rel, failed[entry.path]) for entry in self.entries if entry.path in failed]
