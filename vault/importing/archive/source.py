"""ExportSource: the members of one export, over all its parts, scanned under size limits."""

from __future__ import annotations

import fnmatch
import os
import stat
import struct
import tarfile
import unicodedata
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Callable, Generator, Iterable, Sequence

from vault.errors import UnsupportedInputError, UsageError
from vault.models import Skipped

from .detect import detect_kind
from .entry import Entry, Part, SourceState
from .memory import AsksEarlierImports
from .names import (
    REASON_BOMB,
    REASON_BUDGET,
    REASON_EMPTY,
    REASON_ENCRYPTED,
    REASON_HARDLINK,
    REASON_METHOD,
    REASON_SPECIAL,
    REASON_SYMLINK,
    REASON_TOO_LARGE,
    REASON_UNREADABLE,
    REASON_UNREADABLE_FOLDER,
    Refused,
    clean_name,
    find_wrapper,
    printable,
    safe_path,
    undo_cp437,
    without_surrogates,
)
from .portable import FileOpener, ZipOpener
from .readers import CORRUPT_HINT, listing_errors, open_tar_member
from .ziplisting import CentralRecord, ZipListingError, read_records, zip_member_count

_ZIP_UTF8_FLAG = 0x800          # general purpose bit 11: the name is UTF-8
_ZIP_ENCRYPTED_FLAGS = 0x1 | 0x40  # traditional or strong encryption
_ZIP_PATCHED_FLAG = 0x20        # "compressed patched data", which nothing can read
# Methods zipfile can decompress; anything else (AES, deflate64, ...) would fail on open.
_ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})


# by_name looks through the entries this many times before it makes an index of their names.
_SCANS_BEFORE_INDEX = 8


@dataclass(frozen=True)
class Limits:
    """Limits that protect against archive bombs.  Defaults suit real exports (tens of GiB).

    Every limit refuses members (recorded as problems, so the import goes on with the rest and
    ends with exit 3); none aborts an import.
    """

    max_member_size: int = 64 * 2**30   # a single member's uncompressed size
    max_total_size: int = 1 * 2**40     # sum of declared uncompressed sizes over all parts
    # Expansion: a zip member may declare at most max_ratio x its compressed size plus
    # ratio_allowance (tiny files compress extremely well, so they get a fixed allowance rather
    # than a pass), and a whole archive part at most max_ratio x its file size plus
    # part_allowance over all its members (this also covers tar members, whose compressed sizes
    # are unknown, and sparse tar members).
    max_ratio: float = 200.0
    ratio_allowance: int = 1 * 2**20
    part_allowance: int = 256 * 2**20
    # Members over all parts, directories and refused ones included.  A zip's count is read from
    # its end record before the central directory is parsed, so a part over the limit costs no
    # memory: it is refused whole.
    max_members: int = 250_000


@dataclass(slots=True)
class _Found:
    """A member accepted while scanning a part, before the part's wrapper folder is known."""

    path: str
    size: int
    fingerprint: str | None  # None: the opener makes it (a zip member)
    opener: Callable[[], IO[bytes]]


