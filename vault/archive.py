"""Read an export (zip, tar, folder or bare file) as a set of streamable members.

Every export is treated as hostile input.  Nothing here ever writes a member to disk: an importer
asks an :class:`Entry` for a fresh stream and reads it.  That removes the whole class of
path-traversal and link-following attacks that extraction invites, but member *names* still flow
into the catalog, the logs and the terminal, so they are normalized and unsafe ones are refused
(recorded in :attr:`ExportSource.problems`, never listed as entries).

Several paths given together are parts of one export (Facebook splits one export over several
zips, and a JSON file in one part may name a photo stored in another), so the entries of all
parts are merged into one list and looked up by the path *inside* the export.

Access costs, which importers should keep in mind:

* zip members are independent: open them in any order, several at once.
* tar members live in one stream.  Reading them in archive order is linear; jumping back to an
  earlier member of a compressed tar re-decompresses the archive from its start.  All member
  streams of one tar share the archive's file object, so read one tar member stream at a time
  (interleaving is correct but, for a compressed tar, very slow).
* folder and bare-file members are ordinary files, opened on demand.

The module imports only the standard library so that ``vault --help`` stays fast.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import os
import stat
import struct
import sys
import tarfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, Callable, Sequence

from vault.errors import UnsupportedInputError, UsageError, VaultError
from vault.models import Skipped

if TYPE_CHECKING:  # only for annotations; _typeshed does not exist at run time
    from _typeshed import WriteableBuffer

__all__ = [
    "ArchiveMemberError",
    "Entry",
    "ExportSource",
    "Limits",
    "Part",
    "REASON_ABSOLUTE",
    "REASON_BOMB",
    "REASON_DOTDOT",
    "REASON_EMPTY",
    "REASON_ENCRYPTED",
    "REASON_HARDLINK",
    "REASON_METHOD",
    "REASON_NUL",
    "REASON_SPECIAL",
    "REASON_SYMLINK",
    "REASON_TOO_LARGE",
    "REASON_UNREADABLE",
    "REASON_UNREADABLE_FOLDER",
]

# Reasons recorded in ExportSource.problems.  They are shown to the user as they are, so they are
# short human phrases; they are constants so that importers and tests can compare against them.
REASON_DOTDOT = "unsafe path (..)"
REASON_ABSOLUTE = "absolute path"
REASON_NUL = "unsafe path (NUL byte)"
REASON_EMPTY = "empty path"
REASON_SYMLINK = "symbolic link"
REASON_HARDLINK = "hard link"
REASON_SPECIAL = "special file"
REASON_TOO_LARGE = "member too large"
REASON_BOMB = "suspicious compression ratio (possible zip bomb)"
REASON_ENCRYPTED = "encrypted (password-protected) member"
REASON_METHOD = "unsupported compression method"
REASON_UNREADABLE = "unreadable file"
REASON_UNREADABLE_FOLDER = "unreadable folder"

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the record of an empty zip
_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"

_ZIP_UTF8_FLAG = 0x800          # general purpose bit 11: the name is UTF-8
_ZIP_ENCRYPTED_FLAGS = 0x1 | 0x40  # traditional or strong encryption
_ZIP_PATCHED_FLAG = 0x20        # "compressed patched data", which nothing can read
# Methods zipfile can decompress; anything else (AES, deflate64, ...) would fail on open.
_ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})

_CHUNK = 1 << 20             # read_bytes() and readall() work in 1 MiB steps to bound memory
_READER_BUFFER = 64 * 1024   # buffer in front of our size check, so readline() is not byte-wise
_CORRUPT_HINT = "download the export again; an interrupted download often leaves a file like this"


class ArchiveMemberError(VaultError):
    """Reading one member failed (damaged data, truncation, over a size limit).

    The message names the member.  The exit code stays the VaultError default: importers are
    expected to catch this and record a :class:`~vault.models.Skipped` for the member, so one
    damaged photo does not abort a whole import.
    """

    def __init__(self, message: str, hint: str | None = None, member: str | None = None) -> None:
        super().__init__(message, hint)
        # The member's path, so an importer can build a Skipped without parsing the message.
        self.member = member


@dataclass(frozen=True)
class Limits:
    """Size limits that protect against archive bombs.  Defaults suit real exports (tens of GiB)."""

    max_member_size: int = 64 * 2**30   # a single member's uncompressed size
    max_total_size: int = 1 * 2**40     # sum of declared uncompressed sizes over all parts
    max_ratio: float = 200.0            # uncompressed/compressed, for zip members >= ratio_floor
    ratio_floor: int = 16 * 2**20       # small files may compress extremely well; only big ones count
    max_members: int = 1_000_000        # members over all parts, directories and refused ones included


@dataclass
class Part:
    """One path the user gave: an archive, a folder or a single file."""

    name: str                   # basename as the user gave it ("facebook-jana-...-abc.zip")
    path: Path                  # absolute path
    kind: str                   # "zip" | "tar" | "dir" | "file"
    wrapper: str | None = None  # the single top-level folder stripped from Entry.rel, if any


class _Refused(Exception):
    """Internal: a member name or type is refused; carries the reason recorded in problems."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _SourceState:
    """Shared by an ExportSource and its entries, so entries refuse to open after close()."""

    __slots__ = ("closed",)

    def __init__(self) -> None:
        self.closed = False


