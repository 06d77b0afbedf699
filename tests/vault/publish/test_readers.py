"""`vault readers add | list | remove`: premium posts are encrypted to the current readers only;
keys and passphrases stay inside the vault (never in vault.yaml, the bundle or the argv)."""

from __future__ import annotations

import json
import subprocess

import pyrage
import pytest

from tests.support.env import requires_age
from tests.support.post_fixtures import inject, post
from vault import crypto
from vault.errors import ExitCode

SECRET_PASS = "Passcanary horse battery 4417"


@pytest.fixture(autouse=True)
def _cheap_scrypt(monkeypatch):
    monkeypatch.setattr(crypto, "KEY_FILE_LOG_N", 10)


@pytest.fixture
def premium_vault(vault_env):
    inject(vault_env.path, [post("p1", 3, "Premiumcanary text for readers only")])
    (vault_env.path / "vault.yaml").write_text("publish:\n  title: Readers\n  base_url: https://r.example.org/\n")
    rid = vault_env.records()[0]["id"]
    assert vault_env.run("mark", rid, "--premium").code == 0
    return vault_env, rid


def _all_bytes(root) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _publish(env, out) -> dict:
    res = env.run("--json", "publish", "--out", out)
    assert res.code == 0, res.err
    return res.json()


@requires_age
def test_key_reader_added_listed_removed(premium_vault, tmp_path):
    env, rid = premium_vault
    ident, recipient = crypto.generate_identity()
    key = tmp_path / "reader.txt"
    key.write_text(ident + "\n")
    res = env.run("readers", "add", "anastasia-reader", recipient)
    assert res.code == 0, res.err
    listed = env.run("--json", "readers", "list").json()["readers"]
    assert [(r["name"], r["kind"], r["recipient"]) for r in listed] == [("anastasia-reader", "key", recipient)]
    assert recipient not in (env.path / "vault.yaml").read_text()
    assert b"anastasia-reader" not in _all_bytes(env.path / "objects") and recipient.encode() not in _all_bytes(env.path)

    out = tmp_path / "site"
    assert _publish(env, out)["build"]["published"]["premium"] == 1
    age_file = out / "premium" / f"{rid}.age"
    plain = subprocess.run(["age", "-d", "-i", str(key), str(age_file)], capture_output=True, check=True).stdout
    assert json.loads(plain)["text"] == "Premiumcanary text for readers only"
    assert b"anastasia-reader" not in _all_bytes(out) and (out / "premium.js").exists() and (out / "vendor" / "age-encryption.min.js").exists()
    assert json.loads((out / "premium" / "keys" / "index.json").read_text()) == {"key_files": []}
    page = (out / "posts" / rid / "index.html").read_text()
    assert 'src="../../premium.js"' in page and 'id="premium-unlock"' in page
    assert "<script src" not in (out / "index.html").read_text()  # only premium pages load scripts

    res = env.run("readers", "remove", "anastasia-reader")
    assert res.code == 0 and "stay readable to them" in res.err
    assert env.run("--json", "readers", "list").json()["readers"] == []
    # With no reader left, nobody could open the post: it is left out, and says how to fix it.
    result = _publish(env, out)
    assert result["build"]["published"]["premium"] == 0 and not age_file.exists()
    assert any("vault readers add" in w for w in result["build"]["warnings"])


