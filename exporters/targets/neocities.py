"""`neocities:` (or `neocities:SITENAME`): publish to a Neocities site through its API.

The API key (https://neocities.org/api, sent as ``Authorization: Bearer KEY``) names the site; it
comes from the keyring (service ``vault``, user ``neocities:SITENAME`` when a name is given, then
``neocities``) or ``NEOCITIES_API_KEY``.  A SITENAME in the spec is checked against the key's site
(``GET /api/info``), so a key for the wrong site fails before anything changes.
``NEOCITIES_API_URL`` replaces ``https://neocities.org`` (tests point it at a local fake).

Neocities has no atomic deploys, so the order does the work: files are uploaded assets first, then
pages, then the manifest (``POST /api/upload``, multipart, the field name is the remote path), and
files gone from the bundle are deleted last (``POST /api/delete``; ``index.html`` never, the host
refuses it).  Files the host already holds byte-for-byte are skipped (``POST /api/upload_hash``).
A failure stops before the deletions and leaves the deploy record untouched, so the next run
compares everything again and finishes the job.

The site is mirrored: once it holds a bundle (``manifest.json``), files the bundle no longer has are
deleted.  A site that holds files vault did not publish (beyond the ones Neocities puts in a new
site) is refused, like a non-empty ``dir:`` folder, so nothing hand-made is deleted.

Free sites accept only some file types (the host's list, copied below; supporter sites take any).
vault cannot ask which plan a site has, so it warns before uploading such files (videos, premium
``.age`` files, the extensionless Lightning Address file), uploads each of them on its own and,
when the host refuses one, skips it with a warning instead of failing the whole deploy: the rest of
the site goes live, the skipped file is retried by the next publish, and ``vault verify`` reports
it missing until it is served.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import Any

from exporters.targets import deploy_state
from exporters.targets.host_api import HostClient, HostError, require_token
from vault.plugin_api import Plan, RemoteError, UsageError, diff, upload_order

API_URL = "https://neocities.org"
TOKEN_ENV = "NEOCITIES_API_KEY"
MANIFEST = "manifest.json"
INDEX = "index.html"  # the host refuses to delete it
# What Neocities puts in a new site; replacing or deleting these loses nothing of the user's.
STARTER_FILES = frozenset({"index.html", "not_found.html", "style.css", "neocities.png"})
# File extensions a free site accepts: Site::VALID_EXTENSIONS in neocities/neocities models/site.rb.
FREE_EXTENSIONS = frozenset("""
    html htm txt text css js jpg jpeg png apng gif svg md markdown eot ttf woff woff2 json geojson csv tsv
    mf ico pdf asc key pgp xml mid midi manifest otf webapp less sass rss kml dae obj mtl scss webp avif
    xcf epub gltf bin webmanifest knowl atom opml rdf map gpg pls yaml yml toml osdx
