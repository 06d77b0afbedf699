"""`vault backup` and `vault restore`: incremental copies of the encrypted vault, with no key.

A backup copies the vault's files exactly as they are on disk (age ciphertext, plaintext headers
that hold no secret), so it needs no identity, no passphrase and no writer key: a cron host can run
it holding nothing that opens the vault.

Storage is reached through a :class:`Destination`, a deliberately dumb interface (list, put, move,
hash, ...) with two implementations, a local folder and any rclone remote.  The backup logic sits
above it and is the same for both; one test suite runs against every implementation.

Layout at the destination: the vault's own layout (``objects/``, ``catalog/``, ``checksums/``,
``keys/``, ``vault.yaml``, ``vault.json``), plus ``trash/YYYY-MM-DD/<relative path>`` (UTC dates)
for everything a run displaced, and ``.incoming/`` for uploads in flight.

Order of a run, chosen so that the destination is a consistent vault at every instant once a first
run has finished (and is never mistaken for one before, since ``vault.json`` comes last):

1. objects (immutable; a catalog record may reference them),
2. catalog segments and snapshots (they reference objects already there),
3. checksum files (they list objects and catalog files already there),
4. files that vanished locally (``vault gc`` / ``vault compact``) are MOVED to the trash:
   checksum files first, then catalog files and objects, so no checksum line names a file that
   is gone,
5. ``keys/*``, ``vault.yaml`` (mutable: replaced atomically; the previous version is copied to the
   trash first when it differs),
6. ``vault.json`` last.

Immutable files already present with the right size are skipped, so a run with nothing new
transfers no object, and a run interrupted at any point is completed by the next one.  Nothing is
ever deleted at the destination by a normal run except our own partial uploads; only
``--prune-trash DAYS`` removes old trash folders.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Sequence

from . import rclone as rclone_mod
from .errors import IntegrityError, NoVaultError, StorageError, UsageError, VaultExistsError
from .store.checksums import read_all
from .store.files import (
    DIR_MODE, FILE_MODE, atomic_write, commit_temp, ensure_dir, fsync_dir, open_private, storage_error, temp_name,
)

Advance = Callable[[int], None]
# A progress factory: ``with progress("copying", total_bytes) as advance: advance(n)``; the CLI
# passes ``context.progress_bar``, which draws only on a terminal.
ProgressFactory = Callable[[str, int], AbstractContextManager[Advance]]

TRASH = "trash"
INCOMING = ".incoming"
PARTIAL_SUFFIX = ".partial"  # rclone's name for an upload in flight on local/SFTP-like backends
RESTORE_MARKER = "restore-incomplete"  # in PATH/tmp/ while a restore runs (tmp/ is never backed up)

# Local files that are never backed up.
LOCAL_SKIP_TOP = {"lock", "tmp"}
# Top-level names reserved at a destination (never restored, never treated as vault files).
DEST_RESERVED_TOP = {TRASH, INCOMING, "lock", "tmp"}
# Where stale files are looked for: a destination may hold other things, which are left alone.
VAULT_AREAS = ("objects/", "catalog/", "checksums/", "keys/")
VAULT_TOP_FILES = {"vault.json", "vault.yaml"}
IMMUTABLE_AREAS = ("objects/", "catalog/", "checksums/")

CHUNK = 1 << 20
LOCAL_COPY_THREADS = 8  # concurrent copies to or from a folder (fsync-bound)


# --------------------------------------------------------------------------------------------
# Layout rules shared by backup and restore
# --------------------------------------------------------------------------------------------


def phase(rel: str) -> int:
    """Copy order of a file: objects, catalog, checksums, other mutable files, vault.json."""
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
    return rel.startswith(IMMUTABLE_AREAS)


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


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def today_utc() -> date:
    return datetime.now(timezone.utc).date()


# --------------------------------------------------------------------------------------------
# Destinations
# --------------------------------------------------------------------------------------------


class Destination(ABC):
    """A place backups are written to and restored from; paths are relative posix paths.

    Implementations are dumb storage that knows nothing about vaults.  Contract:

    * a failure MUST raise a VaultError (RemoteError for a remote, StorageError for a local file
      system) and MUST NOT be reported as success or as a partial answer;
    * ``put`` and ``put_many`` MUST NOT leave a partial file under the final name: an interrupted
      upload leaves at worst a file under ``.incoming/`` or a ``*.partial`` file;
    * ``put_atomic`` and ``put_atomic_many`` MUST replace a file in one step (readers see the old
      or the new content, never neither);
    * ``move``/``copy`` and their batches overwrite the target and touch only the files named;
    * only ``move*`` (its source), ``delete`` and ``delete_tree`` remove anything;
    * ``hash``/``hashes`` MUST read the stored bytes back (no cached or server-side value), so that
      they prove what a restore would get.

    The batch methods have one-file-at-a-time defaults; implementations override them where one
    call is cheaper than many round trips.
    """

    display: str

    @abstractmethod
    def list(self, prefix: str = "") -> dict[str, int]:
        """{relative path: size} of every file under ``prefix`` (recursively); {} if none."""

    @abstractmethod
    def put(self, local: Path, rel: str) -> None:
        """Copy the local file ``local`` to ``rel``."""

    @abstractmethod
    def put_atomic(self, local: Path, rel: str) -> None:
        """Replace ``rel`` by ``local``'s content atomically (temp name at the destination, then
        rename)."""

    @abstractmethod
    def get(self, rel: str, local: Path) -> None:
        """Copy ``rel`` to the local path ``local`` (written as 0600, atomically)."""

    @abstractmethod
    def read_bytes(self, rel: str) -> bytes:
        """The content of a (small) file."""

    @abstractmethod
    def move(self, rel: str, rel2: str) -> None:
        ...

    @abstractmethod
    def copy(self, rel: str, rel2: str) -> None:
        ...

    @abstractmethod
    def hash(self, rel: str) -> str | None:
        """sha256 of the bytes stored at ``rel`` (read back, never a cached value); None if absent."""

    @abstractmethod
    def delete(self, rel: str) -> None:
        ...

    @abstractmethod
    def delete_tree(self, prefix: str) -> None:
        """Delete every file under ``prefix`` and the folder itself."""

    # --- batches (defaults: one file at a time) ---------------------------------------------

    def put_many(self, local_root: Path, rels: Sequence[str], advance: Advance | None = None, *, under: str = "") -> None:
        """Copy ``local_root/rel`` to ``under/rel`` for each rel, in any order."""
        for rel in rels:
            self.put(local_root / rel, _under(under, rel))
            if advance:
                advance(os.path.getsize(local_root / rel))

    def put_atomic_many(self, local_root: Path, groups: Sequence[Sequence[str]]) -> None:
        """Replace each ``rel`` by ``local_root/rel`` atomically, group after group (a later group
        is touched only once every file of the earlier ones is in place).  Default: upload
        everything under ``.incoming/`` in one batch, then move each group into place."""
        staged = [rel for group in groups for rel in group]
        if not staged:
            return
        self.put_many(local_root, staged, under=INCOMING)
        for group in groups:
            self.move_many(group, to="", frm=INCOMING)

    def get_many(self, rels: Sequence[str], local_root: Path, advance: Advance | None = None) -> None:
        for rel in rels:
            self.get(rel, local_root / rel)
            if advance:
                advance(os.path.getsize(local_root / rel))

    def move_many(self, rels: Sequence[str], to: str, frm: str = "") -> None:
        """Move each ``frm/rel`` to ``to/rel`` (overwriting)."""
        for rel in rels:
            self.move(_under(frm, rel), _under(to, rel))

    def copy_many(self, rels: Sequence[str], to: str, frm: str = "") -> None:
        """Copy each ``frm/rel`` to ``to/rel`` (overwriting)."""
        for rel in rels:
            self.copy(_under(frm, rel), _under(to, rel))

    def hashes(self, rels: Sequence[str]) -> dict[str, str]:
        """{rel: sha256} for the files that exist (missing ones are absent from the answer)."""
        out = {}
        for rel in rels:
            digest = self.hash(rel)
            if digest is not None:
                out[rel] = digest
        return out

    def delete_many(self, rels: Sequence[str]) -> None:
        for rel in rels:
            self.delete(rel)


def _under(prefix: str, rel: str) -> str:
    return f"{prefix}/{rel}" if prefix else rel


class LocalDestination(Destination):
    """A folder on a mounted file system (USB disk, NAS mount).  Files 0600, folders 0700;
    every write goes to ``.incoming/`` first, is fsynced, then renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.display = str(self.root)

    def _path(self, rel: str) -> Path:
        return self.root / check_rel(rel)

    def _what(self, rel: str) -> str:
        return f"{rel} at {self.display}"

    def list(self, prefix: str = "") -> dict[str, int]:
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"{self.display} is a file, not a folder")
        base = self._path(prefix) if prefix else self.root
        found = scan_local(base, skip_top=set())
        return {f"{prefix}/{rel}" if prefix else rel: size for rel, size in found.items()}

    def _write_from(self, local: Path, rel: str) -> None:
        final = self._path(rel)
        tmpdir = self.root / INCOMING
        try:
            ensure_dir(tmpdir)
            tmp = temp_name(tmpdir)
            try:
                with open(local, "rb") as src, open_private(tmp) as dst:
                    _copy_fd(src.fileno(), dst.fileno())
                    os.fsync(dst.fileno())
                commit_temp(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise storage_error(exc, self._what(rel)) from exc

    def put(self, local: Path, rel: str) -> None:
        self._write_from(local, rel)

    def put_atomic(self, local: Path, rel: str) -> None:
        self._write_from(local, rel)  # already temp + fsync + rename

    def put_atomic_many(self, local_root: Path, groups: Sequence[Sequence[str]]) -> None:
        for group in groups:
            for rel in group:
                self._write_from(local_root / rel, rel)

    def put_many(self, local_root: Path, rels: Sequence[str], advance: Advance | None = None, *, under: str = "") -> None:
        self._parallel(rels, lambda rel: self._write_from(local_root / rel, _under(under, rel)), lambda rel: local_root / rel, advance)

    def get_many(self, rels: Sequence[str], local_root: Path, advance: Advance | None = None) -> None:
        self._parallel(rels, lambda rel: self.get(rel, local_root / rel), lambda rel: local_root / rel, advance)

    @staticmethod
    def _parallel(rels: Sequence[str], one: Callable[[str], None], sized: Callable[[str], Path], advance: Advance | None) -> None:
        """Run ``one`` over ``rels`` on a few threads: each file's fsync waits on the disk, and
        overlapping those waits is what makes a folder backup of many small files fast.  Returns
        only when every file is done; the first failure is raised after the others stop."""
        if len(rels) <= 1:
            for rel in rels:
                one(rel)
                if advance:
                    advance(os.path.getsize(sized(rel)))
            return
        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(max_workers=LOCAL_COPY_THREADS) as pool:
            futures = {pool.submit(one, rel): rel for rel in rels}
            try:
                for fut in as_completed(futures):
                    fut.result()  # raises the first failure
                    if advance:
                        advance(os.path.getsize(sized(futures[fut])))
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise

    def get(self, rel: str, local: Path) -> None:
        local = Path(local)
        ensure_dir(local.parent)
        tmpdir = local.parent
        tmp = temp_name(tmpdir, ".restore")
        try:
            try:
                with open(self._path(rel), "rb") as src, open_private(tmp) as dst:
                    _copy_fd(src.fileno(), dst.fileno())
                    os.fsync(dst.fileno())
                os.replace(tmp, local)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except FileNotFoundError:
            raise StorageError(f"{self._what(rel)} vanished while it was being read") from None
        except OSError as exc:
            raise storage_error(exc, str(local)) from exc

    def read_bytes(self, rel: str) -> bytes:
        try:
            return self._path(rel).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {self._what(rel)}: {exc.strerror or exc}") from exc

    def move(self, rel: str, rel2: str) -> None:
        src, dst = self._path(rel), self._path(rel2)
        try:
            ensure_dir(dst.parent)
            os.replace(src, dst)
            fsync_dir(dst.parent)
            fsync_dir(src.parent)
        except OSError as exc:
            raise storage_error(exc, self._what(rel2)) from exc
        self._prune_empty(src.parent)

    def copy(self, rel: str, rel2: str) -> None:
        self._write_from(self._path(rel), rel2)

    def hash(self, rel: str) -> str | None:
        try:
            return sha256_file(self._path(rel))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {self._what(rel)}: {exc.strerror or exc}") from exc

    def delete(self, rel: str) -> None:
        path = self._path(rel)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise storage_error(exc, self._what(rel)) from exc
        self._prune_empty(path.parent)

    def delete_tree(self, prefix: str) -> None:
        import shutil

        base = self._path(prefix)
        try:
            shutil.rmtree(base)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise storage_error(exc, self._what(prefix)) from exc
        self._prune_empty(base.parent)

    def _prune_empty(self, folder: Path) -> None:
        """Remove ``folder`` and empty parents up to (not including) the root."""
        root = self.root.resolve()
        folder = folder.resolve()
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


def _copy_fd(src: int, dst: int) -> None:
    """Copy a whole file between descriptors (sendfile where the kernel allows it)."""
    size = os.fstat(src).st_size
    offset = 0
    try:
        while offset < size:
            sent = os.sendfile(dst, src, offset, min(size - offset, 1 << 30))
            if sent == 0:
                break
            offset += sent
        return
    except OSError as exc:
        if offset or exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSOCK, errno.EOPNOTSUPP):
            raise
    os.lseek(src, 0, os.SEEK_SET)
    while chunk := os.read(src, CHUNK):
        os.write(dst, chunk)


