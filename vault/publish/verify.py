"""`vault verify`: check a published bundle, from a folder or over HTTP(S).

Trust is anchored where did:web puts it: the issuer's key comes from the DID document served at the
DID's own origin (``did:web:host%3Aport:a:b`` -> ``https://host:port/a/b/did.json``, a bare host ->
``https://host/.well-known/did.json``; plain HTTP for the loopback hosts a site may be published on
for testing), never from the copy under test, which anyone can serve with a key of their own.  ``resolve`` maps a DID host to another base URL (a mirror, a test server on
loopback).  A folder is checked against its own ``did.json`` unless its host is in ``resolve``: the
report then says that the key was not checked against the domain.

Checks, and reports every failure (exit 13 when any):
* the DID document names the DID and lists the signing key under ``assertionMethod``;
* ``manifest.json`` carries a valid eddsa-jcs-2022 proof by that key;
* every file the manifest lists exists with that SHA-256, and (for a folder) no file is unlisted;
* every credential under ``credentials/`` verifies, names the same issuer and has not expired.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from ..errors import IntegrityError, UsageError, VaultError
from ..models import parse_iso
from . import signing

MAX_DID_DOCUMENT = 1 << 20
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?::[0-9]{1,5})?")


@dataclass
class VerifyReport:
    location: str
    did: str | None = None
    files_checked: int = 0
    credentials: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    did_document: str | None = None      # where the key was read from (URL, or the folder's file)
    key_checked: bool = False            # True when that was the DID's own origin (or --resolve)
    warnings: list[str] = field(default_factory=list)
    hint: str | None = None              # what to do about the problems, when something specific helps

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"location": self.location, "ok": self.ok, "did": self.did, "files_checked": self.files_checked,
                "credentials": self.credentials, "problems": self.problems, "did_document": self.did_document,
                "key_checked": self.key_checked, "warnings": self.warnings}


@dataclass(frozen=True)
class DidWeb:
    """A parsed ``did:web`` identifier."""

    did: str
    host: str                 # lower-cased, with ``:port`` when the DID names one
    path: tuple[str, ...]

    def document_path(self) -> str:
        """The DID document's path relative to the site root."""
        return "/".join([*self.path, "did.json"]) if self.path else ".well-known/did.json"

    def document_url(self, base: str | None = None) -> str:
        scheme = "http" if self.host.rsplit(":", 1)[0] in signing.LOCAL_HTTP_HOSTS else "https"
        base = base or f"{scheme}://{self.host}/"
        return (base if base.endswith("/") else base + "/") + self.document_path()


def parse_did_web(did: str) -> DidWeb:
    """Parse ``did`` as the did:web method defines it; raise UsageError when it is not one."""
    parts = did.split(":")
    if len(parts) < 3 or parts[:2] != ["did", "web"] or not parts[2]:
        raise UsageError(f"{did!r} is not a did:web identifier")
    host = unquote(parts[2]).lower()
    path = tuple(unquote(p) for p in parts[3:])
    if not _HOST.fullmatch(host) or any(not p or p in (".", "..") or set(p) & set("/?#\\") for p in path):
        raise UsageError(f"{did!r} is not a well-formed did:web identifier")
    return DidWeb(did, host, path)


def parse_resolve(values: list[str]) -> dict[str, str]:
    """``HOST=URL`` pairs (as `--resolve` takes them) -> {host: base URL}."""
    out: dict[str, str] = {}
    for value in values:
        host, sep, url = value.partition("=")
        host = host.strip().lower()
        if not sep or not _HOST.fullmatch(host) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise UsageError(f"--resolve wants HOST=URL, not {value!r}",
                             hint="e.g. --resolve jana.example.org=http://127.0.0.1:8080/ (the DID's host, with :PORT if it has one)")
        out[host] = url if url.endswith("/") else url + "/"
    return out