class ExportSource(AsksEarlierImports):
    """All members of one export, given as one or more parts.  A context manager.

    Fingerprints: zip "zip:<crc32 hex>:<size>", tar "tar:<size>:<mtime>", folder and bare file
    "file:<size>:<mtime_ns>".  They are cheap change detectors, not hashes.

    Problems: every refused member is recorded as ``Skipped(path, reason)``, where path is the
    member's name as stored (control characters escaped) and reason one of the REASON_* phrases.
    A part with too many members is recorded under the part's own name.

    Raises UsageError for a path that does not exist, UnsupportedInputError for an archive that
    cannot be opened.  No limit raises: what is over a limit is refused and recorded.
    """

    def __init__(self, paths: Sequence[str | Path], limits: Limits = Limits()) -> None:
        # A default Limits() instance is shared between calls, which is fine: it is frozen.
        if isinstance(paths, (str, os.PathLike)):
            # A lone str is itself a Sequence; iterating it would treat each letter as a path.
            paths = [paths]
        self.limits = limits
        self.parts: list[Part] = []
        self.entries: list[Entry] = []
        self.problems: list[Skipped] = []
        self.display_name = ""
        self._state = SourceState()
        self._handles: list[tarfile.TarFile] = []  # a zip is closed once listed (ZipOpener)
        self._total_size = 0
        self._member_count = 0
        self._part_budget = 0    # expansion budget of the archive part being scanned
        self._part_expanded = 0  # declared sizes admitted from it so far
        self._by_rel: dict[str, Entry] = {}
        self._by_path: dict[str, Entry] = {}  # only entries whose path is not their rel
        self._by_name: dict[str, Entry | list[Entry]] | None = None  # made when often asked
        self._name_scans = 0
        if not paths:
            raise UsageError("no export given")

        loaded = False
        try:
            scanned = [self._load(Path(p)) for p in paths]
            loaded = True
        finally:
            if not loaded:  # an exception is on its way: do not leave earlier parts open
                self.close()
        self.parts = [part for part, _ in scanned]
        self.entries = self._merge(scanned)
        for entry in self.entries:
            self._by_rel.setdefault(entry.rel, entry)
            if entry.path is not entry.rel:  # else the rel's key finds it (see get)
                self._by_path.setdefault(entry.path, entry)
        extra = len(self.parts) - 1
        first = self.parts[0].name
        self.display_name = first if not extra else f"{first} (+{extra} part{'s' if extra > 1 else ''})"

    # -- public ---------------------------------------------------------------------------------

    def get(self, path: str) -> Entry | None:
        """The first entry whose rel (else whose path) equals ``path`` after normalization."""
        key = clean_name(path)
        entry = self._by_rel.get(key)
        return entry if entry is not None else self._by_path.get(key)

    def glob(self, pattern: str) -> list[Entry]:
        """Entries whose rel or path matches ``pattern`` (fnmatch rules: "*" also matches "/")."""
        pattern = clean_name(pattern)
        return [e for e in self.entries if fnmatch.fnmatchcase(e.rel, pattern) or fnmatch.fnmatchcase(e.path, pattern)]

    def by_name(self, basename: str) -> list[Entry]:
        """Entries whose last path segment equals ``basename`` (case-sensitive, NFC)."""
        basename = unicodedata.normalize("NFC", basename)
        if "/" in basename:
            return []  # never a last segment
        if self._by_name is None and self._name_scans < _SCANS_BEFORE_INDEX:
            # A few questions (recognizing an export asks one) are answered by looking through
            # the entries: an index of every name would stay for the source's lifetime.
            self._name_scans += 1
            tail = "/" + basename
            return [e for e in self.entries if e.path.endswith(tail) or e.path == basename]
        if self._by_name is None:
            # Most names are unique: one entry, not a list of one (memory counts per member).
            by_name: dict[str, Entry | list[Entry]] = {}
            for entry in self.entries:
                name = entry.path.rpartition("/")[2]
                have = by_name.setdefault(name, entry)
                if have is not entry:
                    if isinstance(have, list):
                        have.append(entry)
                    else:
                        by_name[name] = [have, entry]
            self._by_name = by_name
        found = self._by_name.get(basename)
        return [] if found is None else list(found) if isinstance(found, list) else [found]

    def close(self) -> None:
        """Close every open archive.  Idempotent; entries refuse to open afterwards."""
        self._state.closed = True
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.close()

    def __enter__(self) -> ExportSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ExportSource({self.display_name!r}, {len(self.entries)} entries, {len(self.problems)} problems)"

    # -- loading --------------------------------------------------------------------------------

    def _load(self, given: Path) -> tuple[Part, list[_Found]]:
        path = Path(os.path.abspath(given))  # abspath, not resolve: keep the name the user used
        shown = printable(str(given))
        kind, compressed = detect_kind(path, shown)
        part = Part(name=path.name or str(path), path=path, kind=kind)
        if kind == "zip":
            found = self._scan_zip(part)
        elif kind == "tar":
            found = self._scan_tar(part, compressed)
        elif kind == "dir":
            found = self._scan_dir(part)
        else:
            found = self._scan_file(part)
        if kind != "file":  # a bare file's entry is its own name; there is no folder to strip
            part.wrapper = find_wrapper([f.path for f in found])
        return part, found

    def _refuse(self, name: str, reason: str) -> None:
        self.problems.append(Skipped(path=printable(name), reason=reason))

    def _checked_path(self, raw: str, is_dir: bool = False) -> str | None:
        """The safe path for ``raw``, or None after recording why it was refused."""
        try:
            return safe_path(raw)
        except Refused as refused:
            # Archives often list their root as "./"; that is not worth a problem report.
            if not (is_dir and refused.reason == REASON_EMPTY):
                self._refuse(raw, refused.reason)
            return None

    def _count_members(self, count: int, part: Part) -> bool:
        """Count ``count`` more members; False (after recording why) once the limit is passed."""
        self._member_count += count
        if self._member_count <= self.limits.max_members:
            return True
        if part.kind == "zip":
            self._member_count -= count  # refused whole, so other parts may still be read
        self.problems.append(Skipped(
            path=printable(part.name),
            reason=f"more than {self.limits.max_members:,} files in the export; "
                   f"{'this part was' if part.kind == 'zip' else 'the rest of it was'} not read (possible zip bomb)",
        ))
        return False

    def _start_budget(self, part: Part) -> None:
        """Set the expansion budget of an archive part: max_ratio x its size + part_allowance."""
        try:
            stored = os.stat(part.path).st_size
        except OSError:
            stored = 0
        self._part_budget = int(stored * self.limits.max_ratio) + self.limits.part_allowance
        self._part_expanded = 0

    def _admit(self, found: list[_Found], part: Part, path: str, size: int, fingerprint: str | None,
               opener: Callable[[], IO[bytes]]) -> None:
        """Apply the size limits that every kind of member shares, then accept the member."""
        if size > self.limits.max_member_size:
            self._refuse(path, REASON_TOO_LARGE)
            return
        in_archive = part.kind in ("zip", "tar")
        if self._total_size + size > self.limits.max_total_size or (
                in_archive and self._part_expanded + size > self._part_budget):
            # Refused member by member, so everything that fits is still imported.
            self._refuse(path, REASON_BUDGET)
            return
        self._total_size += size
        if in_archive:
            self._part_expanded += size
        found.append(_Found(path, size, fingerprint, opener))

    def _too_expanded(self, declared: int, stored: int) -> bool:
        """True when ``declared`` bytes out of ``stored`` compressed bytes is a bomb's ratio."""
        return declared > max(stored, 0) * self.limits.max_ratio + self.limits.ratio_allowance

    def _scan_zip(self, part: Part) -> list[_Found]:
        self._start_budget(part)
        # Counted from the central directory's record headers before they are read into
        # records: a part holding too many members is refused without that memory being spent.
        listed = zip_member_count(part.path, self.limits.max_members - self._member_count + 1)
        if listed is not None and not self._count_members(listed, part):
            return []
        # The directory is read as a stream of small records (ziplisting), not parsed whole by
        # zipfile: members open from a few numbers each (ZipOpener).
        records = _zip_records(part)
        try:
            return self._scan_zip_members(part, records, count=listed is None)
        finally:
            records.close()  # its file, also when the scan stopped early

    def _scan_zip_members(self, part: Part, records: Iterable[CentralRecord], count: bool) -> list[_Found]:
        zip_path = str(part.path)  # one string for all the members' openers
        found: list[_Found] = []
        seen = 0
        for info in records:
            seen += 1
            raw = info.name  # not cut at a NUL (as zipfile's .filename is), so NUL tricks are seen
            if not info.flags & _ZIP_UTF8_FLAG:
                raw = undo_cp437(raw)
            file_type = stat.S_IFMT(info.mode_bits)
            is_dir = raw.replace("\\", "/").endswith("/") or (file_type == stat.S_IFDIR and info.size == 0)
            path = self._checked_path(raw, is_dir)
            if path is None or is_dir:
                continue
            if file_type == stat.S_IFLNK:
                # Only the link's target text is stored; an importer following it could be led
                # anywhere, so it is not an entry at all.
                self._refuse(path, REASON_SYMLINK)
            elif file_type not in (0, stat.S_IFREG):  # 0: written by a tool that sets no mode
                self._refuse(path, REASON_SPECIAL)
            elif info.flags & _ZIP_ENCRYPTED_FLAGS:
                self._refuse(path, REASON_ENCRYPTED)
            elif info.method not in _ZIP_METHODS or info.flags & _ZIP_PATCHED_FLAG:
                self._refuse(path, REASON_METHOD)
            elif self._too_expanded(info.size, info.stored):
                # Checked before _admit's size limits so that a bomb is named as such.
                self._refuse(path, REASON_BOMB)
            else:
                name = path if info.name == path else info.name  # one string if it can
                self._admit(found, part, path, info.size, None, ZipOpener(info, zip_path, name))
        if count and not self._count_members(seen, part):  # zip_member_count could not walk it
            return []
        return found

    def _scan_tar(self, part: Part, compressed: bool) -> list[_Found]:
        try:
            archive = tarfile.open(part.path, "r:*")
        except listing_errors() as exc:
            raise _corrupt(part, "tar", exc) from exc
        self._handles.append(archive)
        found: list[_Found] = []
        data_end = 0  # where the last member's data ends, to spot a truncated plain tar
        try:
            # tarfile lists members lazily, so the limits below stop a hostile archive before
            # all of it has been read.
            self._start_budget(part)
            for member in archive:
                if not self._count_members(1, part):
                    break
                path = self._checked_path(member.name, member.isdir())
                if path is None or member.isdir():
                    continue
                if member.issym():
                    self._refuse(path, REASON_SYMLINK)
                elif member.islnk():
                    self._refuse(path, REASON_HARDLINK)
                elif not member.isreg():  # devices, FIFOs and exotic GNU types
                    self._refuse(path, REASON_SPECIAL)
                elif member.issparse() and self._too_expanded(member.size, sum(n for _, n in member.sparse or ())):  # type: ignore[misc, has-type]  # typeshed: sparse is bytes
                    # A sparse member stores only its data blocks; the holes read as zeros.
                    self._refuse(path, REASON_BOMB)
                else:
                    if not member.issparse():
                        data_end = max(data_end, member.offset_data + member.size)
                    fingerprint = f"tar:{member.size}:{_whole_seconds(member.mtime)}"
                    opener = partial(open_tar_member, archive, member)
                    self._admit(found, part, path, member.size, fingerprint, opener)
        except listing_errors() as exc:
            raise _corrupt(part, "tar", exc) from exc
        # A plain tar cut short just ends early as far as tarfile is concerned; a compressed one
        # raises above.  Compare the last member's data with the file's length instead.
        if not compressed and data_end > os.stat(part.path).st_size:
            raise _corrupt(part, "tar", EOFError("the last member's data is missing"))
        return found

    def _scan_dir(self, part: Part) -> list[_Found]:
        found: list[_Found] = []
        try:
            top = _sorted_scandir(str(part.path))
        except OSError as exc:
            raise UsageError(f"cannot read folder {printable(part.name)}: {exc.strerror or exc}") from exc
        # Depth-first with an explicit stack (deep trees must not hit the recursion limit);
        # names are sorted so that entry order does not depend on the file system.
        stack: list[tuple[str, list[os.DirEntry[str]]]] = [("", top[::-1])]
        while stack:
            prefix, pending = stack[-1]
            if not pending:
                stack.pop()
                continue
            item = pending.pop()
            raw = f"{prefix}{item.name}"
            if not self._count_members(1, part):
                break
            try:
                if item.is_symlink():
                    # Never followed: a link could point at ~/.ssh or loop forever.
                    self._refuse(raw, REASON_SYMLINK)
                elif item.is_dir(follow_symlinks=False):
                    self._enter_dir(stack, item, raw)
                elif item.is_file(follow_symlinks=False):
                    self._admit_dir_file(found, part, item, raw)
                else:
                    self._refuse(raw, REASON_SPECIAL)
            except OSError:
                self._refuse(raw, REASON_UNREADABLE)
        return found

    def _enter_dir(self, stack: list[tuple[str, list[os.DirEntry[str]]]], item: os.DirEntry[str], raw: str) -> None:
        try:
            children = _sorted_scandir(item.path)
        except OSError:
            self._refuse(raw, REASON_UNREADABLE_FOLDER)
            return
        stack.append((raw + "/", children[::-1]))

    def _admit_dir_file(self, found: list[_Found], part: Part, item: os.DirEntry[str], raw: str) -> None:
        path = self._checked_path(raw)
        if path is None:
            return
        if not os.access(item.path, os.R_OK):
            self._refuse(path, REASON_UNREADABLE)
            return
        st = item.stat(follow_symlinks=False)
        fingerprint = f"file:{st.st_size}:{st.st_mtime_ns}"
        self._admit(found, part, path, st.st_size, fingerprint, FileOpener(item.path, follow=False))

    def _scan_file(self, part: Part) -> list[_Found]:
        # The user named this file, so its name is taken as it is (only NFC); it is not archive
        # content and a name like "C:notes.json" is legal on their file system.
        name = unicodedata.normalize("NFC", without_surrogates(part.name))
        try:
            st = os.stat(part.path)
        except OSError as exc:
            raise UsageError(f"cannot read {printable(part.name)}: {exc.strerror or exc}") from exc
        found: list[_Found] = []
        if not self._count_members(1, part):
            return found
        fingerprint = f"file:{st.st_size}:{st.st_mtime_ns}"
        self._admit(found, part, name, st.st_size, fingerprint, FileOpener(str(part.path), follow=True))
        return found

    def _merge(self, scanned: list[tuple[Part, list[_Found]]]) -> list[Entry]:
        """One entry list over all parts, dropping copies that earlier parts already hold.

        Multi-part exports repeat some files in every part; same rel and same size is taken as
        the same file.  Different sizes are kept so the importer sees both (get() returns the
        first).  Duplicates within one part are all kept: nothing says they are copies.
        """
        entries: list[Entry] = []
        earlier: dict[str, set[int]] = {}  # rel -> sizes seen in previous parts
        for number, (part, found) in enumerate(scanned, 1):
            strip = len(part.wrapper) + 1 if part.wrapper else 0
            first = len(entries)
            found.reverse()  # taken from the end: each is gone once its entry exists, never both kept
            while found:
                item = found.pop()
                rel = item.path[strip:]  # the path itself (not a copy) when nothing is stripped
                if item.size in earlier.get(rel, ()):
                    continue
                entries.append(Entry(path=item.path, rel=rel, size=item.size, part=part,
                                     fingerprint=item.fingerprint, opener=item.opener, state=self._state))
            if number < len(scanned):  # what the parts after this one must not repeat
                for entry in entries[first:]:
                    earlier.setdefault(entry.rel, set()).add(entry.size)  # type: ignore[arg-type]
        return entries


