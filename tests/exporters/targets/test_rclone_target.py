"""`vault publish --to rclone:REMOTE:PATH` against real rclone servers on 127.0.0.1 (S3 with signed
requests, SFTP with a password), configured only through RCLONE_CONFIG_* variables."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.publish_fixtures import site_vault  # noqa: F401  (a fixture)
from tests.support.rclone_servers import S3_SECRET_KEY, rclone_isolation, requires_rclone, s3_server, sftp_server  # noqa: F401  (fixtures)
from vault.errors import ExitCode, RemoteError

pytestmark = [requires_rclone, pytest.mark.usefixtures("rclone_isolation")]


@dataclass
class Remote:
    kind: str
    spec: str     # what `vault publish --to` is given
    disk: Path    # where the server keeps the files


def _remote(request, kind: str, monkeypatch) -> Remote:
    server = request.getfixturevalue(f"{kind}_server")
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)
    name = f"site{uuid.uuid4().hex[:8]}"
    path = f"bucket/{name}" if kind == "s3" else name
    return Remote(kind, server.spec(path), server.local(path))


@pytest.fixture(params=["s3", "sftp"])
def remote(request, monkeypatch) -> Remote:
    return _remote(request, request.param, monkeypatch)


@pytest.fixture
def s3(request, monkeypatch) -> Remote:
    return _remote(request, "s3", monkeypatch)


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def publish(env, out: Path, spec: str, *args):
    return env.run("publish", "--out", out, "--to", spec, "--json", *args)


def download(spec: str, into: Path) -> Path:
    from vault.rclone import Rclone, local_path_arg, remote_of

    Rclone.locate().run(["copy", remote_of(spec), local_path_arg(into)], what="downloading the site")
    return into


def test_deploy_then_nothing_then_only_the_private_page_goes(remote, site_vault, tmp_path):
    out = tmp_path / "site"
    res = publish(site_vault, out, remote.spec)
    assert res.code == 0, res.err
    assert files_of(remote.disk) == files_of(out)
    assert res.json()["deploy"]["uploaded"] == len(files_of(out))

    again = publish(site_vault, out, remote.spec)
    assert again.code == 0, again.err
    assert again.json()["plan"] == {"added": [], "changed": [], "deleted": []} and "deploy" not in again.json()

    rid = site_vault.records("--kind", "post", "--visibility", "public", "--limit", "1")[0]["id"]
    assert site_vault.run("mark", rid, "--private").code == 0
    page = f"posts/{rid}/index.html"
    dry = publish(site_vault, out, remote.spec, "--dry-run")
    assert dry.code == 0, dry.err
    assert dry.json()["plan"]["deleted"] == [page] and (remote.disk / page).exists()  # a dry run changes nothing

    res = publish(site_vault, out, remote.spec)
    assert res.code == 0, res.err
    assert res.json()["deploy"]["deleted"] == 1
    assert files_of(remote.disk) == files_of(out) and not (remote.disk / "posts" / rid).exists()
    # The deployed copy, fetched back over the protocol, verifies against its signed manifest.
    copy = download(remote.spec, tmp_path / "copy")
    assert site_vault.run("verify", copy).code == 0


def test_s3_objects_get_content_types_and_uploads_come_in_order(s3, site_vault, tmp_path, monkeypatch):
    from vault.rclone import Rclone

    out = tmp_path / "site"
    assert publish(site_vault, out, s3.spec).code == 0
    _, listing = Rclone.locate().run(["lsjson", "-R", "--files-only", s3.spec.removeprefix("rclone:")], what="listing")
    types = {e["Path"]: e["MimeType"] for e in json.loads(listing)}  # from signed HEAD requests
    assert types["index.html"].startswith("text/html")
    assert types["robots.txt"].startswith("text/plain")
    assert types["style.css"].startswith("text/css")
    assert types["feed.json"] == "application/json"
    assert all(t == "image/jpeg" for p, t in types.items() if p.endswith(".jpg"))

    rid = site_vault.records("--kind", "post", "--visibility", "public", "--limit", "1")[0]["id"]
    assert site_vault.run("mark", rid, "--private").code == 0
    calls: list[tuple[str, list[str]]] = []
    real_run = Rclone.run

    def recording(self, args, **kw):
        calls.append((args[0], list(kw.get("stdin_lines") or [])))
        return real_run(self, args, **kw)

    monkeypatch.setattr(Rclone, "run", recording)
    res = publish(site_vault, out, s3.spec)
    assert res.code == 0, res.err
    verbs = [v for v, _ in calls]
    assert verbs[0] == "lsjson" and verbs[-2:] == ["delete", "rmdirs"]
    uploads = [lines for v, lines in calls if v == "copy"]
    ranks = [2 if p == "manifest.json" else 1 if p.endswith(".html") else 0 for lines in uploads for p in lines]
    assert ranks == sorted(ranks) and uploads[-1] == ["manifest.json"]
    assert calls[-2][1] == [f"posts/{rid}/index.html"]


def test_failed_upload_deletes_nothing_and_the_next_run_finishes(s3, site_vault, tmp_path, monkeypatch):
    from exporters.targets.rclone import RcloneTarget

    out = tmp_path / "site"
    assert publish(site_vault, out, s3.spec).code == 0
    rid = site_vault.records("--kind", "post", "--visibility", "public", "--limit", "1")[0]["id"]
    assert site_vault.run("mark", rid, "--private").code == 0
    real_copy = RcloneTarget._copy

    def failing(self, build_dir, paths, ctype):
        if any(p.endswith(".html") for p in paths):
            raise RemoteError("rclone failed uploading (exit 1): connection reset")
        return real_copy(self, build_dir, paths, ctype)

    monkeypatch.setattr(RcloneTarget, "_copy", failing)
    res = site_vault.run("publish", "--out", out, "--to", s3.spec)
    assert res.code == ExitCode.UNEXPECTED and "connection reset" in res.err
    assert (s3.disk / f"posts/{rid}/index.html").exists()  # deletions come last: none happened
    monkeypatch.setattr(RcloneTarget, "_copy", real_copy)
    res = publish(site_vault, out, s3.spec)
    assert res.code == 0, res.err
    assert files_of(s3.disk) == files_of(out)


def test_wrong_s3_secret_fails_with_rclones_message_and_no_secret(s3, site_vault, tmp_path, monkeypatch):
    wrong = "wrong-secret-value-Yak8812"
    monkeypatch.setenv("RCLONE_CONFIG_TESTS3_SECRET_ACCESS_KEY", wrong)
    res = site_vault.run("publish", "--out", tmp_path / "site", "--to", s3.spec)
    assert res.code == ExitCode.UNEXPECTED and "rclone failed" in res.err and "SignatureDoesNotMatch" in res.err
    assert wrong not in res.out + res.err and S3_SECRET_KEY not in res.out + res.err


def test_remote_folder_with_other_files_is_refused(s3, site_vault, tmp_path):
    from vault.rclone import Rclone, local_path_arg

    (tmp_path / "holiday.jpg").write_bytes(b"not ours")
    Rclone.locate().run(["copyto", local_path_arg(tmp_path / "holiday.jpg"), s3.spec.removeprefix("rclone:") + "/holiday.jpg"], what="seeding")
    res = site_vault.run("publish", "--out", tmp_path / "site", "--to", s3.spec)
    assert res.code == ExitCode.USAGE and "holiday.jpg" in res.err and "no published bundle" in res.err
    assert files_of(s3.disk) == {"holiday.jpg": b"not ours"}


def test_content_types_are_fixed_per_extension():
    from exporters.targets.rclone import content_type

    assert content_type("index.html") == "text/html; charset=utf-8"
    assert content_type(".well-known/lnurlp/jana") == "application/json"
    assert content_type("media/x.mp4") == "video/mp4"
    assert content_type("premium/p.age") == "application/octet-stream"


def test_credentials_in_the_spec_are_warned_about_and_never_shown():
    from exporters.targets.rclone import RcloneTarget

    context: dict = {"warnings": []}
    target = RcloneTarget.open(":s3,provider=Other,access_key_id=AK,secret_access_key=Sup3rSecretQ:bucket/site", context)
    assert any("holds credentials" in w for w in context["warnings"])
    assert "Sup3rSecretQ" not in repr(target) and "Sup3rSecretQ" not in target.display
