"""A fake Neocities API on 127.0.0.1 for publish tests, after the host's own code.

Follows https://neocities.org/api and the server source (github.com/neocities/neocities,
``app/api.rb`` and ``models/site.rb``):

* every answer is JSON with ``result`` (``success`` | ``error``); errors carry ``error_type`` and
  ``message``.  A missing or wrong ``Authorization: Bearer KEY`` gets 403 ``invalid_auth`` (the
  real host answers 403, not 401);
* ``GET /api/info`` -> ``{"info": {"sitename": ...}}``; ``GET /api/list`` -> ``files``, each with
  ``path`` (no leading slash), ``is_directory``, ``updated_at`` and, for files, ``size`` and
  ``sha1_hash``;
* ``POST /api/upload_hash`` (form: path=sha1) -> ``files``: path -> whether the site holds it;
* ``POST /api/upload`` (multipart, the field name is the path): every file is checked before any
  is stored; a free site refuses extensions outside ``Site::VALID_EXTENSIONS`` (400
  ``invalid_file_type``: nothing uploaded);
* ``POST /api/delete`` (form ``filenames[]``): a missing path (400 ``missing_files``) or
  ``index.html`` (400 ``cannot_delete_index``) cancels the whole request; folders go with their
  contents, and deleting files leaves their (empty) folders;
* :meth:`FakeNeocities.rate_limit` makes the next requests answer 429 with ``Retry-After``.

A new site holds Neocities' starter files.  Every request is logged as ``(method, path, status)``.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import hashlib
import json
import posixpath
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

# Site::VALID_EXTENSIONS (models/site.rb): what a free site accepts.  Kept apart from the client's
# copy on purpose, so a wrong list in the client shows up as a refused upload.
FREE_EXTENSIONS = set("""
    html htm txt text css js jpg jpeg png apng gif svg md markdown eot ttf woff woff2 json geojson csv tsv
    mf ico pdf asc key pgp xml mid midi manifest otf webapp less sass rss kml dae obj mtl scss webp avif
    xcf epub gltf bin webmanifest knowl atom opml rdf map gpg pls yaml yml toml osdx
