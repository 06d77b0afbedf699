"""`vault publish --to netlify:SITE_ID` against a fake Netlify API that follows the documented flow."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from tests.support.fake_netlify import FakeNetlify
from tests.support.publish_fixtures import bundle_bytes, configure, site_vault, upload_rank  # noqa: F401  (site_vault is a fixture)
from vault.errors import ExitCode, RemoteError, UsageError

TOKEN = "nfp_TestTokenZebra5521quokka"
SITE = "3970e0fe-8564-4903-9a55-c5f8de49fb8b"
SPEC = f"netlify:{SITE}"


@pytest.fixture
def netlify(monkeypatch):
    from exporters.targets.netlify import NetlifyTarget

    monkeypatch.setattr(NetlifyTarget, "deploy_timeout", 20.0)  # a stuck deploy fails the test fast
    fake = FakeNetlify(TOKEN, SITE, page_size=10).start()
    monkeypatch.setenv("NETLIFY_API_URL", fake.url)
    monkeypatch.setenv("NETLIFY_AUTH_TOKEN", TOKEN)
    try:
        yield fake
    finally:
        fake.stop()


def publish(env, out: Path, *args):
    return env.run("publish", "--out", out, "--to", SPEC, "--json", *args)


def test_first_deploy_uploads_everything_in_order_then_nothing(site_vault, netlify, tmp_path):
    out = tmp_path / "site"
    res = publish(site_vault, out)
    assert res.code == 0, res.err
    local = bundle_bytes(out)
    assert netlify.live_files() == local
    deploy = res.json()["deploy"]
    assert deploy["state"] == "ready" and deploy["url"] == "https://jana.netlify.app" and deploy["deploy_url"].startswith("https://")
    # Every path whose digest was required, once each: assets, then pages, then the manifest.
    assert sorted(netlify.uploads) == sorted(local) and deploy["uploaded"] == len(local)
    assert [upload_rank(p) for p in netlify.uploads] == sorted(upload_rank(p) for p in netlify.uploads)
    assert netlify.uploads[-1] == "manifest.json"
    assert set(netlify.digests[0]) == {f"/{p}" for p in local}
    assert netlify.digests[0]["/index.html"] == hashlib.sha1(local["index.html"]).hexdigest()
    # The deploy record: public file facts only, no credential, no spec.
    from exporters.targets.deploy_state import record_path

    record = record_path(SPEC).read_text()
    assert '"sha256"' in record and TOKEN not in record and SITE not in record

    # Same bundle again: the record and the live listing agree, so nothing is sent at all.
    seen = len(netlify.log)
    again = publish(site_vault, out)
    assert again.code == 0, again.err
    assert again.json()["plan"] == {"added": [], "changed": [], "deleted": []} and "deploy" not in again.json()
    new = netlify.log[seen:]
    assert new and all(m == "GET" and p.endswith("/files") for m, p, _ in new)
    assert len(new) == -(-len(local) // 10)  # the listing was followed over every page


def test_private_post_is_omitted_and_the_full_map_is_always_sent(site_vault, netlify, tmp_path):
    out = tmp_path / "site"
    assert publish(site_vault, out).code == 0
    rid = site_vault.records("--kind", "post", "--visibility", "public", "--limit", "1")[0]["id"]
    assert site_vault.run("mark", rid, "--private").code == 0
    page = f"posts/{rid}/index.html"

    seen = len(netlify.log)
    dry = publish(site_vault, out, "--dry-run")
    assert dry.code == 0, dry.err
    plan = dry.json()["plan"]
    assert plan["deleted"] == [page] and plan["changed"]
    assert not [e for e in netlify.log[seen:] if e[0] != "GET"]  # a dry run changes nothing

    uploads_before = len(netlify.uploads)
    res = publish(site_vault, out)
    assert res.code == 0, res.err
    local = bundle_bytes(out)
    assert page not in local
    # The digest lists every file (Netlify drops whatever it omits), and the page is gone.
    assert set(netlify.digests[-1]) == {f"/{p}" for p in local}
    assert netlify.live_files() == local
    assert set(netlify.uploads[uploads_before:]) == set(plan["added"] + plan["changed"])


def test_wrong_token_fails_with_the_hosts_message_and_never_prints_it(site_vault, netlify, tmp_path, monkeypatch):
    wrong = "nfp_WrongTokenOkapi7731xyz"
    monkeypatch.setenv("NETLIFY_AUTH_TOKEN", wrong)
    for extra in ((), ("--dry-run",)):
        res = site_vault.run("publish", "--out", tmp_path / "site", "--to", SPEC, *extra)
        assert res.code == ExitCode.UNEXPECTED
        assert "Access Denied: Invalid token" in res.err and "401" in res.err
        assert wrong not in res.out + res.err and TOKEN not in res.out + res.err
    res = site_vault.run("--json", "publish", "--out", tmp_path / "site", "--to", SPEC)
    assert res.code == ExitCode.UNEXPECTED and wrong not in res.out + res.err
    assert not netlify.mutating()


def test_missing_token_is_a_usage_error_before_the_build(site_vault, netlify, tmp_path, monkeypatch):
    monkeypatch.delenv("NETLIFY_AUTH_TOKEN")
    res = site_vault.run("publish", "--to", SPEC)
    assert res.code == ExitCode.USAGE and "NETLIFY_AUTH_TOKEN" in res.err and not netlify.log


def small_bundle(tmp_path: Path, content: dict[str, bytes]) -> tuple[Path, dict[str, str]]:
    site = tmp_path / "b"
    site.mkdir()
    for name, data in content.items():
        (site / name).write_bytes(data)
    return site, {n: hashlib.sha256(d).hexdigest() for n, d in content.items()}


def test_rate_limited_upload_is_retried_after_the_hosts_delay(netlify, tmp_path):
    from exporters.targets.netlify import NetlifyTarget

    site, files = small_bundle(tmp_path, {"index.html": b"<p>hi</p>", "a.css": b"p{}", "empty.txt": b""})
    target = NetlifyTarget.open(SITE, {})
    netlify.rate_limit(1, retry_after="1", method="PUT")
    started = time.monotonic()
    result = target.apply(site, target.plan(files))
    assert time.monotonic() - started >= 1.0
    assert result["state"] == "ready" and netlify.live_files() == {n: (site / n).read_bytes() for n in files}
    assert [s for m, _, s in netlify.log if m == "PUT"] == [429, 200, 200, 200]  # the retry sent the body again


def test_rate_limit_retries_are_bounded(netlify):
    from exporters.targets import host_api
    from vault.keys.secret import Secret

    netlify.rate_limit(50, retry_after="0")
    client = host_api.HostClient("Netlify", netlify.url, Secret(TOKEN))
    with pytest.raises(RemoteError) as err:
        client.request("GET", f"/api/v1/sites/{SITE}/files", what="listing")
    assert "429" in err.value.message and "rate limit" in err.value.message
    assert len(netlify.log) == host_api.MAX_ATTEMPTS


def test_refused_character_in_a_path_is_reported_before_any_request(site_vault, netlify, tmp_path):
    configure(site_vault, """  monetization:
    lightning_address: "tips#1@jana.example.org"
    lnurlp: {tag: payRequest, callback: "https://ln.example/cb", minSendable: 1000, maxSendable: 100000, metadata: "[]"}
