"""`vault check`, `vault compact`, `vault gc`: integrity and housekeeping.

check without keys proves the ciphertext against the checksum files (bit rot, truncation,
tampering), keys/ and vault.json included; refuses symbolic links and special files; and compares
the catalog files with the catalog head (missing, extra, rolled back: see ``store/head.py``).
With ``read_data`` it decrypts everything and proves each object's name (HMAC), each catalog
file's MAC, the head's MAC and that every record's objects exist.

compact and gc are the only operations that delete, and they run under the exclusive lock.  Both
load the catalog first, which refuses an incomplete one, so they never act on a partial view.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

from .errors import IntegrityError, VaultError
from .repository import Vault
from .store.checksums import age_file_problem, read_all
from .store.files import odd_files, sha256_file


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
    """Relative paths of every object and catalog file (regular files only)."""
    out = [vault.objects.relpath(oid) for oid in vault.objects.iter_ids()]
    for sub in ("catalog/journal", "catalog/snapshots"):
        d = vault.path / sub
        if d.is_dir():
            out += [f"{sub}/{e.name}" for e in sorted(os.scandir(d), key=lambda e: e.name)
                    if e.name.endswith(".age") and e.is_file(follow_symlinks=False)]
    return out


KEY_FILES = ("keys/identity.age", "keys/writer.key.age")


def check(vault: Vault, read_data: bool = False, progress: Callable[..., None] | None = None) -> CheckResult:
    """Key-free: every file against its checksum lines, keys/ and vault.json, no links or
    special files, and the catalog against its head (missing, extra, rolled back).  With
    ``read_data`` also decrypt everything (see ``_check_data``).  MUST NOT change the vault.
    ``progress(n, total=None)`` is told of each file checked, and of the total once known."""
    from .store import head as head_mod
    from .store.checksums import MUTABLE, read_history

    result = CheckResult()
    odd = odd_files(vault.path)
    result.problems += odd
    odd_paths = {p["path"] for p in odd}
    history = read_history(vault.path / "checksums")
    present = set(stored_files(vault))
    if not history and present:
        result.problems.append({"path": "checksums/", "problem": f"no checksum file lists any of the {len(present)} stored file(s) (every checksum file was deleted?)"})
    if progress:
        progress(0, total=sum(1 for rel in history if rel not in odd_paths and (vault.path / rel).is_file()))
    for rel, shas in sorted(history.items()):
        path = vault.path / rel
        if rel in odd_paths:
            continue
        if not path.is_file():
            # gc/compact remove files together with their lines; a listed file that is
            # gone was lost.
            result.problems.append({"path": rel, "problem": "missing"})
            continue
        result.checked_files += 1
        # A key file or vault.json may still match its previous line after an interrupted
        # key change (the new line is written before the file is replaced).
        ok = sha256_file(path) in (shas if rel in MUTABLE else shas[-1:])
        if not ok:
            result.problems.append({"path": rel, "problem": "checksum mismatch (corrupted or tampered)"})
        if progress:
            progress(1)
    for rel in KEY_FILES:
        if rel in history or rel in odd_paths:
            continue
        why = age_file_problem(vault.path / rel)
        if why:
            result.problems.append({"path": rel, "problem": why})
        else:
            result.notes.append(f"{rel} has no checksum line yet (vault made by an older version; added at the next open with the key)")
    unlisted = sorted(present - set(history))
    if unlisted:
        result.notes.append(f"{len(unlisted)} file(s) have no checksum yet (left by an interrupted run; re-run the import, or `vault gc` removes unreferenced objects)")
    _check_head(vault, result, head_mod)
    if read_data:
        _check_data(vault, result, progress)
    return result


def accept_rollback(vault: Vault) -> dict:
    """Record this vault's current catalog head as the newest seen at this location (the head's
    MAC is checked).  For an older copy restored on purpose; changes nothing in the vault."""
    from .store import head as head_mod

    keys = vault.keys or vault.unlock()
    return head_mod.accept_rollback(vault.path, keys.writer_key)


def _check_head(vault: Vault, result: CheckResult, head_mod) -> None:
    try:
        s = head_mod.survey(vault.path)
    except IntegrityError as exc:
        result.problems.append({"path": head_mod.HEAD_REL, "problem": exc.message})
        return
    known = {p["path"] for p in result.problems}
    result.problems += [p for p in s.problems() if p["path"] not in known]
    if s.head is not None:
        why = head_mod.rollback_problem(vault.path, s.head)
        if why:
            result.problems.append({"path": head_mod.HEAD_REL, "problem": why})
    elif s.legacy:
        seen = head_mod.last_seen(vault.path, vault.header.vault_id)
        if seen is not None:
            result.problems.append({"path": head_mod.HEAD_REL, "problem": f"missing (head {seen['counter']} was seen here)"})
        else:
            result.notes.append(f"no {head_mod.HEAD_REL} yet (vault made by an older version): it is created at the next open with the key")
    if s.pending:
        result.notes.append(f"{len(s.pending)} catalog segment(s) written just before an interruption are not in the head yet (kept; listed at the next write)")
    if s.unfinished:
        result.notes.append(f"{len(s.unfinished)} snapshot(s) of an interrupted compaction are unused (`vault compact` removes them)")


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
            cat.check_segment(seg.name)
            result.decrypted += 1
        except (IntegrityError, ValueError) as exc:
            if rel not in bad:
                result.problems.append({"path": rel, "problem": getattr(exc, "message", str(exc))})
    try:
        loaded = vault.catalog()
    except VaultError as exc:
        if not any(p["path"].startswith("catalog/") for p in result.problems):
            where = "catalog/head.json" if exc.message.startswith("catalog/head.json") else "catalog"
            result.problems.append({"path": where, "problem": exc.message})
        return
    try:
        agrees = loaded.matches_disk()
    except VaultError:
        # A journal file that cannot be read is reported above; the index cannot be compared.
        agrees = True
        result.notes.append("index/catalog.db not compared: the journal has unreadable files")
    if not agrees:
        # Derived state that says something the journal does not: rebuilt from the journal.
        loaded.rebuild("it disagreed with the journal")
        result.problems.append({"path": "index/catalog.db", "problem": "the index disagreed with the journal; rebuilt from it"})
    for oid in sorted(loaded.referenced_objects()):
        if not vault.objects.exists(oid):
            result.problems.append({"path": vault.objects.relpath(oid), "problem": "referenced by a record but missing"})


def _forget_checksums(vault: Vault, gone: set[str]) -> None:
    if gone:
        vault.checksums.rewrite({p: s for p, s in read_all(vault.path / "checksums").items() if p not in gone})


def compact(vault: Vault) -> dict:
    """Write a fresh snapshot, then delete the segments and snapshots it makes redundant.

    Refuses (IntegrityError, exit 13, nothing changed) while the catalog is incomplete: loading
    it checks every piece against the head first."""
    cat = vault.catalog()
    before = len(cat.segments)
    rel, sha = cat.write_snapshot()
    vault.checksums.add(rel, sha)
    vault.checksums.flush()
    obsolete = cat.obsolete_files()
    removed = [str(path.relative_to(vault.path)) for path in obsolete]
    # Checksum lines go first: a crash in between leaves unlisted files (harmless), never lines
    # naming files that are gone (which `vault check` would report as lost).  The head written
    # with the snapshot already retired these files.
    _forget_checksums(vault, set(removed))
    for path in obsolete:
        path.unlink(missing_ok=True)
    cat.head.record(cat.snapshot_name, cat.segments)  # forget the retired names
    return {"snapshot": rel, "segments_merged": before, "files_removed": len(removed)}


GC_CONFIRM_SHARE = 0.25      # above this share of objects or bytes, gc needs --yes
GC_SMALL = (10, 1 << 20)     # ... unless it removes fewer objects and bytes than this


def gc(vault: Vault, grace_hours: float = 24.0, dry_run: bool = False, yes: bool = False) -> dict:
    """Delete objects no record references and older than the grace period.

    Refuses (IntegrityError) while the catalog is incomplete, and (UsageError, nothing deleted)
    to remove more than a quarter of the vault's objects or bytes without ``yes``."""
    from .errors import UsageError
    from .store.files import clean_tmp

    referenced = vault.catalog().referenced_objects()
    cutoff = time.time() - grace_hours * 3600
    removed, kept_young, freed = [], 0, 0
    total_objects = total_bytes = 0
    for oid in list(vault.objects.iter_ids()):
        path = vault.objects.path(oid)
        st = path.stat()
        total_objects += 1
        total_bytes += st.st_size
        if oid in referenced:
            continue
        if st.st_mtime > cutoff:
            kept_young += 1
            continue
        removed.append(vault.objects.relpath(oid))
        freed += st.st_size
    share_objects = len(removed) / total_objects if total_objects else 0.0
    share_bytes = freed / total_bytes if total_bytes else 0.0
    report = {"dry_run": dry_run, "objects_removed": len(removed), "bytes_freed": freed, "kept_within_grace": kept_young,
              "objects_total": total_objects, "bytes_total": total_bytes,
              "share_objects": round(share_objects, 4), "share_bytes": round(share_bytes, 4), "tmp_files_removed": 0}
    large = max(share_objects, share_bytes) > GC_CONFIRM_SHARE and not (len(removed) < GC_SMALL[0] and freed < GC_SMALL[1])
    if large and not dry_run and not yes:
        raise UsageError(
            f"gc would delete {len(removed)} of {total_objects} objects ({share_objects:.0%}), "
            f"{freed} of {total_bytes} bytes ({share_bytes:.0%}); nothing was deleted",
            hint="that is more than a quarter of the vault: run `vault check --read-data` first; if the records really are gone, run `vault gc --yes`",
        )
    if removed and not dry_run:
        _forget_checksums(vault, set(removed))  # before deleting: see compact()
        for rel in removed:
            (vault.path / rel).unlink(missing_ok=True)
    report["tmp_files_removed"] = 0 if dry_run else clean_tmp(vault.tmpdir)
    return report
