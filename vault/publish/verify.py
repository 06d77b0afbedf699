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


def _json(data: bytes | None, what: str, report: VerifyReport) -> dict | None:
    if data is None:
        report.problems.append(f"{what} is missing")
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        report.problems.append(f"{what} is not valid JSON")
        return None
    if not isinstance(doc, dict):
        report.problems.append(f"{what} is not a JSON object")
        return None
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
    resolve = resolve or {}
    reader = _Reader(location)
    report = VerifyReport(location)
    manifest = _json(reader.read("manifest.json"), "manifest.json", report)
    if manifest is None:
        return report
    did = str(manifest.get("issuer") or "")
    report.did = did
    try:
        parsed = parse_did_web(did)
    except UsageError:
        report.problems.append("manifest.json names no well-formed did:web issuer")
        return report

    copy_path = parsed.document_path()
    copy_raw = reader.read(copy_path)
    for host in sorted(set(resolve) - {parsed.host}):
        report.warnings.append(f"--resolve {host}=... is not used: the bundle's issuer is {did} (host {parsed.host})")
    if reader.is_url or parsed.host in resolve:
        source = parsed.document_url(resolve.get(parsed.host))
        report.did_document = source
        try:
            raw = _http_get(source, MAX_DID_DOCUMENT)
        except VaultError as exc:
            # Fail closed: without the key its domain serves, nothing in the bundle is vouched for.
            report.problems.append(f"the key of {did} could not be checked: {exc.message}")
            report.hint = (f"the key of {did} is read from {source}; to read it from elsewhere "
                           f"(a mirror, a test server), give --resolve {parsed.host}=URL")
            return report
        doc = _json(raw, f"the DID document of {did} at {source}", report)
        report.key_checked = doc is not None
    else:
        source = copy_path
        doc = _json(copy_raw, copy_path, report)
        report.did_document = str(Path(location) / copy_path)
        report.warnings.append(
            f"the key was read from the folder's own {copy_path} and NOT checked against {parsed.host}: "
            f"verify the site's URL, or give --resolve {parsed.host}=URL to fetch the DID document from where it is served")
    if doc is None:
        return report
    keys = _assertion_keys(doc, did)
    if doc.get("id") != did or not keys:
        report.problems.append(f"{source} does not describe {did} with an Ed25519 assertion key")
        return report
    copy_keys: dict[str, bytes] = {}
    if report.key_checked and copy_raw is not None:
        try:
            copy_doc = json.loads(copy_raw)
            copy_keys = _assertion_keys(copy_doc, did) if isinstance(copy_doc, dict) else {}
        except ValueError:
            copy_keys = {}

    def check_proof(obj: dict, what: str) -> bool:
        proof = obj.get("proof")
        vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
        if not isinstance(proof, dict) or vm not in keys:
            report.problems.append(f"{what}: signed with a key the DID document at {source} does not list ({vm})")
            return False
        if proof.get("proofPurpose") != "assertionMethod":
            report.problems.append(f"{what}: the proof's purpose is {proof.get('proofPurpose')!r}, not assertionMethod")
            return False
        try:
            signing.verify(obj, keys[vm])
        except IntegrityError as exc:
            if vm in copy_keys and copy_keys[vm] != keys[vm]:
                try:
                    signing.verify(obj, copy_keys[vm])
                    report.problems.append(
                        f"{what}: signed by another key than {did} publishes at {source}: the bundle carries its own "
                        f"{copy_path} with a different key, so it was not issued by {parsed.host}")
                    return False
                except IntegrityError:
                    pass
            report.problems.append(f"{what}: {exc.message}")
            return False
        return True

    if not check_proof(manifest, "manifest.json"):
        return report
    files = manifest.get("files")
    files = files if isinstance(files, dict) else {}
    if progress:
        progress(0, total=len(files))
    for rel, expected in sorted(files.items()):
        data = reader.read(rel)
        report.files_checked += 1
        if data is None:
            report.problems.append(f"{rel}: listed in the manifest but missing")
        elif hashlib.sha256(data).hexdigest() != expected:
            report.problems.append(f"{rel}: content differs from the signed manifest")
        if progress:
            progress(1)
    listing = reader.listing()
    if listing is not None:
        for rel in sorted(listing - set(files) - {"manifest.json"}):
            report.problems.append(f"{rel}: not in the signed manifest")
    if report.key_checked and copy_keys and copy_keys != keys:
        report.problems.append(f"{copy_path}: lists other keys than the DID document {did} publishes at {source}")
    for rel in sorted(f for f in files if f.startswith("credentials/") and f != "credentials/index.json"):
        cred = _json(reader.read(rel), rel, report)
        if cred is None:
            continue
        entry = {"path": rel, "valid_until": cred.get("validUntil"), "ok": False}
        report.credentials.append(entry)
        if cred.get("issuer") != did:
            report.problems.append(f"{rel}: issued by {cred.get('issuer')}, not {did}")
            continue
        if not check_proof(cred, rel):
            continue
        until = parse_iso(cred.get("validUntil"))
        start = parse_iso(cred.get("validFrom"))
        if until is not None and until < now:
            report.problems.append(f"{rel}: expired on {cred.get('validUntil')}")
            continue
        if start is not None and start > now:
            report.problems.append(f"{rel}: not valid before {cred.get('validFrom')}")
            continue
        entry["ok"] = True
    return report
