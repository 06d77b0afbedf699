"""The vendored age-encryption browser bundle is what its pinned sources build: npm installs the
versions in exporters/site/static/vendor/build/package-lock.json, esbuild bundles them, and the
result must equal the committed file byte for byte.  Skipped without npm, except under CI=true."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support.env import REPO

VENDOR = REPO / "exporters" / "site" / "static" / "vendor"


def test_vendor_files_are_shipped_together():
    assert (VENDOR / "age-encryption.min.js").stat().st_size > 10_000
    licence = (VENDOR / "LICENSE").read_text()
    assert "Redistribution and use in source and binary forms" in licence and "age-encryption 0.3.1" in licence and "@noble/hashes" in licence
    assert "age-encryption 0.3.1" in (VENDOR / "README.md").read_text()
    assert '"age-encryption": "0.3.1"' in (VENDOR / "build" / "package.json").read_text()


def test_bundle_rebuilds_byte_identical(tmp_path):
    npm = shutil.which("npm")
    if not (npm and shutil.which("node")):
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs node and npm to rebuild the age-encryption bundle; .ci/run installs them")
        pytest.skip("node/npm are not installed: the vendored bundle cannot be rebuilt here")
    work = tmp_path / "build"
    shutil.copytree(VENDOR / "build", work, ignore=shutil.ignore_patterns("node_modules", "*.min.js"))
    env = dict(os.environ, npm_config_cache=str(tmp_path / "npm-cache"), npm_config_update_notifier="false",
               npm_config_fund="false", npm_config_audit="false")
    proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and os.environ.get("CI") != "true" and "ENOTFOUND" in proc.stderr + proc.stdout:
        pytest.skip("the npm registry is not reachable here")
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = subprocess.run([npm, "run", "--silent", "build"], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (work / "age-encryption.min.js").read_bytes() == (VENDOR / "age-encryption.min.js").read_bytes()