class RcloneDestination(Destination):
    """Any rclone remote (S3, R2, B2, SFTP, WebDAV, ...), written as ``rclone:REMOTE:PATH``.

    Batches go through one rclone call each, the file list on stdin (``--files-from-raw -``).
    Uploads of immutable files use ``--no-check-dest`` (we listed the destination already);
    ``put_atomic`` uploads to ``.incoming/<rel>`` and then ``moveto``s it over ``rel``.
    """

    def __init__(self, spec: str, runner: rclone_mod.Rclone | None = None) -> None:
        self.root = rclone_mod.remote_of(spec)
        self.display = rclone_mod.display(spec)
        self._rc = runner or rclone_mod.Rclone.locate()

    def _at(self, rel: str) -> str:
        return rclone_mod.join(self.root, check_rel(rel) if rel else rel)

    def list(self, prefix: str = "") -> dict[str, int]:
        code, out = self._rc.run(
            ["lsjson", "-R", "--files-only", "--no-mimetype", "--no-modtime", "--fast-list", self._at(prefix)],
            what=f"listing {self.display}",
            ok=(0, rclone_mod.EXIT_DIR_NOT_FOUND),
            timeout=None,
        )
        if code == rclone_mod.EXIT_DIR_NOT_FOUND:
            return {}
        try:
            entries = json.loads(out or b"[]")
        except ValueError:
            from .errors import RemoteError

            raise RemoteError(f"rclone returned an unreadable listing of {self.display}") from None
        found = {}
        for entry in entries:
            if entry.get("IsDir"):
                continue
            rel = f"{prefix}/{entry['Path']}" if prefix else str(entry["Path"])
            found[rel] = int(entry.get("Size", -1))
        return found

    def put(self, local: Path, rel: str) -> None:
        self._rc.run(["copyto", rclone_mod.local_path_arg(local), self._at(rel), "--no-check-dest"], what=f"uploading {rel} to {self.display}", timeout=None)

    def put_atomic(self, local: Path, rel: str) -> None:
        temp = f"{INCOMING}/{rel}"
        self.put(local, temp)
        self.move(temp, rel)

    def get(self, rel: str, local: Path) -> None:
        ensure_dir(Path(local).parent)
        self._rc.run(["copyto", self._at(rel), rclone_mod.local_path_arg(local)], what=f"downloading {rel} from {self.display}", timeout=None)

    def read_bytes(self, rel: str) -> bytes:
        _, out = self._rc.run(["cat", self._at(rel)], what=f"reading {rel} at {self.display}")
        return out

    def move(self, rel: str, rel2: str) -> None:
        self._rc.run(["moveto", self._at(rel), self._at(rel2)], what=f"moving {rel} to {rel2} at {self.display}")

    def copy(self, rel: str, rel2: str) -> None:
        self._rc.run(["copyto", self._at(rel), self._at(rel2)], what=f"copying {rel} to {rel2} at {self.display}")

    def hash(self, rel: str) -> str | None:
        return self.hashes([rel]).get(rel)

    def delete(self, rel: str) -> None:
        self.delete_many([rel])

    def put_many(self, local_root: Path, rels: Sequence[str], advance: Advance | None = None, *, under: str = "") -> None:
        if not rels:
            return
        self._rc.stream(
            ["copy", rclone_mod.local_path_arg(local_root), self._at(under), "--files-from-raw", "-", "--no-check-dest"],
            what=f"uploading {len(rels)} file(s) to {self.display}",
            stdin_lines=[check_rel(r) for r in rels],
            on_bytes=advance,
        )

    def get_many(self, rels: Sequence[str], local_root: Path, advance: Advance | None = None) -> None:
        if not rels:
            return
        self._rc.stream(
            ["copy", self.root, rclone_mod.local_path_arg(local_root), "--files-from-raw", "-"],
            what=f"downloading {len(rels)} file(s) from {self.display}",
            stdin_lines=[check_rel(r) for r in rels],
            on_bytes=advance,
        )

    def _server_side_many(self, verb: str, rels: Sequence[str], to: str, frm: str) -> None:
        if not rels:
            return
        self._rc.run(
            [verb, self._at(frm), self._at(to), "--files-from-raw", "-", "--no-check-dest"],
            what=f"{'moving' if verb == 'move' else 'copying'} {len(rels)} file(s) to {to or 'the top'} at {self.display}",
            stdin_lines=[check_rel(r) for r in rels],
            timeout=None,
        )

    def move_many(self, rels: Sequence[str], to: str, frm: str = "") -> None:
        self._server_side_many("move", rels, to, frm)

    def copy_many(self, rels: Sequence[str], to: str, frm: str = "") -> None:
        self._server_side_many("copy", rels, to, frm)

    def hashes(self, rels: Sequence[str]) -> dict[str, str]:
        if not rels:
            return {}
        _, out = self._rc.run(
            ["hashsum", "sha256", "--download", self.root, "--files-from-raw", "-"],
            what=f"reading back {len(rels)} file(s) at {self.display}",
            stdin_lines=[check_rel(r) for r in rels],
            timeout=None,
        )
        found = {}
        for line in out.decode("utf-8", "replace").splitlines():
            digest, sep, rel = line.partition("  ")
            if sep and len(digest) == 64:
                found[rel] = digest.lower()
        return found

    def delete_many(self, rels: Sequence[str]) -> None:
        if not rels:
            return
        self._rc.run(
            ["delete", self.root, "--files-from-raw", "-"],
            what=f"deleting {len(rels)} file(s) at {self.display}",
            stdin_lines=[check_rel(r) for r in rels],
            timeout=None,
        )

    def delete_tree(self, prefix: str) -> None:
        self._rc.run(["purge", self._at(check_rel(prefix))], what=f"deleting {prefix} at {self.display}", ok=(0, rclone_mod.EXIT_DIR_NOT_FOUND), timeout=None)