@dataclass
class _Found:
    """A member accepted while scanning a part, before the part's wrapper folder is known."""

    path: str
    size: int
    fingerprint: str
    opener: Callable[[], IO[bytes]]


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


def _printable(text: str) -> str:
    """``text`` with control and other invisible characters escaped.

    Member names end up in messages printed to a terminal; a hostile name could otherwise carry
    escape sequences.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _without_surrogates(name: str) -> str:
    """Replace lone surrogates with U+FFFD.

    tarfile and os.scandir decode undecodable bytes as surrogates ("surrogateescape"); such a
    string cannot be encoded as UTF-8 later (JSON, the catalog), so it is made valid here.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in name)
    return name


def _clean(name: str) -> str:
    """Lenient normalization shared by member names and lookups.

    Backslashes become slashes (Windows tools write them), the text is NFC-normalized (macOS
    writes NFD, so the same name typed by the user would not match otherwise), and empty and "."
    segments are dropped, which also strips a leading "./".  It refuses nothing; see _safe_path.
    """
    name = unicodedata.normalize("NFC", _without_surrogates(name).replace("\\", "/"))
    return "/".join(seg for seg in name.split("/") if seg not in ("", "."))


def _has_drive(name: str) -> bool:
    """True for "C:..." - absolute (or drive-relative) on Windows, never a sane member name."""
    return len(name) >= 2 and name[1] == ":" and name[0].isascii() and name[0].isalpha()


def _safe_path(raw: str) -> str:
    """The normalized member path for ``raw``, or raise _Refused if the name is unsafe."""
    if "\x00" in raw:
        # A NUL truncates the name in C code ("photo.jpg\0.exe"), so different tools disagree
        # about what the member is called.
        raise _Refused(REASON_NUL)
    name = raw.replace("\\", "/")
    if name.startswith("/") or _has_drive(name):  # also covers "//server/share"
        raise _Refused(REASON_ABSOLUTE)
    path = _clean(name)
    if ".." in path.split("/"):
        raise _Refused(REASON_DOTDOT)
    if not path:
        raise _Refused(REASON_EMPTY)
    return path


def _undo_cp437(name: str) -> str:
    """Recover a UTF-8 name from a zip member that lacks the UTF-8 flag.

    zipfile decodes such names as cp437, as the zip specification says, but most tools (and
    every social network we know) actually write UTF-8 without setting the flag.  Encoding back to
    cp437 restores the original bytes; if those are valid UTF-8 they almost certainly were meant
    as UTF-8 (real cp437 text with accents is rarely valid UTF-8), otherwise cp437 stands.
    """
    try:
        return name.encode("cp437").decode("utf-8")
    except UnicodeError:
        return name