""")
    res = site_vault.run("publish", "--out", tmp_path / "site", "--to", SPEC)
    assert res.code == ExitCode.USAGE
    assert ".well-known/lnurlp/tips#1" in res.err and "Netlify refuses" in res.err
    assert netlify.log == []


def test_failed_deploy_keeps_the_old_site_and_is_retried(site_vault, netlify, tmp_path):
    out = tmp_path / "site"
    assert publish(site_vault, out).code == 0
    before = netlify.live_files()
    rid = site_vault.records("--kind", "post", "--visibility", "public", "--limit", "1")[0]["id"]
    assert site_vault.run("mark", rid, "--private").code == 0
    netlify.fail_processing = "Build exceeded the size limit of this plan"
    res = site_vault.run("publish", "--out", out, "--to", SPEC)
    assert res.code == ExitCode.UNEXPECTED and "Build exceeded the size limit of this plan" in res.err
    assert netlify.live_files() == before  # atomic: still the previous deploy
    # Nothing was recorded, so the next run deploys again and succeeds.
    res = publish(site_vault, out)
    assert res.code == 0, res.err
    assert res.json()["deploy"]["state"] == "ready"
    assert netlify.live_files() == bundle_bytes(out)


def test_deploy_that_never_gets_ready_times_out(netlify, tmp_path, monkeypatch):
    from exporters.targets.netlify import NetlifyTarget

    site, files = small_bundle(tmp_path, {"index.html": b"<p>hi</p>"})
    target = NetlifyTarget.open(SITE, {})
    monkeypatch.setattr(NetlifyTarget, "deploy_timeout", 0.3)
    monkeypatch.setattr(netlify, "_get_deploy", lambda deploy_id: (200, dict(netlify._deploy_json(netlify.deploys[deploy_id]), state="processing"), {}))
    with pytest.raises(RemoteError) as err:
        target.apply(site, target.plan(files))
    assert "processing" in err.value.message and "previous deploy" in (err.value.hint or "")
    assert netlify.live == {}
    assert ("POST", f"/api/v1/deploys/{next(iter(netlify.deploys))}/cancel", 201) in netlify.log


def test_target_refuses_bad_specs_and_hides_the_token(netlify):
    from exporters.targets.netlify import NetlifyTarget

    with pytest.raises(UsageError):
        NetlifyTarget.open("", {})
    with pytest.raises(UsageError):
        NetlifyTarget.open("a/b", {})
    target = NetlifyTarget.open(SITE, {})
    assert TOKEN not in repr(target) and TOKEN not in repr(vars(target)) and TOKEN not in repr(vars(target.client))


class _MemoryKeyring:
    """An in-memory keyring backend (the real one is never touched by tests)."""

    def __init__(self, entries: dict, fail: bool = False) -> None:
        import keyring.backend

        class Backend(keyring.backend.KeyringBackend):
            priority = 1

            def get_password(self, service, username):
                if fail:
                    raise keyring.errors.KeyringLocked("locked")
                return entries.get((service, username))

            def set_password(self, service, username, password):
                entries[(service, username)] = password

            def delete_password(self, service, username):
                entries.pop((service, username), None)

        self.backend = Backend()


@pytest.mark.parametrize("entries, fail, expected", [
    ({("vault", f"netlify:{SITE}"): "from-keyring-site", ("vault", "netlify"): "from-keyring-any"}, False, "from-keyring-site"),
    ({("vault", "netlify"): "from-keyring-any"}, False, "from-keyring-any"),
    ({}, False, "from-env"),
    ({("vault", "netlify"): "from-keyring-any"}, True, "from-env"),  # a locked keyring is skipped
])
def test_token_comes_from_the_keyring_first_then_the_environment(monkeypatch, entries, fail, expected):
    import keyring

    from exporters.targets.host_api import find_token

    monkeypatch.delenv("VAULT_NO_KEYRING")
    monkeypatch.setenv("NETLIFY_AUTH_TOKEN", "from-env")
    previous = keyring.get_keyring()
    keyring.set_keyring(_MemoryKeyring(entries, fail).backend)
    try:
        token = find_token([f"netlify:{SITE}", "netlify"], "NETLIFY_AUTH_TOKEN")
    finally:
        keyring.set_keyring(previous)
    assert token is not None and token.reveal() == expected and expected not in repr(token)


def test_a_netrc_entry_never_replaces_the_token(netlify, monkeypatch, tmp_path):
    from exporters.targets.host_api import HostClient
    from vault.keys.secret import Secret

    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = HostClient("Netlify", netlify.url, Secret(TOKEN))
    assert client.request("GET", f"/api/v1/sites/{SITE}/files", what="listing").status_code == 200