def open_destination(spec: str) -> Destination:
    """``rclone:REMOTE:PATH`` -> RcloneDestination (finds rclone or raises RemoteError);
    anything else is a local folder."""
    spec = spec.strip()
    if not spec:
        raise UsageError("empty destination", hint="give a folder or rclone:REMOTE:PATH")
    if rclone_mod.is_rclone_spec(spec):
        return RcloneDestination(spec)
    return LocalDestination(Path(spec).expanduser().absolute())


# --------------------------------------------------------------------------------------------
# Backup
# --------------------------------------------------------------------------------------------


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
    from .store.vaultfile import VaultHeader

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

        _trash_stale(dest, plan.stale, trash, result)

        mutable = sorted(r for r in plan.copy + plan.replace if phase(r) == 3)
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


def _trash_stale(dest: Destination, stale: Sequence[str], trash: _Trash, result: BackupResult) -> None:
    """Move files that left the vault into today's trash, checksum files first, so that no
    checksum line at the destination names a file that is gone."""
    first = [r for r in stale if r.startswith("checksums/")]
    _to_trash(dest, first, trash)
    _to_trash(dest, [r for r in stale if not r.startswith("checksums/")], trash)
    result.files_trashed += len(stale)


def _expected_hashes(vault_root: Path) -> dict[str, str]:
    """What the destination must hold: every file the checksums list, with that sha256, plus the
    checksum files themselves, keys and the two headers, with their local sha256."""
    expected = dict(read_all(vault_root / "checksums"))
    for rel in scan_local(vault_root):
        if rel not in expected and not rel.startswith(("objects/", "catalog/")) and not is_reserved(rel):
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


