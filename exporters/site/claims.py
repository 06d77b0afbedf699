"""Signed, verifiable claims in the bundle: the DID document, reputation credentials, the manifest.

* ``did.json`` for ``did:web`` (at ``.well-known/did.json`` for a site at a domain root, at
  ``<path>/did.json`` for a site under a path, as did:web resolution expects), with one Ed25519
  Multikey verification method.
* One W3C VC 2.0 credential per marketplace, secured with an ``eddsa-jcs-2022`` proof, valid from
  the build's as-of time for ``credential_validity_days``.
* ``manifest.json``: every other file's SHA-256, secured the same way.  `vault verify` checks it.
* ``contexts/vault-v1.json``: the JSON-LD context that defines every term of the credentials and
  the manifest that the W3C credentials context does not (``@protected``, absolute IRIs).  The
  vocabulary lives on the issuer's own site (``<site>/contexts/vault-v1.json#<term>``), so a
  verifier can read what each term means from the same origin that vouches for the key.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from vault.plugin_api import signing

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
MANIFEST = "manifest.json"
CONTEXT_PATH = "contexts/vault-v1.json"


def context_url(site_url: str) -> str:
    return f"{site_url}{CONTEXT_PATH}"


def context_document(site_url: str) -> dict:
    """The bundle's JSON-LD context, its vocabulary anchored at ``context_url(site_url)`` (the
    packaged file's ``vault`` prefix is a placeholder for that address)."""
    from importlib.resources import files

    doc = json.loads(files("exporters.site").joinpath("static", "vault-context-v1.json").read_text(encoding="utf-8"))
    doc["@context"]["vault"] = context_url(site_url) + "#"
    return doc


def did_document_path(base_url: str) -> str:
    path = [p for p in urlsplit(base_url).path.split("/") if p]
    return "did.json" if path else ".well-known/did.json"


def did_document(did: str, public_key: bytes) -> dict:
    vm = f"{did}#key-1"
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [{"id": vm, "type": "Multikey", "controller": did, "publicKeyMultibase": signing.multikey(public_key)}],
        "assertionMethod": [vm],
        "authentication": [vm],
    }


def credential(did: str, market: dict, as_of: datetime, validity_days: int, private_key, site_url: str) -> dict:
    valid_from = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    valid_until = (as_of + timedelta(days=validity_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = {
        "id": did,
        "marketplace": market["source"],
        "ratingsReceived": market["received"],
        "ratingsLeft": market.get("left"),
        "percentPositiveAllTime": market.get("percent_positive_all"),
        "percentPositiveLast12Months": market.get("percent_positive_12m"),
        "starsHistogram": market.get("histogram") or None,
        "starsMean": market.get("stars_mean"),
        "firstRating": market.get("first"),
        "lastRating": market.get("last"),
    }
    evidence = [{k: v for k, v in {"type": "RatingPageCapture", "sha256": e.get("value"), "url": e.get("url")}.items() if v}
                for e in market.get("evidence") or [] if e.get("value")]
    doc: dict[str, Any] = {
        "@context": [VC_CONTEXT, context_url(site_url)],
        "id": f"{site_url}credentials/{market['source']}.json",
        "type": ["VerifiableCredential", "MarketplaceReputationCredential"],
        "issuer": did,
        "validFrom": valid_from,
        "validUntil": valid_until,
        "credentialSubject": {k: v for k, v in subject.items() if v is not None},
    }
    if evidence:
        # VC 2.0 evidence: the captured feedback pages the figures were computed from.
        doc["evidence"] = evidence
    return signing.sign(doc, private_key, f"{did}#key-1", valid_from)


def credential_index(did: str, paths: list[str], site_url: str) -> dict:
    """``credentials/index.json``: the bundle paths of the credentials (JSON-LD, like the rest)."""
    return {"@context": [VC_CONTEXT, context_url(site_url)], "type": "CredentialIndex", "issuer": did, "credentials": paths}


def manifest(did: str, files: dict[str, str], as_of: datetime, private_key, site_url: str) -> dict:
    created = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = {
        "@context": [VC_CONTEXT, context_url(site_url)],
        "type": "SignedBundleManifest",
        "issuer": did,
        "created": created,
        "algorithm": "sha256",
        "files": dict(sorted(files.items())),
    }
    return signing.sign(doc, private_key, f"{did}#key-1", created)


def dumps(obj: dict | None) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
