"""Member names: normalization, the safety rules that refuse a name (with the REASON_* phrases
recorded in ExportSource.problems), and how names and sizes are shown in messages."""

from __future__ import annotations

import unicodedata
from typing import Sequence

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
REASON_BUDGET = "the archive expands to more than its size allows (possible zip bomb)"
REASON_ENCRYPTED = "encrypted (password-protected) member"
REASON_METHOD = "unsupported compression method"
REASON_UNREADABLE = "unreadable file"
REASON_UNREADABLE_FOLDER = "unreadable folder"


class Refused(Exception):
    """Internal: a member name or type is refused; carries the reason recorded in problems."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def printable(text: str) -> str:
    """``text`` with control and other invisible characters escaped.

    Member names end up in messages printed to a terminal; a hostile name could otherwise carry
    escape sequences.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def without_surrogates(name: str) -> str:
    """Replace lone surrogates with U+FFFD.

    tarfile and os.scandir decode undecodable bytes as surrogates ("surrogateescape"); such a
    string cannot be encoded as UTF-8 later (JSON, the catalog), so it is made valid here.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in name)
    return name


def clean_name(name: str) -> str:
    """Lenient normalization shared by member names and lookups.

    Backslashes become slashes (Windows tools write them), the text is NFC-normalized (macOS
    writes NFD, so the same name typed by the user would not match otherwise), and empty and "."
    segments are dropped, which also strips a leading "./".  It refuses nothing; see safe_path.
    """
    name = unicodedata.normalize("NFC", without_surrogates(name).replace("\\", "/"))
    return "/".join(seg for seg in name.split("/") if seg not in ("", "."))


def _has_drive(name: str) -> bool:
    """True for "C:..." - absolute (or drive-relative) on Windows, never a sane member name."""
    return len(name) >= 2 and name[1] == ":" and name[0].isascii() and name[0].isalpha()


def safe_path(raw: str) -> str:
    """The normalized member path for ``raw``, or raise Refused if the name is unsafe."""
    if "\x00" in raw:
        # A NUL truncates the name in C code ("photo.jpg\0.exe"), so different tools disagree
        # about what the member is called.
        raise Refused(REASON_NUL)
    name = raw.replace("\\", "/")
    if name.startswith("/") or _has_drive(name):  # also covers "//server/share"
        raise Refused(REASON_ABSOLUTE)
    path = clean_name(name)
    if ".." in path.split("/"):
        raise Refused(REASON_DOTDOT)
    if not path:
        raise Refused(REASON_EMPTY)
    return path


def undo_cp437(name: str) -> str:
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


def find_wrapper(paths: Sequence[str]) -> str | None:
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


def human_size(size: float) -> str:
    """A byte count in binary units for messages ("1 TiB", "512 MiB")."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:g} {unit}"
        size /= 1024
    return f"{size:g} TiB"  # not reached; keeps type checkers sure a str is returned
