"""`vault restore`: a complete, working vault from a backup, resumable, checked against the
checksums."""

from __future__ import annotations

import json
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IntegrityError, NoVaultError, StorageError, VaultExistsError
from ..store.checksums import read_all
from ..store.files import DIR_MODE, FILE_MODE, atomic_write, ensure_dir, sha256_file
from .destination import Destination, ProgressFactory
from .layout import RESTORE_MARKER, is_junk, is_reserved, is_safe_rel, phase, scan_local


@dataclass
class RestoreResult:
    source: str
    path: str
    files_copied: int = 0
    bytes_copied: int = 0
    files_present: int = 0
    verified_files: int = 0
    duration_seconds: float = 0.0
    resumed: bool = False
    complete: bool = True    # False: keys, headers or catalog files are bad; PATH is no vault
    skipped: list[str] = field(default_factory=list)   # catalog files no head lists (not copied)
    problems: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "path": self.path,
            "files_copied": self.files_copied,
            "bytes_copied": self.bytes_copied,
            "files_present": self.files_present,
            "verified_files": self.verified_files,
            "duration_seconds": round(self.duration_seconds, 3),
            "resumed": self.resumed,
            "complete": self.complete,
            "skipped": list(self.skipped),
            "problems": list(self.problems),
        }


def _prepare_target(path: Path) -> bool:
    """Check PATH is new, empty, or an interrupted restore; return True when resuming."""
    if path.exists() and not path.is_dir():
        raise VaultExistsError(f"{path} exists and is not a folder", hint="restore into a new or empty folder")
    if path.is_dir() and any(path.iterdir()):
        if (path / "tmp" / RESTORE_MARKER).is_file() and not (path / "vault.json").exists():
            return True
        raise VaultExistsError(f"{path} exists and is not empty", hint="restore into a new or empty folder")
    return False


def run_restore(src: Destination, path: Path, *, progress: ProgressFactory | None = None) -> RestoreResult:
    """Make a complete, working vault at ``path`` from a backup.

    MUST refuse a non-empty ``path`` (UsageError, exit 2) unless it is a restore this function
    left unfinished (then it resumes); MUST refuse a source without ``vault.json`` (NoVaultError,
    exit 10).  Copies everything but ``trash/`` and partial uploads, ``vault.json`` last, files
    0600 and folders 0700, then checks every file against the checksums (no key needed); files
    that do not match are returned in ``result.problems`` (see :func:`restore_error`).  MUST NOT
    read any key and MUST NOT print.
    """
    started = time.monotonic()
    bar = progress or (lambda _d, _t: nullcontext(lambda _n: None))
    path = Path(path).expanduser().absolute()
    resumed = _prepare_target(path)
    listing = src.list()
    _check_source(src, listing)
    wanted = {r: s for r, s in listing.items() if is_safe_rel(r) and not is_reserved(r) and not is_junk(r)}
    skipped = _leftovers(src, wanted)
    for rel in skipped:
        del wanted[rel]

    for sub in ("", "keys", "objects", "checksums", "catalog/journal", "catalog/snapshots", "tmp"):
        ensure_dir(path / sub)
    os.chmod(path, DIR_MODE)
    marker = path / "tmp" / RESTORE_MARKER
    atomic_write(marker, b"a `vault restore` into this folder has not finished; run it again to resume\n", path / "tmp")

    present = scan_local(path)
    todo = [r for r in sorted(wanted, key=lambda r: (phase(r), r)) if present.get(r) != wanted[r] and r != "vault.json"]
    result = RestoreResult(src.display, str(path), resumed=resumed, files_present=len(wanted) - len(todo) - 1, skipped=skipped)
    with bar("restoring", sum(wanted[r] for r in todo)) as advance:
        src.get_many(todo, path, advance)  # in one batch: PATH is no vault until vault.json
        _fix_modes(path)
        for rel in todo:
            st = (path / rel).stat() if (path / rel).is_file() else None
            if st is None:
                raise StorageError(f"{rel} was listed at {src.display} but could not be copied")
            result.files_copied += 1
            result.bytes_copied += st.st_size

        header = _fetch_header(src)
        result.problems = _check_restored(path, header)
        result.verified_files = len(read_all(path / "checksums")) + 1 - len(result.problems)
        if any(not p["path"].startswith("objects/") for p in result.problems):
            # Keys, headers or catalog files damaged or missing: such a vault would fail at its
            # first use, so PATH does not become one (a rerun resumes once SRC is repaired).
            result.complete = False
            result.duration_seconds = time.monotonic() - started
            return result
        # vault.json last: until now PATH is not a vault, and a rerun resumes.
        atomic_write(path / "vault.json", header, path / "tmp", what="vault.json")
        result.files_copied += 1
        result.bytes_copied += len(header)
    marker.unlink(missing_ok=True)
    result.duration_seconds = time.monotonic() - started
    return result


