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

from .entry import Entry, Part
from .names import (
    REASON_ABSOLUTE,
    REASON_BOMB,
    REASON_BUDGET,
    REASON_DOTDOT,
    REASON_EMPTY,
    REASON_ENCRYPTED,
    REASON_HARDLINK,
    REASON_METHOD,
    REASON_NUL,
    REASON_SPECIAL,
    REASON_SYMLINK,
    REASON_TOO_LARGE,
    REASON_UNREADABLE,
    REASON_UNREADABLE_FOLDER,
)
from .readers import ArchiveMemberError
from .source import ExportSource, Limits

__all__ = [
    "ArchiveMemberError",
    "Entry",
    "ExportSource",
    "Limits",
    "Part",
    "REASON_ABSOLUTE",
    "REASON_BOMB",
    "REASON_BUDGET",
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
