"""Key-free facts about a vault (for `vault status`, `vault backup`, monitoring)."""

from __future__ import annotations

import os
from pathlib import Path

from .repository import Vault


def tree_size(root: Path, skip: tuple[str, ...] = ("tmp", "lock", "index")) -> tuple[int, int]:
    """(total bytes, file count) under ``root``, without following links."""
    total = files = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            if Path(dirpath) == root and name in skip:
                continue
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
                files += 1
            except FileNotFoundError:
                continue
    return total, files


def key_free_status(vault: Vault) -> dict:
    header = vault.header
    size, _ = tree_size(vault.path)
    index_size, _ = tree_size(vault.path / "index", skip=())
    return {
        "vault": str(vault.path),
        "vault_id": header.vault_id,
        "format_version": header.version,
        "created": header.created,
        "recipients": header.recipients,
        "size_bytes": size,
        "index_bytes": index_size,  # index/: local and derived, neither in size_bytes nor backed up
        "objects": sum(1 for _ in vault.objects.iter_ids()),
    }
