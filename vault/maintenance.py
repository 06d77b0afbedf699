"""`vault check`, `vault compact`, `vault gc`: integrity and housekeeping.

check without keys proves the ciphertext against the checksum files (bit rot, truncation,
tampering).  With ``read_data`` it decrypts everything and proves each object's name (HMAC),
each catalog file's MAC and that every record's objects exist.

compact and gc are the only operations that delete, and they run under the exclusive lock.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import IntegrityError, VaultError
from .repository import Vault
from .store.checksums import read_all
from .store.files import sha256_file


@dataclass
class CheckResult:
    checked_files: int = 0
    decrypted: int = 0
    problems: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"ok": self.ok, "checked_files": self.checked_files, "decrypted": self.decrypted, "problems": self.problems, "notes": self.notes}


def stored_files(vault: Vault) -> list[str]:
    """Relative paths of every object and catalog file."""
    out = [vault.objects.relpath(oid) for oid in vault.objects.iter_ids()]
    for sub in ("catalog/journal", "catalog/snapshots"):
        d = vault.path / sub
        if d.is_dir():
            out += [f"{sub}/{name}" for name in sorted(os.listdir(d)) if name.endswith(".age")]
    return out


def check(vault: Vault, read_data: bool = False, progress: Callable[..., None] | None = None) -> CheckResult:
    """``progress(n, total=None)`` is told of each file checked, and of the total once known."""
    result = CheckResult()
    sums = read_all(vault.path / "checksums")
    present = set(stored_files(vault))
    if progress:
        progress(0, total=sum(1 for rel in sums if rel in present))
    for rel, expected in sorted(sums.items()):
        path = vault.path / rel
        if rel not in present:
            if not path.exists():
                # gc/compact remove files together with their lines; a listed file that is
                # gone was lost.
                result.problems.append({"path": rel, "problem": "missing"})
            continue
        result.checked_files += 1
        if sha256_file(path) != expected:
            result.problems.append({"path": rel, "problem": "checksum mismatch (corrupted or tampered)"})
        if progress:
            progress(1)
    unlisted = sorted(present - set(sums))
    if unlisted:
        result.notes.append(f"{len(unlisted)} file(s) have no checksum yet (left by an interrupted run; re-run the import, or `vault gc` removes unreferenced objects)")
    if read_data:
        _check_data(vault, result, progress)
    return result


def _check_data(vault: Vault, result: CheckResult, progress: Callable[..., None] | None) -> None:
    from .store.catalog import Catalog

    keys = vault.keys or vault.unlock()
    bad = {p["path"] for p in result.problems}
    ids = list(vault.objects.iter_ids())
    if progress:
        progress(0, total=result.checked_files + len(ids))
    for oid in ids:
        rel = vault.objects.relpath(oid)
        try:
            vault.objects.read_verified(oid, keys.identity, keys.writer_key, None)
            result.decrypted += 1
        except IntegrityError as exc:
            if rel not in bad:
                result.problems.append({"path": rel, "problem": exc.message})
        if progress:
            progress(1)
    cat = Catalog(vault.path / "catalog", vault.tmpdir, keys.identity, keys.writer_key, vault.recipients)
    journal = vault.path / "catalog" / "journal"
    for seg in sorted(journal.glob("*.jsonl.age")) if journal.is_dir() else []:
        rel = f"catalog/journal/{seg.name}"
        try:
            cat.read_segment(seg.name)
            result.decrypted += 1
        except (IntegrityError, ValueError) as exc:
            if rel not in bad:
                result.problems.append({"path": rel, "problem": getattr(exc, "message", str(exc))})
    try:
        loaded = vault.catalog()
    except VaultError as exc:
        result.problems.append({"path": "catalog", "problem": exc.message})
        return
    try:
        agrees = loaded.matches_disk()
    except VaultError:
        # A journal file that cannot be read is reported above; the index cannot be compared.
        agrees = True
        result.notes.append("index/catalog.db not compared: the journal has unreadable files")
    if not agrees:
        # Derived state that says something the journal does not: rebuilt from the journal.
        loaded.rebuild("check")
        result.problems.append({"path": "index/catalog.db", "problem": "the index disagreed with the journal; rebuilt from it"})
    for oid in sorted(loaded.referenced_objects()):
        if not vault.objects.exists(oid):
            result.problems.append({"path": vault.objects.relpath(oid), "problem": "referenced by a record but missing"})


def _forget_checksums(vault: Vault, gone: set[str]) -> None:
    if gone:
        vault.checksums.rewrite({p: s for p, s in read_all(vault.path / "checksums").items() if p not in gone})


def compact(vault: Vault) -> dict:
    """Write a fresh snapshot, then delete the segments and snapshots it makes redundant."""
    cat = vault.catalog()
    before = len(cat.segments)
    rel, sha = cat.write_snapshot()
    vault.checksums.add(rel, sha)
    vault.checksums.flush()
    obsolete = cat.obsolete_files()
    removed = [str(path.relative_to(vault.path)) for path in obsolete]
    # Checksum lines go first: a crash in between leaves unlisted files (harmless), never lines
    # naming files that are gone (which `vault check` would report as lost).
    _forget_checksums(vault, set(removed))
    for path in obsolete:
        path.unlink(missing_ok=True)
    return {"snapshot": rel, "segments_merged": before, "files_removed": len(removed)}


def gc(vault: Vault, grace_hours: float = 24.0, dry_run: bool = False) -> dict:
    """Delete objects no record references and older than the grace period."""
    from .store.files import clean_tmp

    referenced = vault.catalog().referenced_objects()
    cutoff = time.time() - grace_hours * 3600
    removed, kept_young, freed = [], 0, 0
    for oid in list(vault.objects.iter_ids()):
        if oid in referenced:
            continue
        path = vault.objects.path(oid)
        st = path.stat()
        if st.st_mtime > cutoff:
            kept_young += 1
            continue
        removed.append(vault.objects.relpath(oid))
        freed += st.st_size
    if removed and not dry_run:
        _forget_checksums(vault, set(removed))  # before deleting: see compact()
        for rel in removed:
            (vault.path / rel).unlink(missing_ok=True)
    tmp_removed = 0 if dry_run else clean_tmp(vault.tmpdir)
    return {"dry_run": dry_run, "objects_removed": len(removed), "bytes_freed": freed, "kept_within_grace": kept_young, "tmp_files_removed": tmp_removed}