# --------------------------------------------------------------------------------------------
# Restore
# --------------------------------------------------------------------------------------------


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
    if "vault.json" not in listing:
        raise NoVaultError(
            f"no vault backup at {src.display} (no vault.json)",
            hint="check SRC; a first backup that never finished has no vault.json yet: run `vault backup` again to complete it",
        )
    wanted = {r: s for r, s in listing.items() if is_safe_rel(r) and not is_reserved(r) and not is_junk(r)}

    for sub in ("", "keys", "objects", "checksums", "catalog/journal", "catalog/snapshots", "tmp"):
        ensure_dir(path / sub)
    os.chmod(path, DIR_MODE)
    marker = path / "tmp" / RESTORE_MARKER
    atomic_write(marker, b"a `vault restore` into this folder has not finished; run it again to resume\n", path / "tmp")

    present = scan_local(path)
    todo = [r for r in sorted(wanted, key=lambda r: (phase(r), r)) if present.get(r) != wanted[r] and r != "vault.json"]
    result = RestoreResult(src.display, str(path), resumed=resumed, files_present=len(wanted) - len(todo) - 1)
    with bar("restoring", sum(wanted[r] for r in todo)) as advance:
        src.get_many(todo, path, advance)  # in one batch: PATH is no vault until vault.json
        _fix_modes(path)
        for rel in todo:
            st = (path / rel).stat() if (path / rel).is_file() else None
            if st is None:
                raise StorageError(f"{rel} was listed at {src.display} but could not be copied")
            result.files_copied += 1
            result.bytes_copied += st.st_size

        header = _fetch_header(src, path)
        result.problems = _check_restored(path)
        result.verified_files = len(read_all(path / "checksums")) - len(result.problems)
        # vault.json last: until now PATH is not a vault, and a rerun resumes.
        atomic_write(path / "vault.json", header, path / "tmp", what="vault.json")
        result.files_copied += 1
        result.bytes_copied += len(header)
    marker.unlink(missing_ok=True)
    result.duration_seconds = time.monotonic() - started
    return result