class _Reader:
    """Reads bundle files from a folder or a base URL."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.is_url = location.startswith(("http://", "https://"))
        if self.is_url:
            self.base = location if location.endswith("/") else location + "/"
        else:
            self.root = Path(location)
            if not self.root.is_dir():
                raise UsageError(f"no folder or URL {location}")

    def read(self, rel: str) -> bytes | None:
        if self.is_url:
            return _http_get(self.base + rel)
        path = self.root / rel
        return path.read_bytes() if path.is_file() else None

    def listing(self) -> set[str] | None:
        if self.is_url:
            return None
        return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file() and ".git" not in p.relative_to(self.root).parts}


_session = None


def _http_get(url: str, limit: int | None = None) -> bytes | None:
    """The body of a 200 answer, None for any other status; VaultError when the server cannot be reached."""
    import requests

    global _session
    if _session is None:
        _session = requests.Session()
        _session.headers["User-Agent"] = "vault-verify"
    try:
        with _session.get(url, timeout=(10, 60), stream=limit is not None) as resp:
            if resp.status_code != 200:
                return None
            if urlsplit(url).scheme == "https" and urlsplit(resp.url).scheme != "https":
                return None  # a redirect away from TLS proves nothing about the domain
            if limit is None:
                return resp.content
            body = resp.raw.read(limit + 1, decode_content=True)
            return body if len(body) <= limit else None
    except requests.RequestException as exc:
        raise VaultError(f"cannot fetch {url}: {exc}", hint="check the address and the network, then run verify again") from None


def _load_json(data: bytes | None, what: str) -> tuple[dict | None, str | None]:
    """(the JSON object, None), or (None, what is wrong with it)."""
    if data is None:
        return None, f"{what} is missing"
    try:
        doc = json.loads(data)
    except ValueError:
        return None, f"{what} is not valid JSON"
    if not isinstance(doc, dict):
        return None, f"{what} is not a JSON object"
    return doc, None


def _json(data: bytes | None, what: str, report: VerifyReport) -> dict | None:
    doc, problem = _load_json(data, what)
    if problem:
        report.problems.append(problem)
    return doc


def _assertion_keys(doc: dict, did: str) -> dict[str, bytes]:
    """Ed25519 keys the DID document lets its controller sign assertions with, by method id."""
    def absolute(ref: str) -> str:
        return did + ref if ref.startswith("#") else ref

    methods = {}
    for vm in doc.get("verificationMethod") or []:
        if not isinstance(vm, dict) or not isinstance(vm.get("id"), str):
            continue
        methods[absolute(vm["id"])] = vm
    allowed = set()
    for entry in doc.get("assertionMethod") or []:
        if isinstance(entry, str):
            allowed.add(absolute(entry))
        elif isinstance(entry, dict) and isinstance(entry.get("id"), str):
            methods.setdefault(absolute(entry["id"]), entry)
            allowed.add(absolute(entry["id"]))
    keys = {}
    for vm_id in sorted(allowed):
        vm = methods.get(vm_id)
        if vm is None or not vm_id.startswith(did + "#") or vm.get("controller") not in (None, did):
            continue
        try:
            keys[vm_id] = signing.public_from_multikey(vm["publicKeyMultibase"])
        except (KeyError, ValueError, TypeError):
            continue
    return keys


def verify_bundle(location: str, now: datetime | None = None, progress: Callable[..., None] | None = None,
                  resolve: dict[str, str] | None = None) -> VerifyReport:
    """Verify the bundle at ``location`` (a folder or a URL).

    MUST take the issuer's key from the DID's own origin (or the base URL ``resolve`` gives for its
    host) for a URL, and for a folder when its host is in ``resolve``; MUST NOT trust the bundle's
    own DID document then.  A DID document that cannot be fetched is a problem (fail closed);
    VaultError only when the bundle's own server cannot be reached.
    """
    now = now or datetime.now(timezone.utc)
    reader = _Reader(location)
    report = VerifyReport(location)
    manifest = _json(reader.read("manifest.json"), "manifest.json", report)
    parsed = _issuer_did(manifest, report) if manifest is not None else None
    issuer = _issuer(reader, parsed, resolve or {}, report) if parsed is not None else None
    if manifest is None or issuer is None:
        return report
    problem = issuer.proof_problem(manifest, "manifest.json")
    if problem:
        report.problems.append(problem)
        return report
    files = manifest.get("files")
    files = files if isinstance(files, dict) else {}
    report.problems += _file_problems(reader, files, report, progress)
    report.problems += _unlisted_files(reader, files)
    report.problems += issuer.copy_problems()
    report.problems += _credential_problems(reader, files, issuer, now, report)
    return report


@dataclass
class _Issuer:
    """The keys the issuer's DID document (read from ``source``) lets it sign assertions with."""

    did: str
    host: str
    source: str
    copy_path: str                  # the bundle's own copy of the DID document
    keys: dict[str, bytes]
    copy_keys: dict[str, bytes]     # those its copy lists, when the document came from elsewhere

    def proof_problem(self, obj: dict, what: str) -> str | None:
        """What is wrong with ``obj``'s proof, or None when these keys vouch for it."""
        proof = obj.get("proof")
        vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
        if not isinstance(proof, dict) or vm not in self.keys:
            return f"{what}: signed with a key the DID document at {self.source} does not list ({vm})"
        if proof.get("proofPurpose") != "assertionMethod":
            return f"{what}: the proof's purpose is {proof.get('proofPurpose')!r}, not assertionMethod"
        try:
            signing.verify(obj, self.keys[vm])
        except IntegrityError as exc:
            if self._signed_by_copy(obj, vm):
                return (f"{what}: signed by another key than {self.did} publishes at {self.source}: the bundle carries its own "
                        f"{self.copy_path} with a different key, so it was not issued by {self.host}")
            return f"{what}: {exc.message}"
        return None

    def _signed_by_copy(self, obj: dict, vm: str) -> bool:
        if vm not in self.copy_keys or self.copy_keys[vm] == self.keys[vm]:
            return False
        try:
            signing.verify(obj, self.copy_keys[vm])
        except IntegrityError:
            return False
        return True

    def copy_problems(self) -> list[str]:
        if self.copy_keys and self.copy_keys != self.keys:
            return [f"{self.copy_path}: lists other keys than the DID document {self.did} publishes at {self.source}"]
        return []


