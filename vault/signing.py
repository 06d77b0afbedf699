"""Verifiable claims: the Ed25519 signing key, did:web, and eddsa-jcs-2022 Data Integrity proofs.

The signing key lives in the vault as an encrypted object (found through a catalog hint), created on
first use.  Proofs follow the W3C Data Integrity EdDSA cryptosuite ``eddsa-jcs-2022``:
``hashData = SHA-256(JCS(proofConfig)) || SHA-256(JCS(document without proof))``, signed with
Ed25519; ``proofValue`` is base58btc multibase (``z...``).  Ed25519 signatures are deterministic,
which keeps published bundles byte-identical from one build to the next.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from .errors import IntegrityError, UsageError

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ED25519_PUB_PREFIX = b"\xed\x01"  # multicodec ed25519-pub
SIGNING_KEY_HINT = "signing-key:ed25519"


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
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")):
        raise UsageError("publish.base_url must be an https:// URL for did:web", hint="set publish.base_url in vault.yaml")
    host = parts.netloc.replace(":", "%3A")
    path = [p for p in parts.path.split("/") if p]
    return ":".join(["did:web", host, *path])


def jcs(obj: Any) -> bytes:
    import rfc8785

    return rfc8785.dumps(obj)


def _hash_data(document: dict, proof_config: dict) -> bytes:
    return hashlib.sha256(jcs(proof_config)).digest() + hashlib.sha256(jcs(document)).digest()


def sign(document: dict, private_key, verification_method: str, created: str, purpose: str = "assertionMethod") -> dict:
    """Return ``document`` with an eddsa-jcs-2022 DataIntegrityProof added."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": purpose,
    }
    if "@context" in unsecured:
        config["@context"] = unsecured["@context"]
    signature = private_key.sign(_hash_data(unsecured, config))
    proof = {k: v for k, v in config.items() if k != "@context"}
    proof["proofValue"] = "z" + b58encode(signature)
    return dict(unsecured, proof=proof)


def verify(document: dict, public_key: bytes) -> None:
    """Raise IntegrityError unless ``document`` carries a valid eddsa-jcs-2022 proof by ``public_key``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    proof = document.get("proof")
    if not isinstance(proof, dict) or proof.get("cryptosuite") != "eddsa-jcs-2022" or proof.get("type") != "DataIntegrityProof":
        raise IntegrityError("no eddsa-jcs-2022 DataIntegrityProof")
    value = str(proof.get("proofValue", ""))
    if not value.startswith("z"):
        raise IntegrityError("proofValue is not base58btc multibase")
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in unsecured:
        config["@context"] = unsecured["@context"]
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(b58decode(value[1:]), _hash_data(unsecured, config))
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
