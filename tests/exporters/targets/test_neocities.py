"""`vault publish --to neocities:` against a fake Neocities API modelled on the host's own code."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from tests.support.fake_neocities import FakeNeocities
from tests.support.post_fixtures import inject, media_item, post
from tests.support.publish_fixtures import bundle_bytes, site_vault, upload_rank  # noqa: F401  (site_vault is a fixture)
from vault.errors import ExitCode

KEY = "6b1f0c2d9e8a4b7c0neoKEY5521d3f1"
SPEC = "neocities:jana"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(64))


@pytest.fixture
def neocities(monkeypatch):
    fake = FakeNeocities(KEY, "jana").start()
    monkeypatch.setenv("NEOCITIES_API_URL", fake.url)
    monkeypatch.setenv("NEOCITIES_API_KEY", KEY)
    try:
        yield fake
    finally:
        fake.stop()


def publish(env, out: Path, *args, spec: str = SPEC):
    return env.run("publish", "--out", out, "--to", spec, "--json", *args)


def test_first_deploy_uploads_in_order_deletes_last_then_sends_nothing(site_vault, neocities, tmp_path):
    out = tmp_path / "site"
    res = publish(site_vault, out)
    assert res.code == 0, res.err
    local = bundle_bytes(out)
    assert neocities.files == local  # the starter pages Neocities made are replaced or deleted
    names = neocities.uploaded()
    assert sorted(names) == sorted(local)
    assert [upload_rank(p) for p in names] == sorted(upload_rank(p) for p in names)
    assert neocities.upload_requests[-1] == ["manifest.json"]
    assert all(len({upload_rank(p) for p in req}) == 1 for req in neocities.upload_requests)  # a page never rides with assets
    posts = [i for i, (m, p, _) in enumerate(neocities.log) if m == "POST" and p == "/api/upload"]
    deletes = [i for i, (m, p, _) in enumerate(neocities.log) if p == "/api/delete"]
    assert neocities.delete_requests == [["neocities.png", "not_found.html"]] and deletes[0] > posts[-1]
    deploy = res.json()["deploy"]
    assert deploy["url"] == "https://jana.neocities.org/" and deploy["uploaded"] == len(local)

    seen = len(neocities.log)
    again = publish(site_vault, out)
    assert again.code == 0, again.err
    assert again.json()["plan"] == {"added": [], "changed": [], "deleted": []}
    assert [p for _, p, _ in neocities.log[seen:]] == ["/api/info", "/api/list"]


def test_private_post_deletes_exactly_its_page_and_dry_run_changes_nothing(site_vault, neocities, tmp_path):
    out = tmp_path / "site"
    assert publish(site_vault, out).code == 0
    rid = site_vault.records("--kind", "post", "--visibility", "public", "--limit", "1")[0]["id"]
    assert site_vault.run("mark", rid, "--private").code == 0
    page = f"posts/{rid}/index.html"

    seen, uploads = len(neocities.log), len(neocities.upload_requests)
    dry = publish(site_vault, out, "--dry-run")
    assert dry.code == 0, dry.err
    assert dry.json()["plan"]["deleted"] == [page]
    assert all(m == "GET" for m, _, _ in neocities.log[seen:]) and len(neocities.upload_requests) == uploads

    res = publish(site_vault, out)
    assert res.code == 0, res.err
    assert neocities.delete_requests[-1] == [page, f"posts/{rid}"]  # the page, then its emptied folder
    assert neocities.files == bundle_bytes(out) and f"posts/{rid}" not in neocities.dirs
    assert set(neocities.uploaded()[sum(map(len, neocities.upload_requests[:uploads])):]) == set(
        dry.json()["plan"]["changed"] + dry.json()["plan"]["added"])


def test_lost_record_costs_hash_checks_not_uploads(site_vault, neocities, tmp_path):
    from exporters.targets import deploy_state

    out = tmp_path / "site"
    assert publish(site_vault, out).code == 0
    deploy_state.forget(SPEC)
    uploads = len(neocities.upload_requests)
    res = publish(site_vault, out)
    assert res.code == 0, res.err
    assert len(res.json()["plan"]["changed"]) == len(bundle_bytes(out))  # unknown without the record...
    assert len(neocities.upload_requests) == uploads                # ...but upload_hash says identical
    assert res.json()["deploy"]["unchanged_on_host"] == len(bundle_bytes(out))
    assert ("POST", "/api/upload_hash", 200) in neocities.log


@pytest.fixture
def video_vault(site_vault):
    inject(site_vault.path, [media_item("clip.mp4", MP4, caption="A clip"), post("v1", 15, "A post with a clip", media_refs=["clip.mp4"])])
    assert site_vault.run("mark", "--source", "mastodon", "--public").code == 0
    return site_vault


def test_free_site_warns_then_skips_refused_types_and_retries_them(video_vault, neocities, tmp_path):
    out = tmp_path / "site"
    res = publish(video_vault, out)
    assert res.code == ExitCode.PARTIAL, res.err  # a refused file is a partial success
    deploy = res.json()["deploy"]
    clip = next(p for p in bundle_bytes(out) if p.endswith(".mp4"))
    assert deploy["skipped"] == [clip]
    assert any("refuse" in w and ".mp4" in w for w in deploy["warnings"])  # warned before uploading
    assert any("refuse" in w and ".mp4" in w for w in res.json()["warnings"])
    assert [clip] in neocities.upload_requests                             # tried on its own
    assert clip not in neocities.files and {p: b for p, b in bundle_bytes(out).items() if p != clip} == neocities.files
    # Not recorded as deployed: the next publish tries it again (a supporter site would take it).
    again = publish(video_vault, out)
    assert again.code == ExitCode.PARTIAL and again.json()["plan"]["added"] == [clip]
    assert neocities.upload_requests[-1] == [clip]


def test_supporter_site_takes_every_type(video_vault, neocities, tmp_path):
    neocities.supporter = True
    out = tmp_path / "site"
    res = publish(video_vault, out)
    assert res.code == 0, res.err
    assert res.json()["deploy"]["skipped"] == [] and neocities.files == bundle_bytes(out)


def test_wrong_key_fails_with_the_hosts_message_and_never_prints_it(site_vault, neocities, tmp_path, monkeypatch):
    wrong = "0000wrongNeoKEYpangolin4242"
    monkeypatch.setenv("NEOCITIES_API_KEY", wrong)
    res = site_vault.run("publish", "--out", tmp_path / "site", "--to", SPEC)
    assert res.code == ExitCode.UNEXPECTED
    assert "invalid credentials" in res.err and "403" in res.err
    assert wrong not in res.out + res.err and KEY not in res.out + res.err
    assert not neocities.mutating()


def test_rate_limited_upload_is_retried(site_vault, neocities, tmp_path):
    neocities.rate_limit(1, retry_after="1", path="/api/upload")
    started = time.monotonic()
    res = publish(site_vault, tmp_path / "site")
    assert res.code == 0, res.err
    assert time.monotonic() - started >= 1.0
    assert ("POST", "/api/upload", 429) in neocities.log and neocities.files == bundle_bytes(tmp_path / "site")


def test_site_with_hand_made_files_is_refused(site_vault, neocities, tmp_path):
    neocities.files["my-diary.html"] = b"<p>mine</p>"
    res = site_vault.run("publish", "--out", tmp_path / "site", "--to", SPEC)
    assert res.code == ExitCode.USAGE and "my-diary.html" in res.err and "did not publish" in res.err
    assert not neocities.mutating()


def test_key_for_another_site_is_refused(site_vault, neocities, tmp_path):
    res = site_vault.run("publish", "--out", tmp_path / "site", "--to", "neocities:someoneelse")
    assert res.code == ExitCode.USAGE and "'jana'" in res.err and not neocities.mutating()


def test_index_html_is_never_deleted(neocities, tmp_path):
    from exporters.targets.neocities import NeocitiesTarget

    site = tmp_path / "b"
    site.mkdir()
    content = {"about.html": b"<p>about</p>", "manifest.json": b"{}"}
    for name, data in content.items():
        (site / name).write_bytes(data)
    target = NeocitiesTarget.open("", {})
    plan = target.plan({n: hashlib.sha256(d).hexdigest() for n, d in content.items()})
    assert "index.html" not in plan.deleted and "not_found.html" in plan.deleted
    target.apply(site, plan)
    assert "index.html" in neocities.files and "index.html" not in sum(neocities.delete_requests, [])
    assert neocities.files["about.html"] == b"<p>about</p>"
    # The host itself refuses, and cancels the whole request.
    import requests

    answer = requests.post(f"{neocities.url}/api/delete", data={"filenames[]": ["about.html", "index.html"]},
                           headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error_type"] == "cannot_delete_index"
    assert "about.html" in neocities.files
