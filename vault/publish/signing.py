"""Verifiable claims: the Ed25519 signing key, did:web, and eddsa-jcs-2022 Data Integrity proofs.

The signing key lives in the vault as an encrypted object (found through a catalog hint), created on
first use.  Proofs follow the W3C Data Integrity EdDSA cryptosuite ``eddsa-jcs-2022`` (vc-di-eddsa): the proof
options carry the document's ``@context``, ``hashData = SHA-256(JCS(proof options)) ||
SHA-256(JCS(document without proof))``, signed with Ed25519; ``proofValue`` is base58btc multibase
(``z...``).  tests/data/vectors/ holds the W3C test vector this reproduces byte for byte.  Ed25519 signatures are deterministic,
which keeps published bundles byte-identical from one build to the next.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from ..errors import IntegrityError, UsageError

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ED25519_PUB_PREFIX = b"\xed\x01"  # multicodec ed25519-pub
SIGNING_KEY_HINT = "signing-key:ed25519"
# Hosts a site may be published on over plain HTTP (local testing); their did:web documents are
# resolved over HTTP too, the only departure from did:web's https-only resolution.
LOCAL_HTTP_HOSTS = ("127.0.0.1", "localhost")


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        idx = B58.find(ch)
        if idx < 0:
            raise ValueError("not base58")
        n = n * 58 + idx
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def multikey(public: bytes) -> str:
    return "z" + b58encode(ED25519_PUB_PREFIX + public)


def public_from_multikey(value: str) -> bytes:
    if not value.startswith("z"):
        raise ValueError("not a base58btc multibase value")
    raw = b58decode(value[1:])
    if not raw.startswith(ED25519_PUB_PREFIX) or len(raw) != 34:
        raise ValueError("not an Ed25519 multikey")
    return raw[2:]


def did_web(base_url: str) -> str:
    """``https://example.org/~jana/`` -> ``did:web:example.org:~jana`` (port colons %3A-encoded)."""
    parts = urlsplit(base_url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOCAL_HTTP_HOSTS):
        raise UsageError("publish.base_url must be an https:// URL for did:web", hint="set publish.base_url in vault.yaml")
    host = parts.netloc.replace(":", "%3A")
    path = [p for p in parts.path.split("/") if p]
    return ":".join(["did:web", host, *path])


def jcs(obj: Any) -> bytes:
    import rfc8785

    return rfc8785.dumps(obj)


CRYPTOSUITE = "eddsa-jcs-2022"
_XSD_DATETIME = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")


def _proof_config(options: dict) -> bytes:
    """The spec's "Proof Configuration": the canonical proof options (``@context`` included)."""
    if options.get("type") != "DataIntegrityProof" or options.get("cryptosuite") != CRYPTOSUITE:
        raise IntegrityError(f"not a DataIntegrityProof with cryptosuite {CRYPTOSUITE}")
    created = options.get("created")
    if created is not None and not (isinstance(created, str) and _XSD_DATETIME.fullmatch(created)):
        raise IntegrityError(f"proof.created is not an XML Schema dateTime: {created!r}")
    return jcs(options)


def hash_data(document: dict, options: dict) -> bytes:
    """The spec's "Hashing": SHA-256(canonical proof config) || SHA-256(JCS(document))."""
    return hashlib.sha256(_proof_config(options)).digest() + hashlib.sha256(jcs(document)).digest()


def sign(document: dict, private_key, verification_method: str, created: str, purpose: str = "assertionMethod") -> dict:
    """Return ``document`` with an eddsa-jcs-2022 DataIntegrityProof added ("Create Proof").

    The proof carries the document's ``@context``, as the cryptosuite specifies: it is part of what
    is signed, so a verifier that rebuilds the proof configuration from the proof gets the same bytes.
    """
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    proof: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": purpose,
    }
    if "@context" in unsecured:
        proof["@context"] = unsecured["@context"]
    signature = private_key.sign(hash_data(unsecured, proof))
    proof["proofValue"] = "z" + b58encode(signature)
    return dict(unsecured, proof=proof)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def verify(document: dict, public_key: bytes) -> None:
    """Raise IntegrityError unless ``document`` carries a valid eddsa-jcs-2022 proof by ``public_key``
    ("Verify Proof": the proof's ``@context``, when present, must be a prefix of the document's and
    replaces it for hashing; without one, the proof options are hashed as they stand)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    proof = document.get("proof")
    if not isinstance(proof, dict) or proof.get("cryptosuite") != CRYPTOSUITE or proof.get("type") != "DataIntegrityProof":
        raise IntegrityError(f"no {CRYPTOSUITE} DataIntegrityProof")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise IntegrityError("proofValue is not base58btc multibase")
    try:
        signature = b58decode(value[1:])
    except ValueError:
        raise IntegrityError("proofValue is not base58btc multibase") from None
    if len(signature) != 64:
        raise IntegrityError("proofValue is not a 64-byte Ed25519 signature")
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in options:
        wanted = _as_list(options["@context"])
        if _as_list(unsecured.get("@context"))[:len(wanted)] != wanted:
            raise IntegrityError("the document's @context does not start with the proof's @context")
        unsecured["@context"] = options["@context"]
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, hash_data(unsecured, options))
    except (InvalidSignature, ValueError):
        raise IntegrityError("signature does not verify") from None


def load_or_create_key(vault):
    """The vault's Ed25519 signing key (created and stored encrypted on first use).

    Creating it writes an object and a catalog hint, so the caller holds the exclusive lock.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    keys = vault.keys or vault.unlock()
    cat = vault.catalog()
    oid = cat.hint(SIGNING_KEY_HINT)
    if oid:
        raw = vault.objects.read_bytes(oid, keys.identity, keys.writer_key)
        return Ed25519PrivateKey.from_private_bytes(raw)
    from cryptography.hazmat.primitives import serialization

    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    res = vault.objects.put_bytes(raw, keys.writer_key, vault.recipients)
    if res.new and res.cipher_sha256:
        vault.checksums.add(vault.objects.relpath(res.object_id), res.cipher_sha256)
    cat.stage({"op": "hint", "k": SIGNING_KEY_HINT, "v": res.object_id})
    vault.commit()
    return key


def public_bytes(private_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
