"""`vault verify`: check a published bundle, from a folder or over HTTP(S).

Checks, and reports every failure (exit 13 when any):
* the DID document resolves as did:web says (``.well-known/did.json`` or ``<path>/did.json``);
* ``manifest.json`` carries a valid eddsa-jcs-2022 proof by the DID's key;
* every file the manifest lists exists with that SHA-256, and (for a folder) no file is unlisted;
* every credential under ``credentials/`` verifies, names the same issuer and has not expired.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from . import signing
from .errors import IntegrityError, UsageError, VaultError
from .models import parse_iso


@dataclass
class VerifyReport:
    location: str
    did: str | None = None
    files_checked: int = 0
    credentials: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"location": self.location, "ok": self.ok, "did": self.did, "files_checked": self.files_checked,
                "credentials": self.credentials, "problems": self.problems}


class _Reader:
    """Reads bundle files from a folder or a base URL."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.is_url = location.startswith(("http://", "https://"))
        if self.is_url:
            import requests

            self.session = requests.Session()
            self.session.headers["User-Agent"] = "vault-verify"
            self.base = location if location.endswith("/") else location + "/"
        else:
            self.root = Path(location)
            if not self.root.is_dir():
                raise UsageError(f"no folder or URL {location}")

    def read(self, rel: str) -> bytes | None:
        if self.is_url:
            import requests

            try:
                resp = self.session.get(self.base + rel, timeout=(10, 60))
            except requests.RequestException as exc:
                raise VaultError(f"cannot fetch {self.base + rel}: {exc}") from None
            return resp.content if resp.status_code == 200 else None
        path = self.root / rel
        return path.read_bytes() if path.is_file() else None

    def listing(self) -> set[str] | None:
        if self.is_url:
            return None
        return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file() and ".git" not in p.relative_to(self.root).parts}


def _json(data: bytes | None, what: str, report: VerifyReport) -> dict | None:
    if data is None:
        report.problems.append(f"{what} is missing")
        return None
    try:
        return json.loads(data)
    except ValueError:
        report.problems.append(f"{what} is not valid JSON")
        return None


def verify_bundle(location: str, now: datetime | None = None, progress: Callable[..., None] | None = None) -> VerifyReport:
    now = now or datetime.now(timezone.utc)
    reader = _Reader(location)
    report = VerifyReport(location)
    manifest = _json(reader.read("manifest.json"), "manifest.json", report)
    if manifest is None:
        return report
    did = str(manifest.get("issuer") or "")
    report.did = did
    if not did.startswith("did:web:"):
        report.problems.append("manifest.json names no did:web issuer")
        return report
    did_path = "did.json" if len(did.split(":")) > 3 else ".well-known/did.json"
    doc = _json(reader.read(did_path), did_path, report)
    if doc is None:
        return report
    keys = {}
    for vm in doc.get("verificationMethod") or []:
        try:
            keys[vm["id"]] = signing.public_from_multikey(vm["publicKeyMultibase"])
        except (KeyError, ValueError, TypeError):
            continue
    if doc.get("id") != did or not keys:
        report.problems.append(f"{did_path} does not describe {did} with an Ed25519 key")
        return report

    def check_proof(obj: dict, what: str) -> bool:
        vm = (obj.get("proof") or {}).get("verificationMethod")
        if vm not in keys:
            report.problems.append(f"{what}: signed with a key the DID document does not list")
            return False
        try:
            signing.verify(obj, keys[vm])
        except IntegrityError as exc:
            report.problems.append(f"{what}: {exc.message}")
            return False
        return True

    if not check_proof(manifest, "manifest.json"):
        return report
    files = manifest.get("files") or {}
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