def _zip_records(part: Part) -> Generator[CentralRecord, None, None]:
    """The part's central directory records; a directory that does not parse is the part's
    error (raised here, so that nothing the scan itself raises is taken for damage)."""
    try:
        yield from read_records(str(part.path))
    except (ZipListingError, OSError, EOFError, ValueError, OverflowError, struct.error,
            NotImplementedError) as exc:
        raise _corrupt(part, "zip", exc) from exc


def _whole_seconds(mtime: float) -> int:
    """A tar mtime as whole seconds; pax headers may hold fractions, or "inf"/"nan" in a crafted one."""
    try:
        return int(mtime)
    except (ValueError, OverflowError):
        return 0


def _sorted_scandir(os_path: str) -> list[os.DirEntry[str]]:
    with os.scandir(os_path) as it:
        return sorted(it, key=lambda item: item.name)


def _corrupt(part: Part, kind: str, exc: BaseException) -> UnsupportedInputError:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, NotImplementedError):
        return UnsupportedInputError(
            f"{printable(part.name)} uses a {kind} feature this program cannot read ({detail})"
        )
    return UnsupportedInputError(
        f"{printable(part.name)} looks truncated or corrupt: it cannot be read as a {kind} archive ({detail})",
        hint=CORRUPT_HINT,
    )