def _issuer_did(manifest: dict, report: VerifyReport) -> DidWeb | None:
    did = str(manifest.get("issuer") or "")
    report.did = did
    try:
        return parse_did_web(did)
    except UsageError:
        report.problems.append("manifest.json names no well-formed did:web issuer")
        return None


def _issuer(reader: _Reader, parsed: DidWeb, resolve: dict[str, str], report: VerifyReport) -> _Issuer | None:
    """The issuer's keys, from the DID's own origin (or ``resolve``) for a URL or a resolved host,
    else from the folder's own copy (with a warning saying so); None when there are none."""
    did = parsed.did
    copy_path = parsed.document_path()
    copy_raw = reader.read(copy_path)
    for host in sorted(set(resolve) - {parsed.host}):
        report.warnings.append(f"--resolve {host}=... is not used: the bundle's issuer is {did} (host {parsed.host})")
    if reader.is_url or parsed.host in resolve:
        doc, source = _fetched_did_document(parsed, resolve, report)
    else:
        doc, source = _own_did_document(reader.location, parsed, copy_raw, report)
    if doc is None:
        return None
    keys = _assertion_keys(doc, did)
    if doc.get("id") != did or not keys:
        report.problems.append(f"{source} does not describe {did} with an Ed25519 assertion key")
        return None
    copy_keys = _copy_keys(copy_raw, did) if report.key_checked else {}
    return _Issuer(did, parsed.host, source, copy_path, keys, copy_keys)


