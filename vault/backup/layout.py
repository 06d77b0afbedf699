"""Layout rules shared by backup and restore: which files are vault files, in which order they
are copied, which names are reserved at a destination, and how local files are listed and hashed."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path, PurePosixPath

from ..errors import UsageError

TRASH = "trash"
INCOMING = ".incoming"
PARTIAL_SUFFIX = ".partial"  # rclone's name for an upload in flight on local/SFTP-like backends
RESTORE_MARKER = "restore-incomplete"  # in PATH/tmp/ while a restore runs (tmp/ is never backed up)

# Local files that are never backed up (index/ is derived from catalog/ and rebuilt on open).
LOCAL_SKIP_TOP = {"lock", "tmp", "index"}
# Top-level names reserved at a destination (never restored, never treated as vault files).
DEST_RESERVED_TOP = {TRASH, INCOMING, "lock", "tmp", "index"}
# Where stale files are looked for: a destination may hold other things, which are left alone.
VAULT_AREAS = ("objects/", "catalog/", "checksums/", "keys/")
VAULT_TOP_FILES = {"vault.json", "vault.yaml"}
IMMUTABLE_AREAS = ("objects/", "catalog/", "checksums/")

CHUNK = 1 << 20


HEAD_REL = "catalog/head.json"  # mutable: replaced at every catalog write (see store/head.py)


def phase(rel: str) -> int:
    """Copy order of a file: objects, catalog, checksums, other mutable files (keys, the catalog
    head, which lists catalog files already copied), vault.json."""
    if rel == HEAD_REL:
        return 3
    if rel.startswith("objects/"):
        return 0
    if rel.startswith("catalog/"):
        return 1
    if rel.startswith("checksums/"):
        return 2
    if rel == "vault.json":
        return 4
    return 3


def is_immutable(rel: str) -> bool:
    return rel.startswith(IMMUTABLE_AREAS) and rel != HEAD_REL


def in_vault_area(rel: str) -> bool:
    return rel in VAULT_TOP_FILES or rel.startswith(VAULT_AREAS)


def is_junk(rel: str) -> bool:
    """Our own or rclone's partial uploads: safe to delete, never backed-up data."""
    return rel.startswith(INCOMING + "/") or (in_vault_area(rel) and rel.endswith(PARTIAL_SUFFIX))


def is_reserved(rel: str) -> bool:
    return rel.split("/", 1)[0] in DEST_RESERVED_TOP


def is_safe_rel(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return bool(rel) and not rel.startswith("/") and not any(p in ("..", ".", "") for p in parts) and not any(c in rel for c in "\n\r\0\\")


def check_rel(rel: str) -> str:
    """Validate a relative path from a listing: MUST be relative, without ``..`` or control
    characters, so that no listing can make us write outside a root."""
    if not is_safe_rel(rel):
        raise UsageError(f"refusing an unsafe path: {rel!r}")
    return rel


def scan_local(root: Path, skip_top: set[str] = LOCAL_SKIP_TOP) -> dict[str, int]:
    """{relative posix path: size} of the regular files under ``root`` (links are not followed),
    without the top-level names in ``skip_top``."""
    out: dict[str, int] = {}
    if not root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in skip_top]
            rel_dir = ""
        dirnames.sort()
        for name in sorted(filenames):
            if not rel_dir and name in skip_top:
                continue
            try:
                st = os.lstat(here / name)
            except FileNotFoundError:
                continue
            if not _is_regular(st.st_mode):
                continue
            out[f"{rel_dir}/{name}" if rel_dir else name] = st.st_size
    return out


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def today_utc() -> date:
    return datetime.now(timezone.utc).date()
