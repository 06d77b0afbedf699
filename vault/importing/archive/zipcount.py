"""Counting a zip's members before zipfile parses its listing, so that an archive listing more
members than an import allows is refused without the memory that parsing would take."""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path


def zip_member_count(path: Path, enough: int) -> int | None:
    """How many records the zip's central directory holds, counting at most to ``enough``.

    Walks the record headers (46 bytes each plus three variable lengths) the way zipfile
    will, without building anything, so a zip with millions of members is noticed for the cost
    of reading its directory.  None when the end record cannot be found or the directory does
    not parse; zipfile then reports the damage itself.
    """
    end_record = getattr(zipfile, "_EndRecData", None)  # zipfile's own end-record search
    if end_record is None:
        return None
    try:
        with open(path, "rb") as fh:
            end = end_record(fh)
            if not end:
                return None
            # Indices of the end record tuple: 0 signature, 5 directory size, 6 directory
            # offset, 9 where the end record itself starts.
            size_cd, offset_cd = end[5], end[6]
            prefix = end[9] - size_cd - offset_cd  # bytes prepended (self-extracting archives)
            if end[0] == b"PK\x06\x06":  # zip64: its end record and locator sit in between
                prefix -= 56 + 20
            fh.seek(offset_cd + prefix)
            count, walked = 0, 0
            while walked < size_cd and count < enough:
                header = fh.read(46)
                if len(header) < 46 or header[:4] != b"PK\x01\x02":
                    return None
                name_len, extra_len, comment_len = struct.unpack_from("<HHH", header, 28)
                skip = name_len + extra_len + comment_len
                fh.seek(skip, os.SEEK_CUR)
                walked += 46 + skip
                count += 1
            return count
    except (OSError, ValueError, struct.error, EOFError):
        return None