def test_passphrase_reader_opens_a_key_file_and_rotation(premium_vault, tmp_path):
    env, rid = premium_vault
    pfile = tmp_path / "pass.txt"
    pfile.write_text(SECRET_PASS + "\n")
    other = tmp_path / "other.txt"
    other.write_text("Second reader passphrase\n")
    assert env.run("readers", "add", "ben@example.org", "--passphrase-file", pfile).code == 0
    assert env.run("readers", "add", "cleo", "--passphrase-file", other).code == 0
    listed = env.run("--json", "readers", "list").json()["readers"]
    assert [(r["name"], r["kind"], r["recipient"]) for r in listed] == [("ben@example.org", "passphrase", None), ("cleo", "passphrase", None)]

    out = tmp_path / "site"
    _publish(env, out)
    names = json.loads((out / "premium" / "keys" / "index.json").read_text())["key_files"]
    assert len(names) == 2 and all(len(n) == 36 for n in names)
    assert env.run("check").code == 0  # the reader list is an ordinary checksummed object

    def identity_for(passphrase: str) -> str | None:
        for n in json.loads((out / "premium" / "keys" / "index.json").read_text())["key_files"]:
            try:
                return pyrage.passphrase.decrypt((out / "premium" / "keys" / n).read_bytes(), passphrase).decode().strip()
            except pyrage.DecryptError:
                continue
        return None

    site_key = identity_for(SECRET_PASS)
    assert site_key and site_key.startswith("AGE-SECRET-KEY-1")
    post_file = out / "premium" / f"{rid}.age"
    assert b"Premiumcanary" in pyrage.decrypt(post_file.read_bytes(), [pyrage.x25519.Identity.from_str(site_key)])
    # No secret or reader name anywhere in the bundle, vault.yaml or the vault's files.
    for blob in (_all_bytes(out), _all_bytes(env.path)):
        for word in (SECRET_PASS.encode(), b"ben@example.org", site_key.encode()):
            assert word not in blob

    res = env.run("readers", "remove", "ben@example.org")
    assert res.code == 0 and "stay readable" in res.err
    _publish(env, out)
    assert identity_for(SECRET_PASS) is None  # the removed reader's key file is gone
    new_key = identity_for("Second reader passphrase")
    assert new_key and new_key != site_key  # the site key was rotated
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(post_file.read_bytes(), [pyrage.x25519.Identity.from_str(site_key)])
    assert b"Premiumcanary" in pyrage.decrypt(post_file.read_bytes(), [pyrage.x25519.Identity.from_str(new_key)])


def test_readers_bad_input(premium_vault, tmp_path):
    env, _ = premium_vault
    _, recipient = crypto.generate_identity()
    assert env.run("readers", "add", "ana", "age1notakey").code == ExitCode.USAGE
    # A passphrase is never taken from the command line: an extra word is refused.
    res = env.run("readers", "add", "ben", "--passphrase", SECRET_PASS)
    assert res.code == ExitCode.USAGE and SECRET_PASS not in res.err
    assert env.run("readers", "add", "ben").code == ExitCode.USAGE
    # No terminal to ask on: a clear key error, nothing added.
    res = env.run("readers", "add", "ben", "--passphrase")
    assert res.code == ExitCode.KEY_UNAVAILABLE and "--passphrase-file" in res.err
    assert env.run("readers", "add", "ana", recipient).code == 0
    res = env.run("readers", "add", "ana", recipient)
    assert res.code == ExitCode.USAGE and "already a reader named" in res.err
    assert env.run("readers", "add", "ana2", recipient).code == ExitCode.USAGE
    res = env.run("readers", "remove", "nobody")
    assert res.code == ExitCode.USAGE and "no reader named" in res.err
    assert env.run("readers", "add", "bad\x07name", recipient).code == ExitCode.USAGE
    assert [r["name"] for r in env.run("--json", "readers", "list").json()["readers"]] == ["ana"]


def test_legacy_passphrase_env_still_opens_posts(premium_vault, tmp_path, monkeypatch):
    env, rid = premium_vault
    (env.path / "vault.yaml").write_text("publish:\n  title: Readers\n  base_url: https://r.example.org/\n"
                                         "  premium:\n    passphrase_env: SUPPORTERS_PASS\n")
    monkeypatch.setenv("SUPPORTERS_PASS", SECRET_PASS)
    out = tmp_path / "site"
    result = _publish(env, out)
    assert result["build"]["published"]["premium"] == 1
    assert any("vault readers add" in w and "passphrase_env" in w for w in result["build"]["warnings"])
    [name] = json.loads((out / "premium" / "keys" / "index.json").read_text())["key_files"]
    site_key = pyrage.passphrase.decrypt((out / "premium" / "keys" / name).read_bytes(), SECRET_PASS).decode().strip()
    assert b"Premiumcanary" in pyrage.decrypt((out / "premium" / f"{rid}.age").read_bytes(), [pyrage.x25519.Identity.from_str(site_key)])
    before = {p.name: p.read_bytes() for p in (out / "premium").rglob("*") if p.is_file()}
    _publish(env, out)
    assert {p.name: p.read_bytes() for p in (out / "premium").rglob("*") if p.is_file()} == before  # byte-identical rebuild