def _fetched_did_document(parsed: DidWeb, resolve: dict[str, str], report: VerifyReport) -> tuple[dict | None, str]:
    did = parsed.did
    source = parsed.document_url(resolve.get(parsed.host))
    report.did_document = source
    try:
        raw = _http_get(source, MAX_DID_DOCUMENT)
    except VaultError as exc:
        # Fail closed: without the key its domain serves, nothing in the bundle is vouched for.
        report.problems.append(f"the key of {did} could not be checked: {exc.message}")
        report.hint = (f"the key of {did} is read from {source}; to read it from elsewhere "
                       f"(a mirror, a test server), give --resolve {parsed.host}=URL")
        return None, source
    doc = _json(raw, f"the DID document of {did} at {source}", report)
    report.key_checked = doc is not None
    return doc, source


def _own_did_document(location: str, parsed: DidWeb, copy_raw: bytes | None, report: VerifyReport) -> tuple[dict | None, str]:
    copy_path = parsed.document_path()
    doc = _json(copy_raw, copy_path, report)
    report.did_document = str(Path(location) / copy_path)
    report.warnings.append(
        f"the key was read from the folder's own {copy_path} and NOT checked against {parsed.host}: "
        f"verify the site's URL, or give --resolve {parsed.host}=URL to fetch the DID document from where it is served")
    return doc, copy_path


def _copy_keys(copy_raw: bytes | None, did: str) -> dict[str, bytes]:
    if copy_raw is None:
        return {}
    try:
        copy_doc = json.loads(copy_raw)
    except ValueError:
        return {}
    return _assertion_keys(copy_doc, did) if isinstance(copy_doc, dict) else {}


def _file_problems(reader: _Reader, files: dict, report: VerifyReport, progress: Callable[..., None] | None) -> list[str]:
    """Every file the manifest lists, read and hashed."""
    found = []
    if progress:
        progress(0, total=len(files))
    for rel, expected in sorted(files.items()):
        data = reader.read(rel)
        report.files_checked += 1
        if data is None:
            found.append(f"{rel}: listed in the manifest but missing")
        elif hashlib.sha256(data).hexdigest() != expected:
            found.append(f"{rel}: content differs from the signed manifest")
        if progress:
            progress(1)
    return found


def _unlisted_files(reader: _Reader, files: dict) -> list[str]:
    """Files of a folder the manifest does not list (a URL cannot be listed)."""
    listing = reader.listing()
    if listing is None:
        return []
    return [f"{rel}: not in the signed manifest" for rel in sorted(listing - set(files) - {"manifest.json"})]


def _credential_problems(reader: _Reader, files: dict, issuer: _Issuer, now: datetime, report: VerifyReport) -> list[str]:
    """Every credential the manifest lists, each added to ``report.credentials``."""
    found = []
    for rel in sorted(f for f in files if f.startswith("credentials/") and f != "credentials/index.json"):
        cred, problem = _load_json(reader.read(rel), rel)
        if cred is None:
            found.append(str(problem))
            continue
        entry = {"path": rel, "valid_until": cred.get("validUntil"), "ok": False}
        report.credentials.append(entry)
        problem = _credential_problem(cred, rel, issuer, now)
        if problem:
            found.append(problem)
        else:
            entry["ok"] = True
    return found


def _credential_problem(cred: dict, rel: str, issuer: _Issuer, now: datetime) -> str | None:
    if cred.get("issuer") != issuer.did:
        return f"{rel}: issued by {cred.get('issuer')}, not {issuer.did}"
    problem = issuer.proof_problem(cred, rel)
    if problem:
        return problem
    until = parse_iso(cred.get("validUntil"))
    start = parse_iso(cred.get("validFrom"))
    if until is not None and until < now:
        return f"{rel}: expired on {cred.get('validUntil')}"
    if start is not None and start > now:
        return f"{rel}: not valid before {cred.get('validFrom')}"
    return None
