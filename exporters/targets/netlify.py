"""`netlify:SITE_ID`: publish to a Netlify site through its file-digest deploy API.

SITE_ID is the site's API id (Netlify's "Project ID") or its domain (``mysite.netlify.app``); the
API takes either.  The token comes from the keyring (service ``vault``, user ``netlify:SITE_ID``,
then ``netlify``) or ``NETLIFY_AUTH_TOKEN``; ``NETLIFY_API_URL`` replaces ``https://api.netlify.com``
(tests point it at a local fake).

A deploy (https://docs.netlify.com/api-and-cli-guides/api-guides/get-started-with-api/):

1. ``POST /api/v1/sites/{site}/deploys`` with ``{"files": {"/path": sha1, ...}, "async": true}``
   listing EVERY file: a file missing from the map is missing from the new deploy.  With
   ``async`` the answer may say ``preparing``; the deploy is polled until it lists ``required``.
2. ``PUT /api/v1/deploys/{id}/files/{path}`` (``application/octet-stream``) for every local path
   whose SHA-1 is in ``required``, assets first, then pages, then the manifest.
3. ``GET /api/v1/deploys/{id}`` until ``state`` is ``ready`` (``error`` fails with its
   ``error_message``), within ``deploy_timeout`` seconds.

Netlify swaps deploys atomically, so the site is the old one until the new one is ready: a failure
at any step leaves it as it was (the unfinished deploy is cancelled, best effort).  Netlify refuses
``#`` and ``?`` in file paths; such paths are reported before anything is sent.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from exporters.targets import deploy_state
from exporters.targets.host_api import HostClient, require_token
from vault.plugin_api import Plan, RemoteError, UsageError, diff, upload_order

API_URL = "https://api.netlify.com"
TOKEN_ENV = "NETLIFY_AUTH_TOKEN"
REFUSED_CHARS = "#?"
_SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
# States in which a deploy knows its upload list (``preparing`` comes before, with async deploys);
# ``processing`` and ``ready`` mean it needed nothing.
_DIFF_DONE = {"prepared", "uploading", "uploaded", "processing", "ready"}


def _body(path: Path, size: int) -> Any:
    """A request body for one upload: a fresh file per attempt, or ``b""`` for an empty file
    (requests would send an empty file object chunked, with no Content-Length)."""
    return (lambda: open(path, "rb")) if size else b""


class NetlifyTarget:
    scheme = "netlify"
    deploy_timeout = 600.0      # seconds to wait for "required" and then for "ready"
    poll_interval = 1.0         # longest pause between polls (the first ones are shorter)

    def __init__(self, site_id: str, client: HostClient) -> None:
        self.site_id = site_id
        self.client = client
        self._files: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"NetlifyTarget({self.site_id!r})"

    @property
    def spec(self) -> str:
        return f"netlify:{self.site_id}"

    @classmethod
    def open(cls, rest: str, context: dict[str, Any]) -> "NetlifyTarget":
        site_id = rest.strip()
        if not site_id:
            raise UsageError("netlify: needs a site, e.g. netlify:3970e0fe-8564-4903-9a55-c5f8de49fb8b or netlify:mysite.netlify.app",
                             hint="the site id is Netlify's Project ID (Project configuration > General)")
        if not _SITE_ID.match(site_id):
            raise UsageError(f"not a Netlify site id or domain: {site_id!r}")
        token = require_token([f"netlify:{site_id}", "netlify"], TOKEN_ENV, "Netlify")
        base = os.environ.get("NETLIFY_API_URL") or API_URL
        return cls(site_id, HostClient("Netlify", base, token))

    # --- reading ------------------------------------------------------------------------------

    def _site_files(self) -> dict[str, deploy_state.Listed]:
        """The live deploy's files (``GET /sites/{site}/files``), following ``Link: rel=next``."""
        out: dict[str, deploy_state.Listed] = {}
        url = f"/api/v1/sites/{quote(self.site_id, safe='')}/files"
        pages = 0
        while url:
            resp = self.client.request("GET", url, what=f"listing the files of site {self.site_id}")
            try:
                entries = resp.json()
            except ValueError:
                entries = None
            if not isinstance(entries, list):
                raise RemoteError(f"Netlify sent an unreadable file list for site {self.site_id}")
            for e in entries:
                if isinstance(e, dict) and isinstance(e.get("path"), str):
                    size = e.get("size")
                    out[e["path"].lstrip("/")] = deploy_state.Listed(sha1=e.get("sha"), size=size if isinstance(size, int) else None)
            url = (resp.links.get("next") or {}).get("url", "")
            # Follow pagination only on the API host: the token must never go anywhere else.
            if url and not url.startswith(self.client.base_url + "/"):
                raise RemoteError(f"Netlify pointed the file list at another host ({url.split('/')[2] if '//' in url else url})")
            pages += 1
            if pages > 10_000:
                raise RemoteError("Netlify's file list does not end")
        return out

    def plan(self, files: dict[str, str]) -> Plan:
        """Compare the bundle with the site's live files; send nothing that changes the site.

        Raises UsageError, before any request, when a path holds a character Netlify refuses.
        """
        deploy_state.check_paths(files, REFUSED_CHARS, "Netlify")
        listing = self._site_files()
        self._files = dict(files)
        return diff(files, deploy_state.held(listing, deploy_state.load(self.spec)))

    # --- deploying ----------------------------------------------------------------------------

    def _poll(self, path: str, done: set[str], what: str) -> dict[str, Any]:
        """GET ``path`` until the deploy's state is in ``done``; fail on ``error`` or timeout."""
        deadline = time.monotonic() + self.deploy_timeout
        pause = 0.1
        while True:
            deploy = self.client.json("GET", path, what=what)
            state = deploy.get("state") if isinstance(deploy, dict) else None
            if state in done:
                return deploy
            if state == "error":
                raise RemoteError(f"Netlify deploy {deploy.get('id')} failed: {deploy.get('error_message') or 'no message'}",
                                  hint="the site still serves the previous deploy")
            if time.monotonic() + pause > deadline:
                raise RemoteError(f"Netlify deploy still {state!r} after {self.deploy_timeout:g}s ({what})",
                                  hint="the site still serves the previous deploy; see the deploy log in Netlify's app")
            time.sleep(pause)
            pause = min(pause * 2, self.poll_interval)

    def _cancel(self, deploy_id: str) -> None:
        """Best effort: an unfinished deploy never goes live anyway, this only tidies the list."""
        try:
            self.client.request("POST", f"/api/v1/deploys/{quote(deploy_id, safe='')}/cancel", what="cancelling the deploy", ok=(200, 201, 204))
        except RemoteError:
            pass

    def apply(self, build_dir: Path, plan: Plan) -> dict[str, Any]:
        """Create a deploy listing every bundle file, upload what Netlify lacks, wait until live."""
        files = self._files
        if files is None:
            raise UsageError("NetlifyTarget.apply called without plan()")  # programming error: the pipeline always plans first
        facts = deploy_state.file_facts(build_dir, files)
        digest = {f"/{p}": f.sha1 for p, f in sorted(facts.items())}
        site = quote(self.site_id, safe="")
        created = self.client.json("POST", f"/api/v1/sites/{site}/deploys", what=f"creating a deploy of site {self.site_id}",
                                   json={"files": digest, "async": True}, params={"title": "vault publish"})
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise RemoteError("Netlify's answer to the new deploy has no deploy id")
        deploy_id = created["id"]
        dep = quote(deploy_id, safe="")
        try:
            if created.get("state") not in _DIFF_DONE or "required" not in created:
                created = self._poll(f"/api/v1/sites/{site}/deploys/{dep}", _DIFF_DONE, "waiting for the upload list")
            required = set(created.get("required") or [])
            # Every local path whose content is required, not one per digest: Netlify's own
            # client does the same, and a path is only served once its own upload arrived.
            uploads = [p for p in upload_order(list(facts)) if facts[p].sha1 in required]
            for rel in uploads:
                self.client.request(
                    "PUT", f"/api/v1/deploys/{dep}/files/{quote(rel, safe='/')}", what=f"uploading {rel}",
                    headers={"Content-Type": "application/octet-stream"}, data=_body(build_dir / rel, facts[rel].size))
            final = self._poll(f"/api/v1/deploys/{dep}", {"ready"}, "waiting for the deploy to go live")
        except RemoteError:
            self._cancel(deploy_id)
            raise
        out: dict[str, Any] = {"target": self.spec, "deploy_id": deploy_id, "state": final.get("state"),
                               "url": final.get("ssl_url") or final.get("url"),
                               "deploy_url": final.get("deploy_ssl_url") or final.get("deploy_url"),
                               "uploaded": len(uploads)}
        problem = deploy_state.save(self.spec, facts)
        if problem:
            out["warnings"] = [problem]
        return out
