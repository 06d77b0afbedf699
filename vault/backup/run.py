"""`vault backup`: plan a run, copy in layout order, move displaced files to the trash, verify
the copy against the checksums and prune old trash."""

from __future__ import annotations

import json
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..errors import IntegrityError, UsageError
from ..store.checksums import read_all
from ..store.files import sha256_file
from .destination import Destination, ProgressFactory
from .layout import HEAD_REL, LOCAL_SKIP_TOP, TRASH, in_vault_area, is_immutable, is_junk, is_reserved, is_safe_rel, phase, scan_local, today_utc
from .local import LocalDestination


@dataclass
class BackupPlan:
    """What a run will do, decided from one listing of each side."""

    destination: str
    local: dict[str, int]               # every local file to back up: size
    remote: dict[str, int]              # the destination's listing at planning time
    copy: list[str] = field(default_factory=list)       # missing at the destination (phase order)
    replace: list[str] = field(default_factory=list)    # present but different (old copy to trash first)
    stale: list[str] = field(default_factory=list)      # gone locally: to the trash
    junk: list[str] = field(default_factory=list)       # partial uploads of an interrupted run
    skipped: int = 0

    @property
    def bytes_to_copy(self) -> int:
        return sum(self.local[r] for r in self.copy) + sum(self.local[r] for r in self.replace)


@dataclass
class BackupResult:
    destination: str
    files_copied: int = 0
    bytes_copied: int = 0
    files_skipped: int = 0
    files_trashed: int = 0
    duration_seconds: float = 0.0
    verified: bool = False
    objects_copied: int = 0
    verified_files: int = 0
    partial_files_removed: int = 0
    trash_pruned: list[str] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "destination": self.destination,
            "files_copied": self.files_copied,
            "bytes_copied": self.bytes_copied,
            "files_skipped": self.files_skipped,
            "files_trashed": self.files_trashed,
            "duration_seconds": round(self.duration_seconds, 3),
            "verified": self.verified,
            "objects_copied": self.objects_copied,
            "verified_files": self.verified_files,
            "partial_files_removed": self.partial_files_removed,
            "trash_pruned": list(self.trash_pruned),
            "problems": list(self.problems),
        }


def _local_vault_id(vault_root: Path) -> str:
    from ..store.vaultfile import VaultHeader

    return VaultHeader.load(vault_root / "vault.json").vault_id


def _guard_paths(vault_root: Path, dest: Destination) -> None:
    if not isinstance(dest, LocalDestination):
        return
    v, d = vault_root.resolve(), dest.root.resolve()
    if d == v or v in d.parents or d in v.parents:
        raise UsageError(
            f"the backup folder {dest.display} and the vault {vault_root} must not contain each other",
            hint="back up to a folder outside the vault (another disk, ideally)",
        )


def _refuse_other_vault(vault_root: Path, dest: Destination) -> None:
    try:
        theirs = json.loads(dest.read_bytes("vault.json"))
    except ValueError:
        return  # not a header at all: it will be replaced (and kept in the trash)
    if isinstance(theirs, dict) and theirs.get("format") == "vault" and theirs.get("vault_id") != _local_vault_id(vault_root):
        raise UsageError(
            f"{dest.display} holds a backup of another vault ({theirs.get('vault_id')})",
            hint="give each vault its own destination",
        )


