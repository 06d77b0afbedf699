"""`dir:PATH`: publish into a local folder (a web server's document root, a mounted share...).

A published site is public: files are made 0644 and folders 0755 whatever the umask, so a web
server running as another user can read them.  Each file is copied under a temporary name and
renamed.  A first deploy marks the folder while it runs, so a deploy that was killed half-way is
recognised as this program's unfinished work and finished by the next run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from exporters.site.output import make_public_dirs
from vault.plugin_api import Plan, UsageError, diff, sha256_file, storage_error, upload_order

IN_PROGRESS = ".vault-deploy-in-progress"
FILE_MODE = 0o644
DIR_MODE = 0o755


def _fix_modes(root: Path) -> None:
    """Everything under ``root`` (not the folder itself, which may belong to someone else) made
    world-readable; repairs deploys made by versions that left files 0600."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name, mode in [(d, DIR_MODE) for d in dirnames] + [(f, FILE_MODE) for f in filenames]:
            full = os.path.join(dirpath, name)
            if os.lstat(full).st_mode & 0o7777 != mode:
                os.chmod(full, mode)


class DirTarget:
    scheme = "dir"

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def open(cls, rest: str, context: dict[str, Any]) -> "DirTarget":
        if not rest:
            raise UsageError("dir: needs a folder, e.g. dir:/var/www/site")
        return cls(Path(rest).expanduser())

    def _current(self) -> dict[str, str]:
        if not self.root.exists():
            return {}
        if not self.root.is_dir():
            raise UsageError(f"{self.root} is not a folder", hint="name a folder (new or made by vault publish) after dir:")
        if any(self.root.iterdir()) and not (self.root / "manifest.json").exists() and not (self.root / IN_PROGRESS).exists():
            raise UsageError(f"{self.root} is not empty and holds no published bundle", hint="publish into a new folder, or one vault publish made")
        return {p.relative_to(self.root).as_posix(): sha256_file(p) for p in self.root.rglob("*")
                if p.is_file() and p.name != IN_PROGRESS}

    def plan(self, files: dict[str, str]) -> Plan:
        return diff(files, self._current())

    def apply(self, build_dir: Path, plan: Plan) -> dict[str, Any]:
        try:
            make_public_dirs(self.root)
            marker = self.root / IN_PROGRESS
            if not (self.root / "manifest.json").exists():
                marker.write_bytes(b"vault publish is deploying into this folder\n")
            for rel in upload_order(plan.added + plan.changed):
                dest = self.root / rel
                make_public_dirs(dest.parent)
                tmp = dest.with_name(f".{dest.name}.vault-tmp")
                shutil.copyfile(build_dir / rel, tmp)
                os.chmod(tmp, FILE_MODE)
                os.replace(tmp, dest)
            for rel in plan.deleted:
                (self.root / rel).unlink(missing_ok=True)
            for d in sorted((p for p in self.root.rglob("*") if p.is_dir()), reverse=True):
                if not any(d.iterdir()):
                    d.rmdir()
            marker.unlink(missing_ok=True)
            _fix_modes(self.root)
        except OSError as exc:
            raise storage_error(exc, str(self.root)) from exc
        return {"target": f"dir:{self.root}", "url": self.root.as_uri()}
