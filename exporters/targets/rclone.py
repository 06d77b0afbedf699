"""`rclone:REMOTE:PATH`: publish to any rclone remote (S3, R2, B2, SFTP, WebDAV...).

rclone runs through :mod:`vault.rclone` (no shell, no prompts, errors in rclone's own words with
secrets redacted) and reads its remotes from ``rclone config`` or ``RCLONE_CONFIG_<NAME>_*``
variables, never from vault.yaml.

``plan()`` lists the remote (paths and sizes, one ``lsjson`` call) and names each file through the
deploy record (:mod:`exporters.targets.deploy_state`): a file counts as unchanged when the record says the
last successful deploy put this content there and the remote's size still agrees.  ``apply()``
uploads only added and changed files, one ``rclone copy --files-from-raw -`` per group, assets
first, then pages, then the manifest, each group split by Content-Type so every object gets
``--header-upload "Content-Type: ..."`` from one fixed table (rclone's own guess depends on the
machine's mime.types, and gives an extensionless Lightning Address file no JSON type); files gone
from the bundle are deleted last.  A failure stops before the deletions and leaves the record
untouched, so the next run compares everything again.

The remote path is mirrored, like ``dir:``: a remote folder that holds files but no bundle
(``manifest.json``), beyond files of this bundle (an interrupted first deploy), is refused.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from exporters.targets import deploy_state
from vault.plugin_api import Plan, RemoteError, UsageError, diff
from vault.plugin_api import rclone as rclone_mod

MANIFEST = "manifest.json"
# Content-Type per extension, fixed so every machine uploads the same headers.
CONTENT_TYPES = {
    "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8", "json": "application/json", "xml": "application/xml",
    "txt": "text/plain; charset=utf-8", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
    "gif": "image/gif", "webp": "image/webp", "avif": "image/avif", "svg": "image/svg+xml", "ico": "image/x-icon",
    "mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "age": "application/octet-stream",
    "webmanifest": "application/manifest+json",
}
# Extensionless files the bundle serves as JSON (LNURL-pay answers at /.well-known/lnurlp/<user>).
JSON_PREFIXES = (".well-known/lnurlp/",)


def content_type(path: str) -> str:
    ext = posixpath.splitext(path)[1].lstrip(".").lower()
    if not ext and path.startswith(JSON_PREFIXES):
        return "application/json"
    if ext in CONTENT_TYPES:
        return CONTENT_TYPES[ext]
    import mimetypes

    return mimetypes.guess_type(path, strict=True)[0] or "application/octet-stream"


class RcloneTarget:
    scheme = "rclone"

    def __init__(self, spec: str, runner: rclone_mod.Rclone) -> None:
        self.spec = spec
        self.root = rclone_mod.remote_of(spec)
        self.display = rclone_mod.display(spec)
        self._rc = runner
        self._files: dict[str, str] | None = None
        self._listing: dict[str, deploy_state.Listed] = {}

    def __repr__(self) -> str:
        return f"RcloneTarget({self.display!r})"

    @classmethod
    def open(cls, rest: str, context: dict[str, Any]) -> "RcloneTarget":
        spec = f"{rclone_mod.PREFIX}{rest.strip()}"
        root = rclone_mod.remote_of(spec)
        if ":" not in root:
            raise UsageError(f"not an rclone remote: {rest!r}", hint="use rclone:REMOTE:PATH, e.g. rclone:r2:my-bucket/site (see `rclone config`)")
        if rclone_mod.display(spec) != spec:
            context.setdefault("warnings", []).append(
                "the rclone target spec holds credentials; prefer RCLONE_CONFIG_<NAME>_* variables or `rclone config`, "
                "so they stay out of shell history and vault.yaml")
        runner = rclone_mod.Rclone.locate()
        runner.umask = 0o022  # a published site is public: world-readable where the remote keeps modes
        return cls(spec, runner)

    def _list(self) -> dict[str, deploy_state.Listed]:
        return {path: deploy_state.Listed(size=size) for path, size in self._rc.list_files(self.root, self.display).items()}

    def plan(self, files: dict[str, str]) -> Plan:
        """Compare the bundle with the remote (one listing); change nothing.

        Raises UsageError when the remote holds files that are neither a bundle's nor this one's.
        """
        # The file list goes to rclone one path per line.
        deploy_state.check_paths(files, "\n\r", "rclone's file list")
        self._listing = self._list()
        foreign = sorted(p for p in self._listing if p not in files)
        if MANIFEST not in self._listing and foreign:
            raise UsageError(f"{self.display} holds {len(foreign)} file(s) but no published bundle, e.g. {', '.join(foreign[:3])}",
                             hint="publish into an empty path, or one vault publish made (it mirrors the bundle and deletes the rest)")
        self._files = dict(files)
        return diff(files, deploy_state.held(self._listing, deploy_state.load(self.spec)))

    def _copy(self, build_dir: Path, paths: list[str], ctype: str) -> None:
        self._rc.run(
            ["copy", rclone_mod.local_path_arg(build_dir), self.root, "--files-from-raw", "-", "--no-check-dest",
             "--header-upload", f"Content-Type: {ctype}"],
            what=f"uploading {len(paths)} file(s) to {self.display}", stdin_lines=paths, timeout=None)

    def apply(self, build_dir: Path, plan: Plan) -> dict[str, Any]:
        """Upload added and changed files (assets, pages, manifest), then delete what left."""
        files = self._files
        if files is None:
            raise UsageError("RcloneTarget.apply called without plan()")  # programming error: the pipeline always plans first
        facts = deploy_state.file_facts(build_dir, files)
        sent = [p for p in plan.added + plan.changed if p in facts]
        calls = 0
        for group in deploy_state.upload_groups(sent):
            by_type: dict[str, list[str]] = {}
            for p in group:
                by_type.setdefault(content_type(p), []).append(p)
            for ctype, paths in sorted(by_type.items()):
                self._copy(build_dir, paths, ctype)
                calls += 1
        deleted = [p for p in plan.deleted if p in self._listing]
        warnings: list[str] = []
        if deleted:
            self._rc.run(["delete", self.root, "--files-from-raw", "-"], what=f"deleting {len(deleted)} file(s) at {self.display}",
                         stdin_lines=deleted, timeout=None)
            # Folders left empty (SFTP, WebDAV, local); object stores have none.  Tidy, but not
            # part of the deploy: the site is complete already, so a refusal is only a warning.
            try:
                self._rc.run(["rmdirs", self.root, "--leave-root"], what=f"removing empty folders at {self.display}",
                             ok=(0, rclone_mod.EXIT_DIR_NOT_FOUND), timeout=None)
            except RemoteError as exc:
                warnings.append(exc.message)
        out: dict[str, Any] = {"target": self.display, "uploaded": len(sent), "deleted": len(deleted), "rclone_calls": calls}
        problem = deploy_state.save(self.spec, facts)
        if problem:
            warnings.append(problem)
        if warnings:
            out["warnings"] = warnings
        return out