def plan_backup(vault_root: Path, dest: Destination) -> BackupPlan:
    """Compare the vault with the destination.  Reads only; MUST NOT change either side.

    Raises UsageError when the destination holds a backup of another vault.
    """
    _guard_paths(vault_root, dest)
    local = {rel: size for rel, size in scan_local(vault_root).items() if not is_reserved(rel)}
    remote = {rel: size for rel, size in dest.list().items() if is_safe_rel(rel)}  # others are not ours
    plan = BackupPlan(dest.display, local, remote)
    plan.junk = sorted(r for r in remote if is_junk(r))

    mutable_same_size = []
    for rel in sorted(local, key=lambda r: (phase(r), r)):
        size = local[rel]
        if rel not in remote:
            plan.copy.append(rel)
        elif remote[rel] != size:
            plan.replace.append(rel)
        elif is_immutable(rel):
            plan.skipped += 1
        else:
            mutable_same_size.append(rel)
    if mutable_same_size:
        theirs = dest.hashes(mutable_same_size)
        for rel in mutable_same_size:
            if theirs.get(rel) == sha256_file(vault_root / rel):
                plan.skipped += 1
            else:
                plan.replace.append(rel)
    if "vault.json" in plan.replace:
        # Only when the destination's header differs from ours can it be another vault's.
        _refuse_other_vault(vault_root, dest)
    plan.replace.sort(key=lambda r: (phase(r), r))
    plan.stale = sorted(
        (r for r in remote if r not in local and in_vault_area(r) and not is_junk(r)),
        key=_stale_order,
    )
    return plan


def _stale_order(rel: str) -> tuple[int, str]:
    # Checksum files leave first, so no checksum line at the destination names a file that is gone.
    return (0 if rel.startswith("checksums/") else 1 if rel.startswith("catalog/") else 2, rel)


class _Trash:
    """Names in ``trash/DAY/`` that do not overwrite an earlier displaced version."""

    def __init__(self, day: date, taken: Iterable[str]) -> None:
        self.prefix = f"{TRASH}/{day.isoformat()}"
        self.taken = set(taken)

    def base(self, rel: str) -> str:
        return f"{self.prefix}/{rel}"

    def free_name(self, rel: str) -> str:
        name = self.base(rel)
        n = 1
        while name in self.taken:
            name = f"{self.base(rel)}.{n}"
            n += 1
        self.taken.add(name)
        return name


def run_backup(
    vault_root: Path,
    dest: Destination,
    *,
    verify: bool = False,
    prune_trash_days: int | None = None,
    progress: ProgressFactory | None = None,
    day: date | None = None,
) -> BackupResult:
    """Back up the vault at ``vault_root`` to ``dest`` (see the module docstring for the order).

    The caller MUST hold the vault's shared lock (so no gc or import changes files meanwhile).
    MUST NOT read any key and MUST NOT print.  With ``verify``, every file the checksums list is
    read back from the destination; mismatches are returned in ``result.problems`` (the caller
    turns them into exit 13 with :func:`backup_error`).
    """
    started = time.monotonic()
    bar = progress or (lambda _d, _t: nullcontext(lambda _n: None))
    day = day or today_utc()
    refuse_unsound(vault_root)
    plan = plan_backup(vault_root, dest)
    result = BackupResult(plan.destination, files_skipped=plan.skipped)
    trash = _Trash(day, plan.remote)

    if plan.junk:
        dest.delete_many(plan.junk)
        result.partial_files_removed = len(plan.junk)

    with bar("backing up", plan.bytes_to_copy) as advance:
        for ph in (0, 1, 2):
            batch = [r for r in plan.copy if phase(r) == ph]
            for rel in (r for r in plan.replace if phase(r) == ph):
                # A damaged copy (wrong size) of an immutable file: keep it, then copy afresh.
                dest.move(rel, trash.free_name(rel))
                result.files_trashed += 1
                batch.append(rel)
            dest.put_many(vault_root, batch, advance)
            _count(result, vault_root, batch)

        _trash_stale(dest, plan.stale, trash, result, after_checksums=lambda: _put_head(vault_root, dest, plan, trash, result))

        if HEAD_REL in plan.copy or HEAD_REL in plan.replace:
            advance(plan.local[HEAD_REL])
        mutable = sorted(r for r in plan.copy + plan.replace if phase(r) == 3 and r != HEAD_REL)
        header = [r for r in plan.copy + plan.replace if phase(r) == 4]
        previous = [r for r in mutable + header if r in plan.remote]
        _to_trash(dest, previous, trash, copy=True)
        result.files_trashed += len(previous)
        dest.put_atomic_many(vault_root, [mutable, header])  # vault.json last
        _count(result, vault_root, mutable + header)
        advance(sum(plan.local[r] for r in mutable + header))

    if prune_trash_days is not None:
        result.trash_pruned = prune_trash(dest, prune_trash_days, day=day, listing=plan.remote)

    if verify:
        _verify(vault_root, dest, result, trash, bar)
    result.duration_seconds = time.monotonic() - started
    return result


