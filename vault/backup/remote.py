"""RcloneDestination: backups on any rclone remote, one rclone call per batch."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .. import rclone as rclone_mod
from ..store.files import ensure_dir
from .destination import Advance, Destination
from .layout import INCOMING, check_rel


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
        listed = self._rc.list_files(self._at(prefix), self.display)
        return {(f"{prefix}/{path}" if prefix else path): (-1 if size is None else size) for path, size in listed.items()}

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
