"""`vault verify` anchors trust where did:web puts it: the DID document comes from the DID's own
origin (or where --resolve points its host), never from the copy under test."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

from tests.support.claims_fixtures import publish, reputation_vault
from tests.support.env import VaultEnv
from vault.errors import ExitCode, UsageError
from vault.publish.verify import parse_did_web, parse_resolve


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path, host: str = "127.0.0.1"):
    """Serve ``folder`` over plain HTTP on ``host``; yields the base URL."""
    server = http.server.ThreadingHTTPServer((host, 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def second_address() -> str:
    """Another loopback address when the system routes 127.0.0.0/8 (Linux does), else the same one."""
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.2", 0))
            return "127.0.0.2"
        except OSError:
            return "127.0.0.1"


class OtherVault(VaultEnv):
    """A second vault, addressed with --vault (VAULT_DIR names the first one)."""

    def run(self, *args):
        return super().run("--vault", self.path, *args)


def publish_pair(env, template_vault, tmp_path: Path, base_url: str, genuine: Path, impostor: Path) -> None:
    """Jana's bundle into ``genuine``, and an impostor's into ``impostor``: another vault with the
    same base_url and ratings, and a signing key of its own."""
    reputation_vault(env, base_url=base_url)
    publish(env, genuine)
    other = OtherVault(tmp_path / "other-vault", env.identity_file, env.passphrase_file, env.capsys)
    shutil.copytree(template_vault[0], other.path)
    reputation_vault(other, base_url=base_url)
    publish(other, impostor)


@pytest.fixture
def genuine_and_impostor(vault_env, template_vault, tmp_path):
    publish_pair(vault_env, template_vault, tmp_path, "https://jana.example.org/", tmp_path / "genuine", tmp_path / "impostor")
    return vault_env, tmp_path / "genuine", tmp_path / "impostor"


def test_impostor_with_the_same_base_url_fails_with_exit_13_and_the_genuine_site_passes(genuine_and_impostor):
    env, genuine, impostor = genuine_and_impostor
    genuine_did = json.loads((genuine / ".well-known/did.json").read_text())
    impostor_did = json.loads((impostor / ".well-known/did.json").read_text())
    assert genuine_did["id"] == impostor_did["id"] == "did:web:jana.example.org"
    assert genuine_did["verificationMethod"] != impostor_did["verificationMethod"]

    with serve(genuine) as jana, serve(impostor, second_address()) as fake:
        res = env.run("verify", jana, "--resolve", f"jana.example.org={jana}", "--json")
        assert res.code == 0, res.out
        report = res.json()
        assert report["ok"] and report["key_checked"] and report["did_document"] == jana + ".well-known/did.json"
        assert report["warnings"] == [] and all(c["ok"] for c in report["credentials"]) and len(report["credentials"]) == 2

        res = env.run("verify", fake, "--resolve", f"jana.example.org={jana}")
        assert res.code == ExitCode.INTEGRITY
        assert "signed by another key than did:web:jana.example.org publishes at " + jana in res.out
        assert "not issued by jana.example.org" in res.err
        # Its own DID document is what it serves, but that is not where the DID points.
        res = env.run("verify", fake, "--resolve", f"jana.example.org={fake}")
        assert res.code == 0

        # A folder is checked against its own did.json unless told where the host resolves, and says so.
        res = env.run("verify", impostor)
        assert res.code == 0 and "NOT checked against jana.example.org" in res.err and "--resolve" in res.err
        assert env.run("verify", impostor, "--json").json()["key_checked"] is False
        res = env.run("verify", impostor, "--resolve", f"jana.example.org={jana}")
        assert res.code == ExitCode.INTEGRITY and "not issued by jana.example.org" in res.out
        res = env.run("verify", genuine, "--resolve", f"jana.example.org={jana}", "--json")
        assert res.code == 0 and res.json()["key_checked"] is True




@pytest.mark.parametrize("did, url", [
    ("did:web:jana.example.org", "https://jana.example.org/.well-known/did.json"),
    ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
    ("did:web:example.com%3A3000:user:alice", "https://example.com:3000/user/alice/did.json"),
    ("did:web:Example.COM%3A8443", "https://example.com:8443/.well-known/did.json"),
    # A site published on loopback for testing (base_url http://127.0.0.1:PORT/) is served over HTTP.
    ("did:web:127.0.0.1%3A8000", "http://127.0.0.1:8000/.well-known/did.json"),
    ("did:web:localhost%3A8000:jana", "http://localhost:8000/jana/did.json"),
])
def test_did_web_resolves_as_the_method_specifies(did, url):
    assert parse_did_web(did).document_url() == url


@pytest.mark.parametrize("did", ["did:key:z6Mk", "did:web:", "did:web:evil.org%2Fpath", "did:web:a.org:..:b",
                                 "did:web:a.org::b", "did:web:user@a.org", "did:web:a.org:x%2Fy"])
def test_malformed_did_web_is_refused(did):
    with pytest.raises(UsageError):
        parse_did_web(did)


def test_resolve_option_parsing():
    assert parse_resolve(["Jana.example.org=http://127.0.0.1:8000", "h:8443=https://m.example/x/"]) == {
        "jana.example.org": "http://127.0.0.1:8000/", "h:8443": "https://m.example/x/"}
    for bad in ["jana.example.org", "jana.example.org=ftp://x/", "=http://x/", "a b=http://x/"]:
        with pytest.raises(UsageError, match="HOST=URL"):
            parse_resolve([bad])


def test_bad_resolve_is_a_usage_error(vault_env, tmp_path):
    res = vault_env.run("verify", tmp_path, "--resolve", "jana.example.org")
    assert res.code == ExitCode.USAGE and "--resolve wants HOST=URL" in res.err and "hint:" in res.err


def test_port_and_path_of_the_did_are_resolved_over_loopback(vault_env, tmp_path):
    """base_url http://127.0.0.1:PORT/jana/ gives did:web:127.0.0.1%3APORT:jana, whose document is
    PORT/jana/did.json; --resolve points that host (with its port) at plain HTTP."""
    root = tmp_path / "www"
    (root / "jana").mkdir(parents=True)
    with serve(root) as url:
        port = url.rsplit(":", 1)[1].rstrip("/")
        reputation_vault(vault_env, base_url=f"{url}jana/")
        publish(vault_env, root / "jana")
        assert (root / "jana/did.json").exists() and not (root / "jana/.well-known").exists()
        res = vault_env.run("verify", f"{url}jana/", "--resolve", f"127.0.0.1:{port}={url}", "--json")
        assert res.code == 0, res.out
        assert res.json()["did"] == f"did:web:127.0.0.1%3A{port}:jana"
        assert res.json()["did_document"] == f"{url}jana/did.json" and res.json()["key_checked"]
        # Where the host resolves must serve the DID document: a server without it proves nothing.
        with serve(tmp_path) as empty:
            res = vault_env.run("verify", root / "jana", "--resolve", f"127.0.0.1:{port}={empty}")
            assert res.code == ExitCode.INTEGRITY and f"{empty}jana/did.json is missing" in res.out


def test_a_changed_did_document_in_the_copy_is_named(genuine_and_impostor, tmp_path):
    """The genuine bundle's did.json swapped for another key (manifest untouched) fails twice over."""
    env, genuine, impostor = genuine_and_impostor
    tampered = tmp_path / "tampered"
    shutil.copytree(genuine, tampered)
    shutil.copyfile(impostor / ".well-known/did.json", tampered / ".well-known/did.json")
    with serve(genuine) as jana:
        res = env.run("verify", tampered, "--resolve", f"jana.example.org={jana}", "--json")
    problems = res.json()["problems"]
    assert res.code == ExitCode.INTEGRITY
    assert ".well-known/did.json: content differs from the signed manifest" in problems
    assert any(p.startswith(".well-known/did.json: lists other keys than") for p in problems)
    # Checked against its own copy only, the same folder fails on its signature instead.
    res = env.run("verify", tampered)
    assert res.code == ExitCode.INTEGRITY and "signature does not verify" in res.out