def local_problems(vault_root: Path) -> list[dict]:
    """What makes the local vault unfit to back up, key-free: links or special files (they would
    be skipped), catalog files the head lists that are gone, files the checksums list that are
    gone.  Reads only."""
    from ..store import head as head_mod
    from ..store.files import odd_files

    problems = odd_files(vault_root, skip_top=LOCAL_SKIP_TOP)
    known = {p["path"] for p in problems}
    try:
        survey = head_mod.survey(vault_root)
        problems += [p for p in survey.problems() if p["path"] not in known]
        # A vault folder replaced by an older copy would push the backup's newer catalog files
        # into its trash: refused until the rollback is accepted (`vault check --accept-rollback`).
        why = head_mod.rollback_problem(vault_root, survey.head) if survey.head else None
        if why:
            problems.append({"path": head_mod.HEAD_REL, "problem": why})
    except IntegrityError as exc:
        problems.append({"path": head_mod.HEAD_REL, "problem": exc.message})
    known = {p["path"] for p in problems}
    for rel in sorted(read_all(vault_root / "checksums")):
        if rel not in known and not os.path.lexists(vault_root / rel):
            problems.append({"path": rel, "problem": "missing (the checksums list it)"})
    return problems


def refuse_unsound(vault_root: Path) -> None:
    """Raise IntegrityError (exit 13) before touching the destination when the vault lost files
    or holds links: a backup would otherwise move the destination's good copies to the trash."""
    problems = local_problems(vault_root)
    if problems:
        first = problems[0]
        raise IntegrityError(
            f"the vault has {len(problems)} problem(s), first: {first['path']} {first['problem']}; the backup was not changed",
            hint="run `vault check` to list them; the backup may still hold good copies (see README \"Recovery\")",
        )


def backup_error(result: BackupResult) -> IntegrityError | None:
    """The error (exit 13) a run with verification problems ends with, naming the first file."""
    if not result.problems:
        return None
    first = result.problems[0]["path"]
    day_folder = f"{TRASH}/{today_utc().isoformat()}/"
    repaired = all(p.get("repaired") for p in result.problems)
    return IntegrityError(
        f"{len(result.problems)} file(s) at {result.destination} do not match the vault's checksums, first: {first}",
        hint=(
            f"the damaged copies were kept in {day_folder} there and copied again from this vault; "
            "run `vault backup --verify` again to confirm"
            if repaired
            else "run `vault check` on this vault: a file it lists is damaged or missing here too"
        ),
    )


def _count(result: BackupResult, vault_root: Path, rels: Sequence[str]) -> None:
    for rel in rels:
        result.files_copied += 1
        result.bytes_copied += (vault_root / rel).stat().st_size
        if rel.startswith("objects/"):
            result.objects_copied += 1


def _to_trash(dest: Destination, rels: Sequence[str], trash: _Trash, *, copy: bool = False) -> None:
    """Move (or copy) ``rels`` into today's trash folder in one batch; a name already used there
    today gets a numbered name instead, so no earlier displaced version is overwritten."""
    batch = [r for r in rels if trash.base(r) not in trash.taken]
    for rel in rels:
        if rel not in batch:
            if copy:
                dest.copy(rel, trash.free_name(rel))
            else:
                dest.move(rel, trash.free_name(rel))
    (dest.copy_many if copy else dest.move_many)(batch, trash.prefix)
    trash.taken.update(trash.base(r) for r in batch)