def restore_error(result: RestoreResult) -> IntegrityError | None:
    """The error (exit 13) for a restore whose files are not all sound, naming the first."""
    if not result.problems:
        return None
    first = result.problems[0]
    if not result.complete:
        return IntegrityError(
            f"the backup is damaged: {len(result.problems)} file(s) missing or damaged, first: {first['path']} ({first['problem']}); "
            f"{result.path} was not made a vault",
            hint="restore from another backup (or the trash/ folders of this one); see README \"Recovery\"",
        )
    return IntegrityError(
        f"{len(result.problems)} restored file(s) do not match the vault's checksums, first: {first['path']}",
        hint="the restored vault works but these files are damaged or missing in the backup; `vault check` lists them",
    )


def _leftovers(src: Destination, wanted: dict[str, int]) -> list[str]:
    """Catalog files at ``src`` that its head neither lists nor retired and that are older than
    it: what a backup interrupted between putting a new head and moving the superseded files to
    its trash leaves.  They are not copied (the restored vault would refuse them as extra)."""
    from ..store import head as head_mod

    if head_mod.HEAD_REL not in wanted:
        return []
    try:
        head = head_mod.Head.parse(src.read_bytes(head_mod.HEAD_REL))
    except IntegrityError:
        return []  # reported by the checks after the copy
    segs = [r.rsplit("/", 1)[1] for r in wanted if r.startswith("catalog/journal/") and r.endswith(head_mod.SEGMENT_SUFFIX)]
    snaps = [r.rsplit("/", 1)[1] for r in wanted if r.startswith("catalog/snapshots/") and r.endswith(head_mod.SNAPSHOT_SUFFIX)]
    return sorted(head_mod.compare(head, segs, snaps).extra)


def _check_source(src: Destination, listing: dict[str, int]) -> None:
    """Refuse, before anything is copied, a source that holds no vault backup, or a backup of a
    vault in a format this program does not know (a vault.json that cannot be read at all is
    reported with the rest, after the copy)."""
    from ..store.vaultfile import VaultHeader, refuse_unknown_format

    if "vault.json" not in listing:
        raise NoVaultError(
            f"no vault backup at {src.display} (no vault.json)",
            hint="check SRC; a first backup that never finished has no vault.json yet: run `vault backup` again to complete it",
        )
    refuse_unknown_format(lambda: VaultHeader.parse(src.read_bytes("vault.json"), Path(f"{src.display}/vault.json")))


def _fetch_header(src: Destination) -> bytes:
    from ..store.vaultfile import VaultHeader

    data = src.read_bytes("vault.json")
    VaultHeader.parse(data, Path(f"{src.display}/vault.json"))  # refuses what is no vault (or changed meanwhile)
    return data


def _fix_modes(root: Path) -> None:
    """Files 0600 and folders 0700, whatever wrote them (rclone uses the process umask)."""
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, DIR_MODE)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, FILE_MODE)


KEY_FILES = ("keys/identity.age", "keys/writer.key.age")


def _check_restored(path: Path, header: bytes) -> list[dict]:
    """Everything restorable without a key: every checksummed file (keys and vault.json
    included), the keys being intact age files, and the catalog complete against its head."""
    import hashlib

    from ..store import head as head_mod
    from ..store.checksums import MUTABLE, age_file_problem, read_history

    problems = []
    history = read_history(path / "checksums")
    stored = [r for r in scan_local(path) if r.startswith(("objects/", "catalog/")) and r != head_mod.HEAD_REL]
    if not history and stored:
        problems.append({"path": "checksums/", "problem": "missing in the backup (no checksum file)"})
    for rel, shas in sorted(history.items()):
        accepted = shas if rel in MUTABLE else shas[-1:]
        if rel == "vault.json":
            if hashlib.sha256(header).hexdigest() not in accepted:
                problems.append({"path": rel, "problem": "checksum mismatch (damaged or altered in the backup)"})
            continue
        f = path / rel
        if not f.is_file():
            problems.append({"path": rel, "problem": "missing in the backup"})
        elif sha256_file(f) not in accepted:
            problems.append({"path": rel, "problem": "checksum mismatch (damaged in the backup)"})
    listed = {p["path"] for p in problems}
    for rel in KEY_FILES:
        if rel not in listed:
            why = age_file_problem(path / rel)
            if why:
                problems.append({"path": rel, "problem": "missing in the backup" if why == "missing" else why})
    try:
        header_data = json.loads(header)
        survey = head_mod.survey(path, header_data=header_data if isinstance(header_data, dict) else {})
        problems += [p for p in survey.problems() if p["path"] not in listed]
    except IntegrityError as exc:
        problems.append({"path": head_mod.HEAD_REL, "problem": exc.message})
    return problems