""".split())
BATCH_FILES = 50              # files per upload request
BATCH_BYTES = 32 << 20        # bytes per upload request (the body is built in memory)
HASH_BATCH = 500              # paths per upload_hash request
# The host (Ruby/Rack) reads brackets in form field names as nested parameters, and the field name
# is the file's path; quotes and line breaks cannot travel in a multipart header.
REFUSED_CHARS = '[]"\n\r'
_SITENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def free_plan_refuses(path: str) -> bool:
    """Whether a free Neocities site refuses this file by its extension (none counts as refused)."""
    ext = posixpath.splitext(path)[1].lstrip(".").lower()
    return ext not in FREE_EXTENSIONS


class NeocitiesTarget:
    scheme = "neocities"

    def __init__(self, sitename: str | None, client: HostClient, context: dict[str, Any]) -> None:
        self.sitename = sitename
        self.client = client
        self.context = context
        self._site: str | None = None                              # the key's site, from /api/info
        self._listing: dict[str, deploy_state.Listed] = {}
        self._dirs: set[str] = set()
        self._files: dict[str, str] | None = None
        self._plan_warnings: list[str] = []

    def __repr__(self) -> str:
        return f"NeocitiesTarget({self.sitename!r})"

    @property
    def spec(self) -> str:
        return f"neocities:{self._site or self.sitename or ''}"

    @classmethod
    def open(cls, rest: str, context: dict[str, Any]) -> "NeocitiesTarget":
        sitename = rest.strip() or None
        if sitename is not None and not _SITENAME.match(sitename):
            raise UsageError(f"not a Neocities site name: {sitename!r}", hint="use neocities: or neocities:SITENAME")
        users = ([f"neocities:{sitename}"] if sitename else []) + ["neocities"]
        token = require_token(users, TOKEN_ENV, "Neocities")
        base = os.environ.get("NEOCITIES_API_URL") or API_URL
        return cls(sitename, HostClient("Neocities", base, token), context)

    def _warn(self, text: str) -> None:
        self.context.setdefault("warnings", []).append(text)

    # --- reading ------------------------------------------------------------------------------

    def _identify(self) -> str:
        info = self.client.json("GET", "/api/info", what="reading the site's info")
        name = (info.get("info") or {}).get("sitename") if isinstance(info, dict) else None
        if not isinstance(name, str) or not name:
            raise RemoteError("Neocities' site info names no site")
        if self.sitename and name.lower() != self.sitename.lower():
            raise UsageError(f"the Neocities API key belongs to site {name!r}, not {self.sitename!r}",
                             hint="nothing was sent; use that site's key, or neocities: without a name")
        return name

    def _list(self) -> None:
        body = self.client.json("GET", "/api/list", what="listing the site's files")
        entries = body.get("files") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            raise RemoteError("Neocities sent an unreadable file list")
        self._listing, self._dirs = {}, set()
        for e in entries:
            if not isinstance(e, dict) or not isinstance(e.get("path"), str):
                continue
            path = e["path"].lstrip("/")
            if e.get("is_directory"):
                self._dirs.add(path)
            else:
                size = e.get("size")
                self._listing[path] = deploy_state.Listed(sha1=e.get("sha1_hash"), size=size if isinstance(size, int) else None)

    def plan(self, files: dict[str, str]) -> Plan:
        """Compare the bundle with the site's files (``/api/info``, ``/api/list``: reads only).

        Raises UsageError when the site holds files vault did not publish; warns (context
        warnings) about files a free site refuses.
        """
        deploy_state.check_paths(files, REFUSED_CHARS, "Neocities")
        self._site = self._identify()
        self._list()
        foreign = sorted(p for p in self._listing if p not in files and p not in STARTER_FILES)
        if MANIFEST not in self._listing and foreign:
            raise UsageError(
                f"Neocities site {self._site} holds {len(foreign)} file(s) vault did not publish, e.g. {', '.join(foreign[:3])}",
                hint="publishing mirrors the bundle and would delete them: publish to a new site, or delete them first")
        self._files = dict(files)
        plan = diff(files, deploy_state.held(self._listing, deploy_state.load(self.spec)))
        plan.deleted = [p for p in plan.deleted if p != INDEX]
        risky = [p for p in plan.added + plan.changed if free_plan_refuses(p)]
        self._plan_warnings = []
        if risky:
            self._plan_warnings.append(
                f"Neocities free sites refuse {len(risky)} file(s) of these types: {_kinds(risky)} "
                f"(e.g. {risky[0]}); they are uploaded one by one and skipped if refused (supporter sites accept them)")
            self._warn(self._plan_warnings[-1])
        return plan

    # --- deploying ----------------------------------------------------------------------------

    def _identical(self, facts: dict[str, deploy_state.FileFacts], paths: list[str]) -> set[str]:
        """The paths the host already holds with the same SHA-1 (``/api/upload_hash``)."""
        same: set[str] = set()
        for i in range(0, len(paths), HASH_BATCH):
            chunk = paths[i:i + HASH_BATCH]
            body = self.client.json("POST", "/api/upload_hash", what="comparing file hashes", data={p: facts[p].sha1 for p in chunk})
            answer = body.get("files") if isinstance(body, dict) else None
            if not isinstance(answer, dict):
                raise RemoteError("Neocities sent an unreadable upload_hash answer")
            same.update(p for p in chunk if answer.get(p) is True)
        return same

    def _upload(self, build_dir: Path, paths: list[str]) -> None:
        import mimetypes

        # Contents as bytes, not open files: a retried request (429) must send them again, and
        # requests builds the multipart body in memory anyway.
        parts = []
        for rel in paths:
            ctype = mimetypes.guess_type(rel)[0] or "application/octet-stream"
            try:
                data = (build_dir / rel).read_bytes()
            except OSError as exc:
                raise UsageError(f"cannot read {rel} in the built bundle: {exc.strerror or exc}", hint="run vault publish again") from None
            parts.append((rel, (posixpath.basename(rel), data, ctype)))
        what = f"uploading {paths[0]}" if len(paths) == 1 else f"uploading {len(paths)} files ({paths[0]} ...)"
        self.client.request("POST", "/api/upload", what=what, files=parts)

    def apply(self, build_dir: Path, plan: Plan) -> dict[str, Any]:
        """Upload what changed (assets, pages, manifest), then delete what left the bundle."""
        files = self._files
        if files is None:
            raise UsageError("NeocitiesTarget.apply called without plan()")  # programming error: the pipeline always plans first
        facts = deploy_state.file_facts(build_dir, files)
        wanted = upload_order([p for p in plan.added + plan.changed if p in facts])  # the order upload_hash is asked in
        same = self._identical(facts, wanted)
        to_send = [p for p in wanted if p not in same]
        skipped: list[str] = []
        warnings: list[str] = []
        for rank in deploy_state.upload_groups(to_send):
            plain = [p for p in rank if not free_plan_refuses(p)]
            for batch in _batches(plain, facts):
                self._upload(build_dir, batch)
            for rel in (p for p in rank if free_plan_refuses(p)):
                try:
                    self._upload(build_dir, [rel])
                except HostError as exc:
                    if exc.error_type != "invalid_file_type":
                        raise
                    skipped.append(rel)
                    warnings.append(f"Neocities refused {rel} (a free site does not take this file type); skipped, retried next publish")
        # The upload API takes no digests: read them back before deleting anything, so a site
        # whose new files did not arrive intact keeps its old ones and the record stays as it was.
        sent = [p for p in to_send if p not in skipped]
        wrong = sorted(set(sent) - self._identical(facts, sent))
        if wrong:
            raise RemoteError(f"Neocities does not hold what was uploaded for {len(wrong)} file(s), e.g. {wrong[0]}",
                              hint="nothing was deleted; run vault publish again")
        deleted = [p for p in plan.deleted if p in self._listing and p != INDEX]
        if deleted:
            names = deleted + self._emptied_dirs(set(files) - set(skipped), deleted)
            self.client.request("POST", "/api/delete", what=f"deleting {len(deleted)} file(s)", data={"filenames[]": names})
        record = {p: f for p, f in facts.items() if p not in skipped}
        out: dict[str, Any] = {"target": self.spec, "url": f"https://{self._site}.neocities.org/",
                               "uploaded": len(to_send) - len(skipped), "unchanged_on_host": len(same),
                               "deleted": len(deleted), "skipped": skipped}
        problem = deploy_state.save(self.spec, record)
        if problem:
            warnings.append(problem)
        for w in warnings:
            self._warn(w)
        if self._plan_warnings or warnings:
            out["warnings"] = self._plan_warnings + warnings
        return out

    def _emptied_dirs(self, kept: set[str], deleted: list[str]) -> list[str]:
        """Folders the deletions leave empty, deepest first (the host keeps empty folders)."""
        remaining = (set(self._listing) | kept) - set(deleted)
        occupied = {posixpath.dirname(p) for p in remaining}
        for d in list(occupied):
            while d:
                d = posixpath.dirname(d)
                occupied.add(d)
        candidates = {posixpath.dirname(p) for p in deleted} & self._dirs
        for d in list(candidates):
            while (d := posixpath.dirname(d)) and d in self._dirs:
                candidates.add(d)
        return sorted((d for d in candidates if d not in occupied), key=lambda d: (-d.count("/"), d))


def _batches(paths: list[str], facts: dict[str, deploy_state.FileFacts]) -> list[list[str]]:
    out: list[list[str]] = []
    size = 0
    for p in paths:
        if not out or len(out[-1]) >= BATCH_FILES or size + facts[p].size > BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(p)
        size += facts[p].size
    return out


def _kinds(paths: list[str]) -> str:
    exts = sorted({posixpath.splitext(p)[1].lower() or "no extension" for p in paths})
    return ", ".join(exts)
