"""Which members of an export may hold eBay feedback (by name, then by their first bytes), and
reading them without letting a damaged member raise.

Used by the importer (which members to read, and how) and by the API-response reader: a member
that cannot be read is None here, and the caller turns that into a ``Skipped``."""

from __future__ import annotations

import posixpath

from vault.plugin_api import ArchiveMemberError

from . import page as ebay_html

CSV_FILES = {"feedback_received.csv": "received", "feedback_left.csv": "left"}
SNIFF_BYTES = 64 * 1024


def member_kind(path: str) -> str:
    """"csv" (a data-request file, by name), "html", "data" (XML/JSON, sniffed) or "skip"."""
    base = posixpath.basename(path)
    lower = base.lower()
    if base.startswith(".") or path.startswith("__MACOSX/") or "/__MACOSX/" in path:
        return "skip"
    if lower in CSV_FILES:
        return "csv"
    ext = posixpath.splitext(lower)[1]
    if ext in (".html", ".htm", ".xhtml"):
        return "html"
    if ext in (".xml", ".json", ".txt", ""):
        return "data"
    return "skip"  # photos, other CSVs, a saved page's scripts and styles


def read_head(entry) -> bytes | None:
    """The member's first ``SNIFF_BYTES`` bytes, or None when it cannot be read."""
    try:
        with entry.open() as fh:
            return fh.read(SNIFF_BYTES)
    except (ArchiveMemberError, OSError, ValueError):
        return None


def read_member(entry, limit: int) -> bytes | None:
    """The whole member (at most ``limit`` bytes), or None when it is damaged, too big or gone."""
    try:
        return entry.read_bytes(limit)
    except (ArchiveMemberError, OSError, ValueError):
        return None


def sniff(path: str, head: bytes) -> str | None:
    """"xml", "json" or "html" when the member's first bytes look like eBay feedback data."""
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    lower = path.lower()
    if text.startswith("<?xml") or text.startswith("<") and lower.endswith(".xml"):
        return "xml" if ("FeedbackDetail" in text or "GetFeedbackResponse" in text) else None
    if text.startswith(("{", "[")):
        return "json" if '"feedbackId"' in text else None
    if ebay_html.looks_like_html(text[:4096]):
        return "html"
    return None
