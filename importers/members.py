"""Reading one export member whole, turning every way it can fail into a ``Skipped`` value."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from vault.archive import ArchiveMemberError
from vault.models import Skipped

if TYPE_CHECKING:
    from vault.archive import Entry


def load_json(entry: "Entry", limit: int) -> tuple[Any, Skipped | None]:
    """(parsed root, None), or (None, Skipped(entry.rel, reason)) when the member is unusable.

    Truncated or invalid JSON gives ``"invalid JSON: <detail>"``; a damaged, oversized or
    unreadable member gives the archive layer's message.
    """
    try:
        data = entry.read_bytes(limit)
    except ArchiveMemberError as exc:
        return None, Skipped(entry.rel, exc.message)
    except OSError as exc:  # a folder member that vanished or became unreadable since listing
        return None, Skipped(entry.rel, f"cannot read: {exc.strerror or exc}")
    try:
        return json.loads(data), None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, RecursionError):
            detail = "nested too deeply"
        return None, Skipped(entry.rel, f"invalid JSON: {detail}")