def _trash_stale(dest: Destination, stale: Sequence[str], trash: _Trash, result: BackupResult, after_checksums: Callable[[], None]) -> None:
    """Move files that left the vault into today's trash, checksum files first, so that no
    checksum line at the destination names a file that is gone; ``after_checksums`` runs in
    between (it puts the new catalog head in place)."""
    first = [r for r in stale if r.startswith("checksums/")]
    _to_trash(dest, first, trash)
    after_checksums()
    _to_trash(dest, [r for r in stale if not r.startswith("checksums/")], trash)
    result.files_trashed += len(stale)


def _put_head(vault_root: Path, dest: Destination, plan: BackupPlan, trash: _Trash, result: BackupResult) -> None:
    """Replace the destination's catalog head once every file it lists is there, and before the
    catalog files it no longer lists go to the trash: at every instant the destination's head
    names only files present (a restore skips the unlisted leftovers of an interrupted run)."""
    if HEAD_REL not in plan.copy and HEAD_REL not in plan.replace:
        return
    if HEAD_REL in plan.remote:
        _to_trash(dest, [HEAD_REL], trash, copy=True)
        result.files_trashed += 1
    dest.put_atomic(vault_root / HEAD_REL, HEAD_REL)
    _count(result, vault_root, [HEAD_REL])


def _expected_hashes(vault_root: Path) -> dict[str, str]:
    """What the destination must hold: every file the checksums list, with that sha256, plus the
    checksum files themselves, keys and the two headers, with their local sha256."""
    expected = dict(read_all(vault_root / "checksums"))
    for rel in scan_local(vault_root):
        # Mutable files (keys, headers, the catalog head) are compared with their local bytes.
        if is_reserved(rel):
            continue
        if not is_immutable(rel) or (rel not in expected and not rel.startswith(("objects/", "catalog/"))):
            expected[rel] = sha256_file(vault_root / rel)
    return expected


def _verify(vault_root: Path, dest: Destination, result: BackupResult, trash: _Trash, bar: ProgressFactory) -> None:
    """Read back the destination's ciphertext and compare it with the checksums (no key).

    A copy that differs is moved to the trash and copied again from the vault when the local file
    is sound; it is reported either way.
    """
    expected = _expected_hashes(vault_root)
    rels = sorted(expected, key=lambda r: (phase(r), r))
    sizes = scan_local(vault_root)
    total = sum(sizes.get(r, 0) for r in rels)
    with bar("verifying", total) as advance:
        got = dest.hashes(rels)
        advance(total)
    result.verified_files = sum(1 for r in rels if got.get(r) == expected[r])
    for rel in rels:
        if got.get(rel) == expected[rel]:
            continue
        problem = {"path": rel, "problem": "missing at the destination" if rel not in got else "differs from its checksum (damaged or altered at the destination)", "repaired": False}
        local = vault_root / rel
        if local.is_file() and sha256_file(local) == expected[rel]:
            if rel in got:
                dest.move(rel, trash.free_name(rel))
                result.files_trashed += 1
            dest.put_atomic(local, rel)
            problem["repaired"] = dest.hash(rel) == expected[rel]
        result.problems.append(problem)
    result.verified = not result.problems


def prune_trash(dest: Destination, days: int, *, day: date | None = None, listing: dict[str, int] | None = None) -> list[str]:
    """Delete the trash folders dated more than ``days`` days before ``day`` (UTC today).

    The only deletion of backed-up data this module ever does; MUST touch nothing outside
    ``trash/YYYY-MM-DD/`` folders.  Returns the folder names removed.
    """
    if days < 0:
        raise UsageError("--prune-trash needs a number of days >= 0")
    day = day or today_utc()
    files = listing if listing is not None else dest.list(TRASH)
    by_folder: dict[str, list[str]] = {}
    for rel in files:
        parts = rel.split("/")
        if len(parts) >= 3 and parts[0] == TRASH:
            by_folder.setdefault(parts[1], []).append(rel)
    old = []
    for folder in sorted(by_folder):
        try:
            folder_day = date.fromisoformat(folder)
        except ValueError:
            continue  # not ours
        if (day - folder_day).days > days:
            old.append(folder)
    if not old:
        return []
    for folder in old:
        dest.delete_tree(f"{TRASH}/{folder}")
    return old