def test_an_unreachable_did_host_fails_closed_and_names_resolve(vault_env, tmp_path):
    import socket

    reputation_vault(vault_env)
    out = tmp_path / "site"
    publish(vault_env, out)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/"
    res = vault_env.run("verify", out, "--resolve", f"jana.example.org={closed}")
    assert res.code == ExitCode.INTEGRITY  # fail closed: nothing is vouched for without the key
    assert "the key of did:web:jana.example.org could not be checked: cannot fetch" in res.out
    assert f"{closed}.well-known/did.json" in res.out and "hint: the key of" in res.err
    assert "--resolve jana.example.org=URL" in res.err


def test_a_proof_for_another_purpose_is_refused(vault_env, tmp_path):
    """A signature made for authentication is no assertion, even by the right key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from exporters.site import claims
    from vault.publish import signing

    reputation_vault(vault_env)
    out = tmp_path / "site"
    publish(vault_env, out)
    key = Ed25519PrivateKey.generate()
    did = "did:web:jana.example.org"
    (out / ".well-known/did.json").write_bytes(claims.dumps(claims.did_document(did, signing.public_bytes(key))))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][".well-known/did.json"] = hashlib.sha256((out / ".well-known/did.json").read_bytes()).hexdigest()
    resigned = signing.sign(manifest, key, f"{did}#key-1", manifest["created"], purpose="authentication")
    (out / "manifest.json").write_bytes(claims.dumps(resigned))
    res = vault_env.run("verify", out)
    assert res.code == ExitCode.INTEGRITY and "purpose is 'authentication', not assertionMethod" in res.out
    (out / "manifest.json").write_bytes(claims.dumps(signing.sign(manifest, key, f"{did}#key-1", manifest["created"])))
    res = vault_env.run("verify", out, "--json")  # now only the credentials, signed by the old key, fail
    assert res.code == ExitCode.INTEGRITY
    assert res.json()["problems"] == ["credentials/ebay.json: signature does not verify", "credentials/etsy.json: signature does not verify"]


def test_a_loopback_site_resolves_its_did_over_http_without_resolve(vault_env, template_vault, tmp_path):
    """A site published with base_url http://127.0.0.1:PORT/ (local testing) resolves its DID there,
    over plain HTTP: the impostor, same base_url, served from another address, fails."""
    genuine, impostor = tmp_path / "genuine", tmp_path / "impostor"
    genuine.mkdir()
    impostor.mkdir()
    with serve(genuine) as jana, serve(impostor, second_address()) as fake:
        publish_pair(vault_env, template_vault, tmp_path, jana, genuine, impostor)
        res = vault_env.run("verify", jana, "--json")
        assert res.code == 0 and res.json()["key_checked"] and res.json()["did_document"] == jana + ".well-known/did.json"
        res = vault_env.run("verify", fake)
        assert res.code == ExitCode.INTEGRITY and "signed by another key" in res.out


def test_an_unused_resolve_is_reported(genuine_and_impostor):
    env, genuine, _ = genuine_and_impostor
    res = env.run("verify", genuine, "--resolve", "bob.example.org=http://127.0.0.1:9/", "--json")
    assert res.code == 0
    assert "--resolve bob.example.org=... is not used: the bundle's issuer is did:web:jana.example.org" in res.json()["warnings"][0]
