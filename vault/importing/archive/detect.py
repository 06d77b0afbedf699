"""What kind of input a path is (zip, tar, folder or bare file), decided by its content."""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path

from vault.errors import UnsupportedInputError, UsageError

from .readers import CORRUPT_HINT

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the record of an empty zip
_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"


def detect_kind(path: Path, shown: str) -> tuple[str, bool]:
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
            f"{shown} looks truncated or corrupt: it cannot be decompressed ({exc})", hint=CORRUPT_HINT
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
