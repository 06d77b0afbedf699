"""What the benchmarks say about the file system they measure on.

One case matters enough to print: ext4 *without a journal* (the root file system of some
virtual machines, and ``mkfs.ext4 -O ^has_journal``).  There, the kernel's inode allocator passes
over the inodes freed in the last few minutes (``recently_deleted`` in ``fs/ext4/ialloc.c``, which
only runs without a journal), reading each one's deletion time.  Right after many files were
deleted, by an earlier benchmark's cleanup for instance, creating a file costs many times its
usual system time.  Measured on this project's machine: one import worker storing 30,000 photos
of 3 kB used 2.5 s of system time on a new file system, and 11-13 s a few minutes after
`compare.py` had removed the twelve vaults it imported into.  An import, which creates a file
per object, pays that; `tar | age` and restic, which create few files, barely do.

Linux only; anywhere else, and for any other file system, there is nothing to say.
"""

from __future__ import annotations

import os
from pathlib import Path


def device_name(path: Path) -> str | None:
    """The kernel's name of the block device holding ``path`` (``vda``, ``loop0``), or None."""
    try:
        st = os.stat(path)
        target = os.readlink(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    except OSError:
        return None
    return os.path.basename(target)


def ext4_without_journal(path: Path) -> bool:
    """True when ``path`` is on an ext4 file system that has no journal: ext4 lists each mounted
    file system under ``/proc/fs/ext4/<device>``, and jbd2 each journal under
    ``/proc/fs/jbd2/<device>-<inode>``."""
    name = device_name(path)
    if name is None or not os.path.isdir(f"/proc/fs/ext4/{name}"):
        return False
    try:
        journals = os.listdir("/proc/fs/jbd2")
    except OSError:
        journals = []
    return not any(entry.startswith(name + "-") for entry in journals)


def caution(path: Path) -> str | None:
    """A line for the benchmark's output when the file system holding ``path`` makes file
    creation depend on what was deleted in the last minutes; None otherwise."""
    if not ext4_without_journal(path):
        return None
    return (f"{path} is on ext4 without a journal ({device_name(path)}): files created within a few "
            "minutes of a mass deletion cost several times more system time; start on a new file "
            "system, or wait a few minutes after deleting many files (bench/README.md)")