def restore_error(result: RestoreResult) -> IntegrityError | None:
    """The error (exit 13) for a restore whose files do not all match the checksums."""
    if not result.problems:
        return None
    return IntegrityError(
        f"{len(result.problems)} restored file(s) do not match the vault's checksums, first: {result.problems[0]['path']}",
        hint="the restored vault works but these files are damaged or missing in the backup; `vault check` lists them",
    )


def _fetch_header(src: Destination, path: Path) -> bytes:
    from .store.vaultfile import VaultHeader

    data = src.read_bytes("vault.json")
    probe = path / "tmp" / "vault.json.restore"
    atomic_write(probe, data, path / "tmp")
    try:
        VaultHeader.load(probe)  # refuses an unknown format version or something that is no vault
    finally:
        probe.unlink(missing_ok=True)
    return data


def _fix_modes(root: Path) -> None:
    """Files 0600 and folders 0700, whatever wrote them (rclone uses the process umask)."""
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, DIR_MODE)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, FILE_MODE)


def _check_restored(path: Path) -> list[dict]:
    problems = []
    for rel, expected in sorted(read_all(path / "checksums").items()):
        f = path / rel
        if not f.is_file():
            problems.append({"path": rel, "problem": "missing in the backup"})
        elif sha256_file(f) != expected:
            problems.append({"path": rel, "problem": "checksum mismatch (damaged in the backup)"})
    return problems
