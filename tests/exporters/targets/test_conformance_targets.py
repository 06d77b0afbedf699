"""One conformance suite run over every publish target, as restic runs one over its backends.

Each target (``dir``, ``git`` to a local bare repository, ``netlify`` and ``neocities`` against the
fakes in this folder, ``rclone`` to ``rclone serve s3`` on 127.0.0.1) is driven through the target
contract of :mod:`vault.publish.deploy` (``open`` -> ``plan`` -> ``apply``), exactly as ``vault publish``
drives it, and must keep the same promises:

- the first deploy uploads every file; planning the same bundle again finds nothing to do;
- deletions come after uploads: a deploy that fails while uploading has deleted nothing;
- planning (what ``vault publish --dry-run`` does) changes nothing on the target;
- a failed deploy keeps the previous deploy record, so the next run plans (and retries) it all;
- no credential value is ever printed, not even with ``--verbose`` on a failure.

A case is a small adapter: how to open the target, read what it serves, make its next uploads
fail, and which secret must never appear.  Adding a target means adding a case here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from tests.support.fake_neocities import FakeNeocities
from tests.support.fake_netlify import FakeNetlify
from tests.support.publish_fixtures import configure
from tests.support.rclone_servers import S3_ACCESS_KEY, S3_SECRET_KEY, _stop, rclone_exe, start_s3
from vault import plugins
from vault.errors import ExitCode, VaultError
from vault.publish.deploy import Plan, open_target

NETLIFY_TOKEN = "nfp_ConformanceTokenOkapi7741"
NETLIFY_SITE = "0f9c2d5e-1b7a-4c3e-9d8f-6a5b4c3d2e1f"
NEOCITIES_KEY = "neoConformanceKeyAxolotl9913"
WRONG_S3_SECRET = "rotated-secret-Pangolin3307"

# Two versions of a bundle: v2 changes a page, adds a file in a new folder and drops a page.
V1 = {
    "index.html": b"<!doctype html><title>Jana</title><p>v1</p>",
    "old.html": b"<!doctype html><title>Old</title><p>going away</p>",
    "style.css": b"body{color:#222}",
    "manifest.json": b'{"files": "v1"}',
}
V2 = {
    "index.html": b"<!doctype html><title>Jana</title><p>v2</p>",
    "style.css": b"body{color:#222}",
    "extra/new.css": b"p{margin:0}",
    "manifest.json": b'{"files": "v2"}',
}


@dataclass
class Case:
    name: str
    spec: str
    held: Callable[[], dict[str, bytes]]               # what the target serves now
    break_uploads: Callable[[], None]                   # make the next deploy fail while uploading
    heal: Callable[[], None] = lambda: None             # undo break_uploads
    mutations: Callable[[], list] | None = None         # ordered changing requests, where observable
    break_all: Callable[[], None] = lambda: None        # make every request to the target fail
    record_key: str | None = None                       # the deploy record's key, for targets that keep one
    secrets: tuple[str, ...] = ()
    extra: set[str] = field(default_factory=set)        # files a target adds of its own (.nojekyll)


def _tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not any(part in skip for part in p.relative_to(root).parts)}


def _git_tree(bare: Path, branch: str) -> dict[str, bytes]:
    listing = subprocess.run(["git", "-C", str(bare), "ls-tree", "-r", "--name-only", branch], capture_output=True, text=True)
    if listing.returncode != 0:
        return {}
    return {name: subprocess.run(["git", "-C", str(bare), "show", f"{branch}:{name}"], capture_output=True, check=True).stdout
            for name in listing.stdout.splitlines()}


def _block_with_file(path: Path) -> Callable[[], None]:
    """A regular file where the deploy must create the folder ``extra/``: the upload into it fails."""
    def block() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"in the way")
    return block


def _unlink(*paths: Path) -> None:
    """Remove the blocking file, whichever of ``paths`` it is."""
    for path in paths:
        if path.is_file():
            path.unlink()


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    if rclone_exe() is None:
        pytest.skip("rclone is not installed")
    server = start_s3(tmp_path_factory.mktemp("conformance-s3"))
    try:
        yield server
    finally:
        _stop(server.proc)


def _make_case(name: str, tmp_path: Path, monkeypatch, request) -> Case:
    if name == "dir":
        root = tmp_path / "www"
        return Case(name, f"dir:{root}", lambda: _tree(root), _block_with_file(root / "extra"),
                    heal=lambda: _unlink(root / "extra", root), break_all=_block_with_file(root))
    if name == "git":
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        bare = tmp_path / "site.git"
        subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
        hook = bare / "hooks" / "pre-receive"

        def block() -> None:
            hook.write_text("#!/bin/sh\necho 'push refused by the conformance test' >&2\nexit 1\n")
            hook.chmod(0o755)
        return Case(name, f"git:{bare}#pages", lambda: _git_tree(bare, "pages"), block, heal=hook.unlink,
                    extra={".nojekyll"}, break_all=block)
    if name == "netlify":
        from exporters.targets.netlify import NetlifyTarget

        monkeypatch.setattr(NetlifyTarget, "deploy_timeout", 20.0)
        fake = FakeNetlify(NETLIFY_TOKEN, NETLIFY_SITE).start()
        request.addfinalizer(fake.stop)
        monkeypatch.setenv("NETLIFY_API_URL", fake.url)
        monkeypatch.setenv("NETLIFY_AUTH_TOKEN", NETLIFY_TOKEN)
        return Case(name, f"netlify:{NETLIFY_SITE}", fake.live_files, lambda: fake.rate_limit(50, "0", method="PUT"),
                    heal=lambda: fake._rate_limits.clear(), mutations=fake.mutating, secrets=(NETLIFY_TOKEN,),
                    break_all=lambda: fake.rate_limit(1000, "0"), record_key=f"netlify:{NETLIFY_SITE}")
    if name == "neocities":
        fake = FakeNeocities(NEOCITIES_KEY, starter=False).start()
        request.addfinalizer(fake.stop)
        monkeypatch.setenv("NEOCITIES_API_URL", fake.url)
        monkeypatch.setenv("NEOCITIES_API_KEY", NEOCITIES_KEY)
        return Case(name, "neocities:", lambda: dict(fake.files), lambda: fake.rate_limit(50, "0", path="/api/upload"),
                    heal=lambda: fake._rate_limits.clear(), mutations=fake.mutating, secrets=(NEOCITIES_KEY,),
                    break_all=lambda: fake.rate_limit(1000, "0"), record_key=f"neocities:{fake.sitename}")
    if name == "rclone":
        server = request.getfixturevalue("s3")
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        path = f"bucket/{tmp_path.name}"
        root = server.local(path)
        secret_var = "RCLONE_CONFIG_TESTS3_SECRET_ACCESS_KEY"

        def heal() -> None:
            _unlink(root / "extra")
            monkeypatch.setenv(secret_var, S3_SECRET_KEY)
        # A rotated key: the server refuses every request, and the wrong key must not be printed either.
        return Case(name, server.spec(path), lambda: _tree(root), _block_with_file(root / "extra"), heal=heal,
                    secrets=(S3_SECRET_KEY, S3_ACCESS_KEY, WRONG_S3_SECRET), record_key=server.spec(path),
                    break_all=lambda: monkeypatch.setenv(secret_var, WRONG_S3_SECRET))
    raise AssertionError(f"no conformance case for target {name!r}")


TARGETS = sorted(plugins.BUILTIN_EXPORTERS)


# Real bugs found by this suite: (test, target) -> why; the case is xfail(strict=True) until fixed.
KNOWN_BUGS: dict[tuple[str, str], str] = {
}


@pytest.fixture(params=TARGETS)
def case(request, tmp_path, monkeypatch) -> Case:
    bug = KNOWN_BUGS.get((request.node.originalname, request.param))
    if bug:
        request.applymarker(pytest.mark.xfail(strict=True, reason=bug))
    return _make_case(request.param, tmp_path, monkeypatch, request)


def test_every_registered_target_has_a_case():
    assert set(plugins.exporters.load_all()) == set(TARGETS), "add a conformance case for each new target"


def _build(tmp_path: Path, files: dict[str, bytes], label: str) -> tuple[Path, dict[str, str]]:
    out = tmp_path / f"build-{label}"
    for rel, data in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    return out, {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}


def _deploy(case: Case, build_dir: Path, digests: dict[str, str]) -> Plan:
    """One ``vault publish`` run against the target: plan, then apply unless there is nothing to do."""
    target = open_target(case.spec, {"settings": None, "warnings": []})
    plan = target.plan(digests)
    if not plan.empty:
        target.apply(build_dir, plan)
    return plan


def _held(case: Case) -> dict[str, bytes]:
    return {p: b for p, b in case.held().items() if p not in case.extra}


def _record(case: Case) -> dict:
    from exporters.targets import deploy_state

    return deploy_state.load(case.record_key) if case.record_key else {}


def test_first_deploy_uploads_everything_and_a_rerun_nothing(case, tmp_path):
    build, digests = _build(tmp_path, V1, "v1")
    first = _deploy(case, build, digests)
    assert sorted(set(first.added) - case.extra) == sorted(V1) and not first.changed and not first.deleted
    assert _held(case) == V1
    seen = len(case.mutations()) if case.mutations else None
    again = _deploy(case, build, digests)
    assert again.empty, again.to_json()
    assert _held(case) == V1
    if case.mutations:
        assert len(case.mutations()) == seen, "a rerun of the same bundle changed the target"


def test_planning_changes_nothing_on_the_target(case, tmp_path):
    build, digests = _build(tmp_path, V1, "v1")
    _deploy(case, build, digests)
    before, record = _held(case), _record(case)
    seen = len(case.mutations()) if case.mutations else None
    _, digests2 = _build(tmp_path, V2, "v2")
    plan = open_target(case.spec, {"settings": None, "warnings": []}).plan(digests2)
    assert plan.deleted == ["old.html"] and "extra/new.css" in plan.added and "index.html" in plan.changed
    assert _held(case) == before and _record(case) == record
    if case.mutations:
        assert len(case.mutations()) == seen


def test_failed_deploy_deletes_nothing_keeps_the_record_and_is_retried(case, tmp_path):
    build1, digests1 = _build(tmp_path, V1, "v1")
    _deploy(case, build1, digests1)
    record = _record(case)
    build2, digests2 = _build(tmp_path, V2, "v2")
    case.break_uploads()
    with pytest.raises(VaultError):
        _deploy(case, build2, digests2)
    held = _held(case)
    assert held.get("old.html") == V1["old.html"], "a deletion ran before the uploads were done"
    assert held.get("manifest.json") == V1["manifest.json"], "the manifest went up before the files it lists"
    assert _record(case) == record, "a failed deploy replaced the deploy record"
    case.heal()
    mark = len(case.mutations()) if case.mutations else 0
    retry = _deploy(case, build2, digests2)
    assert "extra/new.css" in retry.added and retry.deleted == ["old.html"], retry.to_json()
    assert _held(case) == V2
    if case.mutations:
        # Uploads first, deletions last: no changing request after the first deletion uploads.
        log = [(m, p) for m, p, _ in case.mutations()[mark:]]
        deletes = [i for i, (m, p) in enumerate(log) if m == "DELETE" or p.endswith("/delete")]
        uploads = [i for i, (m, p) in enumerate(log) if m == "PUT" or p.endswith("/upload")]
        assert uploads and (not deletes or max(uploads) < min(deletes)), log
    assert _deploy(case, build2, digests2).empty


def test_failed_first_deploy_is_retried_in_full(case, tmp_path):
    build, digests = _build(tmp_path, V1, "v1")
    case.break_all()
    with pytest.raises(VaultError):
        _deploy(case, build, digests)
    assert _record(case) == {}
    case.heal()
    _deploy(case, build, digests)
    assert _held(case) == V1
    assert _deploy(case, build, digests).empty


def test_no_credential_is_printed(case, vault_env, tmp_path):
    """Through the real CLI, with --verbose: a failing deploy, a deploy, a rerun and a dry run."""
    out = tmp_path / "bundle"
    configure(vault_env)
    case.break_all()
    failed = vault_env.run("--verbose", "publish", "--out", out, "--to", case.spec, "--json")
    assert failed.code != ExitCode.OK, failed.err
    assert json.loads(failed.err.strip().splitlines()[-1])["error"], failed.err
    case.heal()
    runs = [failed]
    for extra in ((), ("--dry-run",)):
        res = vault_env.run("--verbose", "publish", "--out", out, "--to", case.spec, "--json", *extra)
        assert res.code == ExitCode.OK, res.err
        runs.append(res)
    for res in runs:
        for secret in case.secrets:
            assert secret not in res.out and secret not in res.err, f"{case.name} printed a credential"
