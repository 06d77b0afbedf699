"""The published claims checked by outside judges: the reference JavaScript Data Integrity verifier
(@digitalbazaar/vc with the eddsa-jcs-2022 cryptosuite) and JSON-LD expansion in safe mode.

The npm packages (pinned in tests/interop/package-lock.json) are installed from the npm registry
into the pytest cache on first use.  Without npm the tests are skipped, except under CI=true.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from exporters.site import claims
from tests.support.claims_fixtures import publish, reputation_vault, signed_documents
from tests.support.env import TESTS

INTEROP = TESTS / "interop"
# Read at import, before the autouse fixture points HOME at a temporary folder.
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


@pytest.fixture(scope="session")
def reference_verifier(pytestconfig) -> Path:
    """A folder holding verify.mjs next to its installed node_modules."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs node and npm for the reference verifier; .ci/run installs them")
        pytest.skip("node/npm are not installed (apt-get install nodejs npm): the reference verifier cannot run")
    lock = (INTEROP / "package-lock.json").read_bytes()
    cache = getattr(pytestconfig, "cache", None)  # None under -p no:cacheprovider
    home = cache.mkdir("vault-reference-verifier") if cache else USER_CACHE / "vault-tests" / "reference-verifier"
    where = home / hashlib.sha256(lock + (INTEROP / "package.json").read_bytes()).hexdigest()[:16]
    if not (where / "node_modules" / ".package-lock.json").exists():
        where.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(INTEROP / name, where / name)
        env = dict(os.environ, npm_config_cache=str(home / "npm-cache"), npm_config_update_notifier="false",
                   npm_config_fund="false", npm_config_audit="false")
        proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=where, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"npm ci failed:\n{proc.stderr}"
    shutil.copyfile(INTEROP / "verify.mjs", where / "verify.mjs")
    return where


def run_checks(verifier: Path, bundle: Path, site_url: str, checks: list[dict], tmp_path: Path) -> dict[str, dict]:
    """Run the checks in one node process; the DID document and context come from ``bundle``."""
    did = json.loads((bundle / ".well-known/did.json").read_text())["id"]
    job = {"contexts": {claims.context_url(site_url): str(bundle / claims.CONTEXT_PATH)},
           "dids": {did: str(bundle / ".well-known/did.json")}, "checks": checks}
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(job))
    proc = subprocess.run(["node", str(verifier / "verify.mjs"), str(job_file)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {r["name"]: r for r in json.loads(proc.stdout)}


def changed_copy(path: Path, change, dest: Path) -> Path:
    doc = json.loads(path.read_text())
    change(doc)
    dest.write_text(json.dumps(doc, indent=2))
    return dest


@pytest.fixture
def bundle(vault_env, tmp_path) -> Path:
    reputation_vault(vault_env)
    out = tmp_path / "site"
    publish(vault_env, out)
    return out


def test_reference_verifier_accepts_every_credential_and_the_manifest_and_rejects_one_changed_field(
        reference_verifier, bundle, tmp_path):
    docs = signed_documents(bundle)
    assert {"credentials/ebay.json", "credentials/etsy.json", "manifest.json"} <= set(docs)
    checks = []
    for rel, path in docs.items():
        kind = "signed" if rel == "manifest.json" else "credential"
        checks.append({"name": rel, "kind": kind, "path": str(path)})
        if kind == "credential":
            def bump(doc):
                doc["credentialSubject"]["ratingsReceived"]["positive"] += 1
        else:
            def bump(doc):
                doc["files"]["index.html"] = "0" * 64
        tampered = changed_copy(path, bump, tmp_path / (rel.replace("/", "_") + ".changed.json"))
        checks.append({"name": "changed " + rel, "kind": kind, "path": str(tampered)})
    results = run_checks(reference_verifier, bundle, "https://jana.example.org/", checks, tmp_path)
    for rel in docs:
        assert results[rel]["verified"], f"{rel}: {results[rel]['error']}"
        assert not results["changed " + rel]["verified"], f"changed {rel} was accepted"
        assert "signature" in (results["changed " + rel]["error"] or "").lower()


def test_every_term_is_defined_json_ld_safe_mode(reference_verifier, bundle, tmp_path):
    """Expansion in safe mode fails on an undefined term or a relative IRI; the negative control
    shows the check would see one."""
    docs = dict(signed_documents(bundle), **{rel: bundle / rel for rel in (".well-known/did.json", "credentials/index.json")})
    checks = [{"name": rel, "kind": "expand", "path": str(path)} for rel, path in docs.items()]
    cred = json.loads((bundle / "credentials/ebay.json").read_text())
    assert cred["evidence"][0]["type"] == "RatingPageCapture"  # the captured page is covered too

    def undefined(doc):
        doc["credentialSubject"]["trustMe"] = True
    checks.append({"name": "control", "kind": "expand",
                   "path": str(changed_copy(bundle / "credentials/ebay.json", undefined, tmp_path / "control.json"))})
    results = run_checks(reference_verifier, bundle, "https://jana.example.org/", checks, tmp_path)
    for rel in docs:
        assert results[rel]["verified"], f"{rel} does not expand in safe mode: {results[rel]['error']}"
    assert not results["control"]["verified"] and "trustMe" in results["control"]["error"]


def test_the_context_is_protected_with_absolute_type_iris(bundle):
    ctx = json.loads((bundle / claims.CONTEXT_PATH).read_text())["@context"]
    assert ctx["@protected"] is True
    vocab = ctx["vault"]
    assert vocab == "https://jana.example.org/" + claims.CONTEXT_PATH + "#"
    for name in ("MarketplaceReputationCredential", "SignedBundleManifest", "RatingPageCapture", "CredentialIndex"):
        term = ctx[name]
        iri = term if isinstance(term, str) else term["@id"]
        assert iri == "vault:" + name
    cred = json.loads((bundle / "credentials/etsy.json").read_text())
    manifest = json.loads((bundle / "manifest.json").read_text())
    for doc in (cred, manifest):
        assert doc["@context"] == [claims.VC_CONTEXT, "https://jana.example.org/" + claims.CONTEXT_PATH]
        assert doc["proof"]["@context"] == doc["@context"]
    assert claims.CONTEXT_PATH in manifest["files"]
