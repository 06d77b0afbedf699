"""eddsa-jcs-2022 against the W3C test vector: every intermediate value, byte for byte."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.support.env import DATA
from vault.errors import IntegrityError
from vault.publish import signing

VECTORS = DATA / "vectors" / "eddsa-jcs-2022"
ED25519_PRIV_PREFIX = b"\x80\x26"  # multicodec ed25519-priv (0x1300, varint)


def text(name: str) -> str:
    return (VECTORS / name).read_text(encoding="utf-8").strip()


def load(name: str):
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def key():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pair = load("keyPair.json")
    raw = signing.b58decode(pair["privateKeyMultibase"][1:])
    assert raw[:2] == ED25519_PRIV_PREFIX and len(raw) == 34
    private = Ed25519PrivateKey.from_private_bytes(raw[2:])
    assert signing.multikey(signing.public_bytes(private)) == pair["publicKeyMultibase"]
    return private


def test_intermediate_values_match_the_vector():
    unsigned = load("unsigned.json")
    config = load("proofConfigJCS.json")
    assert signing.jcs(unsigned).decode() == text("canonDocJCS.txt")
    assert hashlib.sha256(signing.jcs(unsigned)).hexdigest() == text("docHashJCS.txt")
    assert signing.jcs(config).decode() == text("proofCanonJCS.txt")
    assert hashlib.sha256(signing.jcs(config)).hexdigest() == text("proofHashJCS.txt")
    assert signing.hash_data(unsigned, config).hex() == text("combinedHashJCS.txt")


def test_signing_the_input_reproduces_the_signed_vector_byte_for_byte(key):
    unsigned = load("unsigned.json")
    config = load("proofConfigJCS.json")
    signed = signing.sign(unsigned, key, config["verificationMethod"], config["created"], config["proofPurpose"])
    proof_value = signed["proof"]["proofValue"]
    assert signing.b58decode(proof_value[1:]).hex() == text("sigHexJCS.txt")
    assert proof_value == text("sigBTC58JCS.txt")
    # The published file is the signed document with two-space indentation, in this key order.
    expected = (VECTORS / "signedJCS.json").read_text(encoding="utf-8")
    assert json.dumps(signed, indent=2, ensure_ascii=False) == expected.rstrip("\n")
    assert signed == load("signedJCS.json")


def test_the_signed_vector_verifies_and_any_change_is_refused(key):
    public = signing.public_from_multikey(load("keyPair.json")["publicKeyMultibase"])
    signed = load("signedJCS.json")
    signing.verify(signed, public)
    changed = json.loads(json.dumps(signed))
    changed["credentialSubject"]["alumniOf"] = "The School of Counterexamples"
    with pytest.raises(IntegrityError, match="does not verify"):
        signing.verify(changed, public)
    # The proof's @context is signed too, and must be a prefix of the document's.
    dropped = json.loads(json.dumps(signed))
    del dropped["proof"]["@context"]
    with pytest.raises(IntegrityError, match="does not verify"):
        signing.verify(dropped, public)
    swapped = json.loads(json.dumps(signed))
    swapped["@context"] = list(reversed(swapped["@context"]))
    with pytest.raises(IntegrityError, match="does not start with"):
        signing.verify(swapped, public)
    bad_date = json.loads(json.dumps(signed))
    bad_date["proof"]["created"] = "yesterday"
    with pytest.raises(IntegrityError, match="dateTime"):
        signing.verify(bad_date, public)