def _find_wrapper(paths: Sequence[str]) -> str | None:
    """The single top-level folder every path lies under, or None.

    Exports are often zipped as one folder ("twitter-2024-05-14/data/..."); stripping it lets
    importers use the same relative paths whether the user gave the zip or an unpacked folder.
    """
    top: str | None = None
    for path in paths:
        head, sep, _ = path.partition("/")
        if not sep or (top is not None and head != top):
            return None
        top = head
    return top


def _human(size: float) -> str:
    """A byte count in binary units for messages ("1 TiB", "512 MiB")."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:g} {unit}"
        size /= 1024
    return f"{size:g} TiB"  # not reached; keeps type checkers sure a str is returned


# ---------------------------------------------------------------------------------------------
# Streams
# ---------------------------------------------------------------------------------------------


def _data_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the member's data is damaged or unreadable".

    zipfile raises BadZipFile on a CRC mismatch, EOFError on truncation and zlib.error on a broken
    deflate stream; tarfile raises TarError; gzip and bz2 raise OSError; lzma has its own error.
    lzma is not imported here (it is slow to import and rarely needed): if an LZMAError was
    raised, lzma is already loaded, and an ``except`` expression is only evaluated when an
    exception is being matched.
    """
    errors: tuple[type[BaseException], ...] = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError)
    lzma = sys.modules.get("lzma")
    if lzma is not None:
        errors += (lzma.LZMAError,)
    return errors


def _open_errors() -> tuple[type[BaseException], ...]:
    """Exceptions opening a member may raise besides _data_errors().

    zipfile raises NotImplementedError/RuntimeError for features it lacks (and for a missing
    bz2/lzma module) and UnicodeDecodeError for a local header name that is not valid UTF-8.
    """
    return _data_errors() + (NotImplementedError, RuntimeError, UnicodeDecodeError)


def _listing_errors() -> tuple[type[BaseException], ...]:
    """Exceptions listing a tar may raise: damaged data, plus ValueError from bad header numbers."""
    return _data_errors() + (ValueError,)


