"""A fake Netlify API on 127.0.0.1 for publish tests: the file-digest deploy flow as documented.

Follows https://docs.netlify.com/api-and-cli-guides/api-guides/get-started-with-api/ and the
OpenAPI spec (github.com/netlify/open-api, swagger.yml):

* ``POST /api/v1/sites/{site}/deploys`` takes ``{"files": {"/path": sha1}}`` and answers 200 with a
  deploy (``id``, ``state``, ``required``: the SHA-1s it lacks).  With ``"async": true`` the
  answer says ``preparing`` and ``GET /api/v1/sites/{site}/deploys/{id}`` gives ``required`` later.
  Paths holding ``#`` or ``?`` are refused (422), like Netlify's own client does.
* ``PUT /api/v1/deploys/{id}/files/{path}`` stores one file; its SHA-1 must be the listed one.
* ``GET /api/v1/deploys/{id}``: ``processing`` once every required file arrived, then ``ready``
  (or ``error`` with ``error_message``).  A ready deploy REPLACES the site's files: a file missing
  from the digest map is gone, which is how a test proves the client sends the full map.
* ``GET /api/v1/sites/{site}/files``: the live files, paginated with a ``Link: rel="next"`` header.
* Errors are ``{"code": N, "message": "..."}``; a missing or wrong Bearer token gets 401;
  :meth:`FakeNetlify.rate_limit` makes the next requests answer 429 with ``Retry-After``.

Every request is logged as ``(method, path, status)`` so tests can check order and that a
dry run sends nothing that changes the site.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class FakeNetlify:
    def __init__(self, token: str, site_id: str = "jana-site", page_size: int = 100) -> None:
        self.token = token
        self.site_id = site_id
        self.page_size = page_size
        self.live: dict[str, str] = {}          # the published deploy: "/path" -> sha1
        self.blobs: dict[str, bytes] = {}       # sha1 -> content (Netlify's storage)
        self.deploys: dict[str, dict] = {}
        self.log: list[tuple[str, str, int]] = []
        self.uploads: list[str] = []            # paths PUT, in order
        self.digests: list[dict[str, str]] = [] # every digest map POSTed
        self.fail_processing: str | None = None  # error_message for the next deploy's processing
        self._rate_limits: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- test helpers ---------------------------------------------------------------------------

    def start(self) -> "FakeNetlify":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rate_limit(self, count: int, retry_after: str = "1", method: str | None = None) -> None:
        """Answer the next ``count`` requests (with ``method`` only, when given) with 429 and
        ``Retry-After: retry_after``."""
        self._rate_limits.extend([(retry_after, method)] * count)

    def live_files(self) -> dict[str, bytes]:
        """The site as visitors see it: path (no leading slash) -> content."""
        return {p.lstrip("/"): self.blobs[sha] for p, sha in self.live.items()}

    def mutating(self) -> list[tuple[str, str, int]]:
        return [e for e in self.log if e[0] in MUTATING]

    # --- the API --------------------------------------------------------------------------------

    def _deploy_json(self, d: dict) -> dict:
        out = {"id": d["id"], "site_id": self.site_id, "state": d["state"], "name": "jana",
               "url": "http://jana.netlify.app", "ssl_url": "https://jana.netlify.app",
               "deploy_url": f"http://{d['id']}--jana.netlify.app", "deploy_ssl_url": f"https://{d['id']}--jana.netlify.app",
               "admin_url": "https://app.netlify.com/sites/jana", "draft": False, "title": d.get("title"),
               "error_message": d.get("error_message"), "required_functions": []}
        if d["state"] != "preparing":
            out["required"] = d["required"]
        return out

    def _required(self, d: dict) -> list[str]:
        return sorted({sha for sha in d["files"].values() if sha not in self.blobs})

    def handle(self, method: str, path: str, query: dict, headers, body: bytes) -> tuple[int, dict | list, dict]:
        """Returns (status, JSON body, extra headers)."""
        if self._rate_limits and self._rate_limits[0][1] in (None, method):
            return 429, {"code": 429, "message": "API rate limit exceeded, retry later"}, {"Retry-After": self._rate_limits.pop(0)[0]}
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"code": 401, "message": "Access Denied: Invalid token"}, {}
        parts = [unquote(p) for p in path.split("/")]
        # ['', 'api', 'v1', ...]
        if parts[:3] != ["", "api", "v1"]:
            return 404, {"code": 404, "message": "Not Found"}, {}
        rest = path.split("/", 3)[3] if path.count("/") >= 3 else ""
        seg = rest.split("/")
        if seg[0] == "sites" and len(seg) >= 3:
            if unquote(seg[1]) != self.site_id:
                return 404, {"code": 404, "message": "Not Found"}, {}
            if seg[2] == "files" and len(seg) == 3 and method == "GET":
                return self._list_files(query)
            if seg[2] == "deploys" and len(seg) == 3 and method == "POST":
                return self._create_deploy(query, body)
            if seg[2] == "deploys" and len(seg) == 4 and method == "GET":
                return self._get_deploy(unquote(seg[3]))
        if seg[0] == "deploys" and len(seg) >= 2:
            deploy_id = unquote(seg[1])
            if len(seg) == 2 and method == "GET":
                return self._get_deploy(deploy_id)
            if len(seg) >= 4 and seg[2] == "files" and method == "PUT":
                return self._upload(deploy_id, "/" + unquote("/".join(seg[3:])), body)
            if len(seg) == 3 and seg[2] == "cancel" and method == "POST":
                d = self.deploys.get(deploy_id)
                if d is None:
                    return 404, {"code": 404, "message": "Not Found"}, {}
                d.update(state="error", error_message="Canceled")
                return 201, self._deploy_json(d), {}
        return 404, {"code": 404, "message": "Not Found"}, {}

    def _list_files(self, query: dict) -> tuple[int, list, dict]:
        page = int((query.get("page") or ["1"])[0])
        items = sorted(self.live.items())
        chunk = items[(page - 1) * self.page_size: page * self.page_size]
        body = [{"id": p, "path": p, "sha": sha, "mime_type": "application/octet-stream", "size": len(self.blobs[sha])} for p, sha in chunk]
        headers = {}
        if page * self.page_size < len(items):
            headers["Link"] = f'<{self.url}/api/v1/sites/{self.site_id}/files?page={page + 1}&per_page={self.page_size}>; rel="next"'
        return 200, body, headers

    def _create_deploy(self, query: dict, body: bytes) -> tuple[int, dict, dict]:
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return 422, {"code": 422, "message": "Invalid JSON body"}, {}
        files = req.get("files")
        if not isinstance(files, dict):
            return 422, {"code": 422, "message": "files must be an object of path: sha1"}, {}
        for p, sha in files.items():
            if not p.startswith("/") or "#" in p or "?" in p:
                return 422, {"code": 422, "message": f"Invalid filename {p}. Deployed filenames cannot contain # or ? characters"}, {}
            if not isinstance(sha, str) or len(sha) != 40:
                return 422, {"code": 422, "message": f"Invalid SHA1 for {p}"}, {}
        self.digests.append(dict(files))
        d = {"id": uuid.uuid4().hex[:24], "files": dict(files), "title": (query.get("title") or [None])[0], "uploaded": set()}
        d["required"] = self._required(d)
        if req.get("async"):
            d["state"] = "preparing"
        else:
            d["state"] = "uploading" if d["required"] else "processing"
        self.deploys[d["id"]] = d
        return 200, self._deploy_json(d), {}

    def _get_deploy(self, deploy_id: str) -> tuple[int, dict, dict]:
        d = self.deploys.get(deploy_id)
        if d is None:
            return 404, {"code": 404, "message": "Not Found"}, {}
        if d["state"] == "preparing":
            d["required"] = self._required(d)
            d["state"] = "uploading" if d["required"] else "processing"
        elif d["state"] == "processing":
            # One poll sees "processing"; the next one the outcome.
            d["state"] = "processed"
            return 200, dict(self._deploy_json(d), state="processing"), {}
        elif d["state"] == "processed":
            if self.fail_processing:
                d.update(state="error", error_message=self.fail_processing)
                self.fail_processing = None
            else:
                d["state"] = "ready"
                self.live = dict(d["files"])   # the whole site is this deploy's map
        return 200, self._deploy_json(d), {}

    def _upload(self, deploy_id: str, path: str, body: bytes) -> tuple[int, dict, dict]:
        d = self.deploys.get(deploy_id)
        if d is None:
            return 404, {"code": 404, "message": "Not Found"}, {}
        if d["state"] != "uploading":
            return 422, {"code": 422, "message": f"Deploy is {d['state']}, not accepting uploads"}, {}
        if path not in d["files"]:
            return 422, {"code": 422, "message": f"{path} is not part of this deploy"}, {}
        sha = hashlib.sha1(body).hexdigest()
        if sha != d["files"][path]:
            return 422, {"code": 422, "message": f"SHA1 of {path} does not match the deploy digest"}, {}
        self.blobs[sha] = body
        self.uploads.append(path.lstrip("/"))
        if not self._required(d):
            d["state"] = "processing"
        return 200, {"id": path, "path": path, "sha": sha, "mime_type": "application/octet-stream", "size": len(body)}, {}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                with fake._lock:
                    status, payload, extra = fake.handle(self.command, split.path, parse_qs(split.query), self.headers, body)
                    fake.log.append((self.command, split.path, status))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler
