"""`dir:PATH`: publish into a local folder (a web server's document root, a mounted share...)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from exporters.claims import sha256_file
from vault.deploy import Plan, diff, upload_order
from vault.errors import UsageError
from vault.store.files import storage_error


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
        if any(self.root.iterdir()) and not (self.root / "manifest.json").exists():
            raise UsageError(f"{self.root} is not empty and holds no published bundle", hint="publish into a new folder, or one vault publish made")
        return {p.relative_to(self.root).as_posix(): sha256_file(p) for p in self.root.rglob("*") if p.is_file()}

    def plan(self, files: dict[str, str]) -> Plan:
        return diff(files, self._current())

    def apply(self, build_dir: Path, plan: Plan) -> dict[str, Any]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            for rel in upload_order(plan.added + plan.changed):
                dest = self.root / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(f".{dest.name}.vault-tmp")
                shutil.copyfile(build_dir / rel, tmp)
                os.replace(tmp, dest)
            for rel in plan.deleted:
                (self.root / rel).unlink(missing_ok=True)
            for d in sorted((p for p in self.root.rglob("*") if p.is_dir()), reverse=True):
                if not any(d.iterdir()):
                    d.rmdir()
        except OSError as exc:
            raise storage_error(exc, str(self.root)) from exc
        return {"target": f"dir:{self.root}", "url": self.root.as_uri()}