class _BoundedReader(io.RawIOBase):
    """A stream that yields exactly the declared size of a member, translating errors.

    The declared size is what the limits were checked against, so more data than declared is
    an attack (or a changed file) and raises instead of being passed on; less data than
    declared means truncation and raises too.  Errors of the underlying stream become
    ArchiveMemberError naming the member, so importers need to catch only one exception.
    """

    def __init__(self, inner: IO[bytes], label: str, member: str, size: int | None) -> None:
        super().__init__()
        self._inner = inner
        self._label = label
        self._member = member
        self._size = size  # None: nothing was declared, so nothing to enforce
        self._pos = 0

    def readable(self) -> bool:
        return True

    def _fail(self, what: str) -> ArchiveMemberError:
        return ArchiveMemberError(f"cannot read {self._label}: {what}", hint=_CORRUPT_HINT, member=self._member)

    def _inner_read(self, size: int) -> bytes:
        try:
            return self._inner.read(size)
        except _data_errors() as exc:
            raise self._fail(str(exc) or type(exc).__name__) from exc

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        if size is None or size < 0:
            return self.readall()
        if self._size is None:
            chunk = self._inner_read(size)
            self._pos += len(chunk)
            return chunk
        remaining = self._size - self._pos
        if remaining <= 0:
            # Everything declared has been delivered.  Probe one byte: a longer stream means the
            # member lied about its size (or the file grew since it was listed).
            if self._inner_read(1):
                raise self._fail(f"it holds more data than its declared size of {self._size} bytes")
            return b""
        if size == 0:
            return b""
        wanted = min(size, remaining)
        chunk = self._inner_read(wanted)
        if not chunk:
            raise self._fail(f"the data ends after {self._pos} of {self._size} bytes (truncated)")
        if len(chunk) > wanted:  # a misbehaving inner stream must not smuggle extra bytes through
            raise self._fail(f"it holds more data than its declared size of {self._size} bytes")
        self._pos += len(chunk)
        return chunk

    def readall(self) -> bytes:
        # Chunked so that the size checks in read() apply; bounded by the declared size.
        chunks: list[bytes] = []
        while True:
            chunk = self.read(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._inner.close()
        finally:
            super().close()


def _open_no_follow(os_path: str) -> IO[bytes]:
    """Open a file found inside a folder input, refusing anything but a regular file.

    The folder was listed earlier; O_NOFOLLOW and the fstat check stop a file that has since
    been replaced by a symlink or a FIFO (which would block forever) from being read.
    """
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    return _fdopen_regular(os.open(os_path, flags))


def _open_given_file(os_path: str) -> IO[bytes]:
    """Open a bare file the user named; a symlink the user gave is followed on purpose."""
    return _fdopen_regular(os.open(os_path, os.O_RDONLY | getattr(os, "O_BINARY", 0)))


def _fdopen_regular(fd: int) -> IO[bytes]:
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("it is no longer a regular file")
        return os.fdopen(fd, "rb")
    except OSError:
        os.close(fd)
        raise


def _open_tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    # extractfile() builds a new stream positioned at the member's start each call, so calling
    # Entry.open() repeatedly is safe; the streams share tar's file object (see module docs).
    stream = tar.extractfile(member)
    if stream is None:  # only regular files become entries, so this means tarfile changed its mind
        raise tarfile.TarError("not a regular file")
    return stream


# ---------------------------------------------------------------------------------------------
# Entries and the source
# ---------------------------------------------------------------------------------------------


class Entry:
    """One readable member of an export.  Opening it never extracts anything to disk."""

    __slots__ = ("path", "rel", "size", "part", "fingerprint", "_opener", "_state")

    def __init__(
        self,
        *,
        path: str,
        rel: str,
        size: int | None,
        part: Part,
        fingerprint: str,
        opener: Callable[[], IO[bytes]],
        state: _SourceState,
    ) -> None:
        self.path = path                # normalized POSIX path inside its part, NFC
        self.rel = rel                  # path without the part's wrapper folder
        self.size = size                # uncompressed size as declared/listed
        self.part = part
        self.fingerprint = fingerprint  # cheap change detector (see ExportSource docs)
        self._opener = opener
        self._state = state

    def __repr__(self) -> str:
        return f"Entry({self.path!r}, part={self.part.name!r}, size={self.size})"

    @property
    def _label(self) -> str:
        """How messages name the member: its path, and which part when that is not obvious."""
        if self.part.kind == "file":
            return repr(_printable(self.path))
        return f"{_printable(self.path)!r} in {_printable(self.part.name)}"

    def open(self) -> BinaryIO:
        """A fresh streaming reader of the member's bytes; the caller closes it.

        Never reads the whole member; raises ArchiveMemberError (here or on read) when the data
        is damaged, truncated or longer than declared.
        """
        if self._state.closed:
            raise ValueError("the export source is closed")
        try:
            inner = self._opener()
        except _open_errors() as exc:
            raise ArchiveMemberError(
                f"cannot open {self._label}: {str(exc) or type(exc).__name__}", hint=_CORRUPT_HINT, member=self.path
            ) from exc
        # The buffer makes line-wise reading (csv, readline) efficient; size checks sit below it.
        return io.BufferedReader(_BoundedReader(inner, self._label, self.path, self.size), _READER_BUFFER)

    def _too_big(self, limit: int) -> ArchiveMemberError:
        message = f"{self._label} is larger than {_human(limit)}; not reading it whole"
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
                chunk = stream.read(min(_CHUNK, limit + 1 - total))
                if not chunk:
                    return b"".join(chunks)
                total += len(chunk)
                if total > limit:
                    raise self._too_big(limit)
                chunks.append(chunk)


class ExportSource:
    """All members of one export, given as one or more parts.  A context manager.

    Fingerprints: zip "zip:<crc32 hex>:<size>", tar "tar:<size>:<mtime>", folder and bare file
    "file:<size>:<mtime_ns>".  They are cheap change detectors, not hashes.

    Problems: every refused member is recorded as ``Skipped(path, reason)``, where path is the
    member's name as stored (control characters escaped) and reason one of the REASON_* phrases.

    Raises UsageError for a path that does not exist, UnsupportedInputError for an archive that
    cannot be opened or that exceeds the total-size or member-count limit.
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
        self._state = _SourceState()
        self._handles: list[zipfile.ZipFile | tarfile.TarFile] = []
        self._total_size = 0
        self._member_count = 0
        self._by_rel: dict[str, Entry] = {}
        self._by_path: dict[str, Entry] = {}
        self._by_name: dict[str, list[Entry]] = {}
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
            self._by_path.setdefault(entry.path, entry)
            self._by_name.setdefault(entry.path.rpartition("/")[2], []).append(entry)
        extra = len(self.parts) - 1
        first = self.parts[0].name
        self.display_name = first if not extra else f"{first} (+{extra} part{'s' if extra > 1 else ''})"

    # -- public ---------------------------------------------------------------------------------

    def get(self, path: str) -> Entry | None:
        """The first entry whose rel (else whose path) equals ``path`` after normalization."""
        key = _clean(path)
        entry = self._by_rel.get(key)
        return entry if entry is not None else self._by_path.get(key)

    def glob(self, pattern: str) -> list[Entry]:
        """Entries whose rel or path matches ``pattern`` (fnmatch rules: "*" also matches "/")."""
        pattern = _clean(pattern)
        return [e for e in self.entries if fnmatch.fnmatchcase(e.rel, pattern) or fnmatch.fnmatchcase(e.path, pattern)]

    def by_name(self, basename: str) -> list[Entry]:
        """Entries whose last path segment equals ``basename`` (case-sensitive, NFC)."""
        return list(self._by_name.get(unicodedata.normalize("NFC", basename), []))

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
        shown = _printable(str(given))
        kind, compressed = _detect(path, shown)
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
            part.wrapper = _find_wrapper([f.path for f in found])
        return part, found

    def _refuse(self, name: str, reason: str) -> None:
        self.problems.append(Skipped(path=_printable(name), reason=reason))

    def _checked_path(self, raw: str, is_dir: bool = False) -> str | None:
        """The safe path for ``raw``, or None after recording why it was refused."""
        try:
            return _safe_path(raw)
        except _Refused as refused:
            # Archives often list their root as "./"; that is not worth a problem report.
            if not (is_dir and refused.reason == REASON_EMPTY):
                self._refuse(raw, refused.reason)
            return None

    def _count_members(self, count: int, part: Part) -> None:
        self._member_count += count
        if self._member_count > self.limits.max_members:
            raise UnsupportedInputError(
                f"{_printable(part.name)} holds more than {self.limits.max_members:,} files; "
                "refusing (possible zip bomb)"
            )

    def _admit(self, found: list[_Found], part: Part, path: str, size: int, fingerprint: str,
               opener: Callable[[], IO[bytes]]) -> None:
        """Apply the size limits that every kind of member shares, then accept the member."""
        if size > self.limits.max_member_size:
            self._refuse(path, REASON_TOO_LARGE)
            return
        self._total_size += size
        if self._total_size > self.limits.max_total_size:
            # Not a per-member refusal: an export this large is almost certainly crafted, and a
            # partial import of it would be misleading.
            raise UnsupportedInputError(
                f"{_printable(part.name)}: archive expands to more than {_human(self.limits.max_total_size)}; "
                "refusing (possible zip bomb)",
                hint="check that this is the export you meant to import",
            )
        found.append(_Found(path, size, fingerprint, opener))

    def _scan_zip(self, part: Part) -> list[_Found]:
        try:
            archive = zipfile.ZipFile(part.path)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, OverflowError, struct.error,
                NotImplementedError) as exc:
            raise _corrupt(part, "zip", exc) from exc
        self._handles.append(archive)
        infos = archive.infolist()
        # zipfile has already read the central directory; counting now still stops the work
        # (and the entry objects) that a million-member archive would cost.
        self._count_members(len(infos), part)
        limits = self.limits
        found: list[_Found] = []
        for info in infos:
            raw = info.orig_filename  # unlike .filename, not cut at a NUL, so NUL tricks are seen
            if not info.flag_bits & _ZIP_UTF8_FLAG:
                raw = _undo_cp437(raw)
            file_type = stat.S_IFMT(info.external_attr >> 16)
            is_dir = raw.replace("\\", "/").endswith("/") or (file_type == stat.S_IFDIR and info.file_size == 0)
            path = self._checked_path(raw, is_dir)
            if path is None or is_dir:
                continue
            if file_type == stat.S_IFLNK:
                # Only the link's target text is stored; an importer following it could be led
                # anywhere, so it is not an entry at all.
                self._refuse(path, REASON_SYMLINK)
            elif file_type not in (0, stat.S_IFREG):  # 0: written by a tool that sets no mode
                self._refuse(path, REASON_SPECIAL)
            elif info.flag_bits & _ZIP_ENCRYPTED_FLAGS:
                self._refuse(path, REASON_ENCRYPTED)
            elif info.compress_type not in _ZIP_METHODS or info.flag_bits & _ZIP_PATCHED_FLAG:
                self._refuse(path, REASON_METHOD)
            elif info.file_size >= limits.ratio_floor and (
                info.compress_size <= 0 or info.file_size / info.compress_size > limits.max_ratio
            ):
                # Checked before _admit's size limits so that a bomb is named as such.
                self._refuse(path, REASON_BOMB)
            else:
                fingerprint = f"zip:{info.CRC:08x}:{info.file_size}"
                self._admit(found, part, path, info.file_size, fingerprint, partial(archive.open, info))
        return found

    def _scan_tar(self, part: Part, compressed: bool) -> list[_Found]:
        try:
            archive = tarfile.open(part.path, "r:*")
        except _listing_errors() as exc:
            raise _corrupt(part, "tar", exc) from exc
        self._handles.append(archive)
        found: list[_Found] = []
        data_end = 0  # where the last member's data ends, to spot a truncated plain tar
        try:
            # tarfile lists members lazily, so the limits below stop a hostile archive before
            # all of it has been read.
            for member in archive:
                self._count_members(1, part)
                path = self._checked_path(member.name, member.isdir())
                if path is None or member.isdir():
                    continue
                if member.issym():
                    self._refuse(path, REASON_SYMLINK)
                elif member.islnk():
                    self._refuse(path, REASON_HARDLINK)
                elif not member.isreg():  # devices, FIFOs and exotic GNU types
                    self._refuse(path, REASON_SPECIAL)
                else:
                    if not member.issparse():
                        data_end = max(data_end, member.offset_data + member.size)
                    fingerprint = f"tar:{member.size}:{_whole_seconds(member.mtime)}"
                    opener = partial(_open_tar_member, archive, member)
                    self._admit(found, part, path, member.size, fingerprint, opener)
        except _listing_errors() as exc:
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
            raise UsageError(f"cannot read folder {_printable(part.name)}: {exc.strerror or exc}") from exc
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
            self._count_members(1, part)
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
        self._admit(found, part, path, st.st_size, fingerprint, partial(_open_no_follow, item.path))

    def _scan_file(self, part: Part) -> list[_Found]:
        # The user named this file, so its name is taken as it is (only NFC); it is not archive
        # content and a name like "C:notes.json" is legal on their file system.
        name = unicodedata.normalize("NFC", _without_surrogates(part.name))
        try:
            st = os.stat(part.path)
        except OSError as exc:
            raise UsageError(f"cannot read {_printable(part.name)}: {exc.strerror or exc}") from exc
        self._count_members(1, part)
        found: list[_Found] = []
        fingerprint = f"file:{st.st_size}:{st.st_mtime_ns}"
        self._admit(found, part, name, st.st_size, fingerprint, partial(_open_given_file, str(part.path)))
        return found

    def _merge(self, scanned: list[tuple[Part, list[_Found]]]) -> list[Entry]:
        """One entry list over all parts, dropping copies that earlier parts already hold.

        Multi-part exports repeat some files in every part; same rel and same size is taken as
        the same file.  Different sizes are kept so the importer sees both (get() returns the
        first).  Duplicates within one part are all kept: nothing says they are copies.
        """
        entries: list[Entry] = []
        earlier: dict[str, set[int]] = {}  # rel -> sizes seen in previous parts
        for part, found in scanned:
            strip = len(part.wrapper) + 1 if part.wrapper else 0
            this_part: list[tuple[str, int]] = []
            for item in found:
                rel = item.path[strip:]
                if item.size in earlier.get(rel, ()):
                    continue
                entries.append(Entry(path=item.path, rel=rel, size=item.size, part=part,
                                     fingerprint=item.fingerprint, opener=item.opener, state=self._state))
                this_part.append((rel, item.size))
            for rel, size in this_part:
                earlier.setdefault(rel, set()).add(size)
        return entries


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
            f"{_printable(part.name)} uses a {kind} feature this program cannot read ({detail})"
        )
    return UnsupportedInputError(
        f"{_printable(part.name)} looks truncated or corrupt: it cannot be read as a {kind} archive ({detail})",
        hint=_CORRUPT_HINT,
    )


def _detect(path: Path, shown: str) -> tuple[str, bool]:
    """The kind of ``path`` by content ("zip", "tar", "dir", "file") and whether it is compressed.

    Extensions lie (a zip renamed .json, a tar.gz saved as .zip), so only the bytes count.
    """
    try:
        st = os.stat(path)  # follows a symlink the user gave, deliberately
    except (FileNotFoundError, NotADirectoryError):
        raise UsageError(f"no such file or folder: {shown}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {shown}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        return "dir", False
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or device could block or never end; exports are files.
        raise UsageError(f"not a regular file or folder: {shown}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise UsageError(f"cannot read {shown}: {exc.strerror or exc}") from None
    if head.startswith(_ZIP_MAGICS):
        return "zip", False
    if head.startswith(_GZIP_MAGIC):
        # A gzip that does not hold a tar (e.g. a compressed log) is just a file.
        return ("tar", True) if _gzip_holds_tar(path, shown) else ("file", False)
    compressed = head.startswith((_BZIP2_MAGIC, _XZ_MAGIC))
    try:
        # Also recognizes .tar.bz2 and .tar.xz, which tarfile reads just as well.
        if tarfile.is_tarfile(path):
            return "tar", compressed
    except (OSError, EOFError, zlib.error):
        pass  # a damaged bz2/xz stream: not recognizably a tar, so fall through to "file"
    # Checked after tar: a plain tar whose last member is a zip would otherwise pass for that zip,
    # because is_zipfile() only looks for an end record near the end of the file.  Still needed
    # for zips with a prefix (self-extracting), which lack the magic at offset 0.
    if zipfile.is_zipfile(path):
        return "zip", False
    return "file", False


def _gzip_holds_tar(path: Path, shown: str) -> bool:
    """True when the first decompressed block of a gzip file is a tar header."""
    try:
        with gzip.open(path, "rb") as gz:
            block = gz.read(tarfile.BLOCKSIZE)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnsupportedInputError(
            f"{shown} looks truncated or corrupt: it cannot be decompressed ({exc})", hint=_CORRUPT_HINT
        ) from exc
    if len(block) < tarfile.BLOCKSIZE:
        return False
    if not block.strip(b"\x00"):
        return True  # an all-zero first block is how an empty tar archive starts
    try:
        tarfile.TarInfo.frombuf(block, tarfile.ENCODING, "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True