""".split())
MUTATING = {"POST"}
READ_ONLY_POSTS = {"/api/upload_hash"}
STARTER = {"index.html": b"<html>Welcome to my website!</html>", "not_found.html": b"<html>Not found</html>",
           "style.css": b"body {}", "neocities.png": b"\x89PNG\r\n\x1a\nstarter"}


def _err(status: int, error_type: str, message: str) -> tuple[int, dict]:
    return status, {"result": "error", "error_type": error_type, "message": message}


class FakeNeocities:
    def __init__(self, api_key: str, sitename: str = "jana", supporter: bool = False, starter: bool = True) -> None:
        self.api_key = api_key
        self.sitename = sitename
        self.supporter = supporter
        self.files: dict[str, bytes] = dict(STARTER) if starter else {}
        self.dirs: set[str] = set()
        self.log: list[tuple[str, str, int]] = []
        self.upload_requests: list[list[str]] = []   # field names of each upload request, in order
        self.delete_requests: list[list[str]] = []
        self._rate_limits: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeNeocities":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def rate_limit(self, count: int, retry_after: str = "1", path: str | None = None) -> None:
        """Answer the next ``count`` requests (to ``path`` only, when given) with 429."""
        self._rate_limits.extend([(retry_after, path)] * count)

    def mutating(self) -> list[tuple[str, str, int]]:
        return [e for e in self.log if e[0] in MUTATING and e[1] not in READ_ONLY_POSTS]

    def uploaded(self) -> list[str]:
        return [name for req in self.upload_requests for name in req]

    # --- the API --------------------------------------------------------------------------------

    @staticmethod
    def _scrub(path: str) -> str:
        """Site#scrubbed_path: drop empty, '.' and '..' parts."""
        return "/".join(p for p in path.split("/") if p not in ("", ".", ".."))

    def _add_dirs(self, path: str) -> None:
        d = posixpath.dirname(path)
        while d:
            self.dirs.add(d)
            d = posixpath.dirname(d)

    def handle(self, method: str, path: str, query: dict, headers, body: bytes) -> tuple[int, dict, dict]:
        if self._rate_limits and self._rate_limits[0][1] in (None, path):
            status, payload = _err(429, "rate_limited", "too many requests, please slow down")
            return status, payload, {"Retry-After": self._rate_limits.pop(0)[0]}
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return (*_err(403, "invalid_auth", "invalid credentials - please check your username and password (or your api key)"), {})
        route = (method, path)
        if route == ("GET", "/api/info"):
            return 200, {"result": "success", "info": {"sitename": self.sitename, "views": 1, "hits": 1,
                                                        "created_at": "Mon, 01 Jan 2024 00:00:00 -0000",
                                                        "last_updated": None, "domain": None, "tags": []}}, {}
        if route == ("GET", "/api/list"):
            files = [{"path": d, "is_directory": True, "updated_at": "Mon, 01 Jan 2024 00:00:00 -0000"} for d in sorted(self.dirs)]
            files += [{"path": p, "is_directory": False, "size": len(b), "updated_at": "Mon, 01 Jan 2024 00:00:00 -0000",
                       "sha1_hash": hashlib.sha1(b).hexdigest()} for p, b in sorted(self.files.items())]
            return 200, {"result": "success", "files": files}, {}
        if route == ("POST", "/api/upload_hash"):
            form = parse_qsl(body.decode(), keep_blank_values=True)
            answer = {k: self._scrub(k) in self.files and hashlib.sha1(self.files[self._scrub(k)]).hexdigest() == v for k, v in form}
            return 200, {"result": "success", "files": answer}, {}
        if route == ("POST", "/api/upload"):
            return (*self._upload(headers.get("Content-Type", ""), body), {})
        if route == ("POST", "/api/delete"):
            return (*self._delete([v for k, v in parse_qsl(body.decode(), keep_blank_values=True) if k == "filenames[]"]), {})
        return (*_err(404, "not_found", "the requested api call does not exist"), {})

    def _upload(self, content_type: str, body: bytes) -> tuple[int, dict]:
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        files: list[tuple[str, bytes]] = []
        if msg.is_multipart():
            for part in msg.iter_parts():
                raw = part.get_param("name", header="content-disposition")
                name = raw if isinstance(raw, str) or raw is None else email.utils.collapse_rfc2231_value(raw)
                data = part.get_payload(decode=True)
                if name and part.get_param("filename", header="content-disposition") is not None:
                    files.append((name, data if isinstance(data, bytes) else b""))
        self.upload_requests.append([n for n, _ in files])
        if not files:
            return _err(400, "missing_files", "you must provide files to upload")
        for name, _ in files:
            ext = posixpath.splitext(name)[1].lstrip(".").lower()
            if not self.supporter and ext not in FREE_EXTENSIONS:
                return _err(400, "invalid_file_type",
                            f"{name} is not a valid file type (or contains not allowed content) for this site, files have not been uploaded")
            if self._scrub(name) in self.dirs:
                return _err(400, "directory_exists", "this name is being used by a directory, cannot continue")
        for name, data in files:
            path = self._scrub(name)
            self.files[path] = data
            self._add_dirs(path)
        return 200, {"result": "success", "message": "your file(s) have been successfully uploaded"}

    def _delete(self, names: list[str]) -> tuple[int, dict]:
        self.delete_requests.append(list(names))
        if not names:
            return _err(400, "missing_filenames", "you must provide files to delete")
        for name in names:
            path = self._scrub(name)
            if path == "":
                return _err(400, "cannot_delete_site_directory", "cannot delete the root directory of the site")
            if path not in self.files and path not in self.dirs:
                return _err(400, "missing_files", f"{name} was not found on your site, canceled deleting")
            if path == "index.html":
                return _err(400, "cannot_delete_index", "you cannot delete your index.html file, canceled deleting")
        for name in names:
            path = self._scrub(name)
            self.files.pop(path, None)
            if path in self.dirs:
                self.dirs = {d for d in self.dirs if d != path and not d.startswith(path + "/")}
                self.files = {p: b for p, b in self.files.items() if not p.startswith(path + "/")}
        return 200, {"result": "success", "message": "file(s) have been deleted"}

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
                    status, payload, extra = fake.handle(self.command, split.path, {}, self.headers, body)
                    fake.log.append((self.command, split.path, status))
                data = (json.dumps(payload, indent=2) + "\n").encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        return Handler
