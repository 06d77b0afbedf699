"""One conformance suite run over every registered importer.

Every importer, however it reads its source, must keep the same promises to the pipeline:

- it recognises its own sample export and scores 0 ("not mine") on every other importer's sample;
  the ``files`` importer is the documented fallback, so on another source's export it may score,
  but always below the importer that owns the export;
- a truncated member of its own export becomes a skipped item with a reason (exit 3), never an
  exception or a traceback, and the rest of the export is still imported;
- importing the same export again adds nothing;
- every imported record carries provenance: the importer's name, the export's sha256 and the
  member path it came from.

Importers are loaded through the plugin registry, the way the import pipeline loads them, so a new
entry point in ``vault.importers`` is picked up here; a registered importer without a sample below
fails ``test_every_registered_importer_has_a_sample`` until one is added.
"""

from __future__ import annotations

import hashlib
import posixpath
import zipfile
from pathlib import Path
from typing import Callable

import pytest

from tests.support.builders import jpeg, write_zip
from tests.support.market_fixtures import Fb, csv_bytes, etsy_json, etsy_review
from tests.support.meta_fixtures import fb_export, ig_export
from tests.support.social_fixtures import b_records, build_repo, li_export, m_export, x_export
from vault import plugins
from vault.errors import ExitCode
from vault.importing.archive import ExportSource


def _ebay() -> dict[str, bytes]:
    return {
        "Feedback/Feedback_Received.csv": csv_bytes([Fb("1001"), Fb("1002", comment="fast shipping")]),
        "Feedback/Feedback_Left.csv": csv_bytes([Fb("2001", role="Buyer", user="shopkeeper", comment="Great seller")],
                                                left=True),
    }


def _etsy() -> dict[str, bytes]:
    return {
        "etsy_reviews_mugshop_1.json": etsy_json([etsy_review(i, 5, f"lovely mug {i}") for i in range(1, 4)], count=5),
        "etsy_reviews_mugshop_2.json": etsy_json([etsy_review(i, 4, f"nice mug {i}") for i in range(4, 6)], count=5),
    }


def _files() -> dict[str, bytes]:
    return {f"DCIM/IMG_{i:04d}.jpg": jpeg((i * 40, 90, 200 - i * 30), (6, 4), taken=f"2023:05:0{i + 1} 10:00:00")
            for i in range(4)}


# name -> (builder of {member: bytes}, the member the truncation case cuts in half)
SAMPLES: dict[str, tuple[Callable[[], dict[str, bytes]], str]] = {
    "facebook": (lambda: fb_export("2024"), "your_facebook_activity/posts/album/0.json"),
    "instagram": (lambda: ig_export(), "your_instagram_activity/media/posts_1.json"),
    "x": (lambda: x_export(wrapped=False), "data/tweets-part1.js"),
    "mastodon": (lambda: m_export(), "outbox.json"),
    "linkedin": (lambda: li_export(), "Shares.csv"),
    "bluesky": (lambda: {"repo.car": build_repo(b_records()).car}, "repo.car"),
    "ebay": (_ebay, "Feedback/Feedback_Left.csv"),
    "etsy": (_etsy, "etsy_reviews_mugshop_2.json"),
    "files": (_files, "DCIM/IMG_0002.jpg"),
}

# Samples where the truncated member is the only data file, so nothing else can be imported.
ONLY_DATA_FILE = {"bluesky", "mastodon"}  # repo.car holds everything; media are reached only from outbox.json

# Real bugs found by this suite; the case is xfail(strict=True) until the importer is fixed.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _importers() -> dict:
    return plugins.importers.load_all()


def _case(check: str, name: str):
    reason = KNOWN_BUGS.get((check, name))
    return pytest.param(name, id=name, marks=pytest.mark.xfail(strict=True, reason=reason) if reason else ())


def _cases(check: str) -> list:
    return [_case(check, name) for name in sorted(SAMPLES)]


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("conformance-samples")
    return {name: write_zip(base / f"{name}-export.zip", build()) for name, (build, _) in SAMPLES.items()}


def _zip_with_cut_member(path: Path, files: dict[str, bytes], member: str) -> Path:
    """A stored (uncompressed) zip whose ``member`` has its second half zeroed: the CRC no longer matches."""
    write_zip(path, files, compression=zipfile.ZIP_STORED)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    half = info.compress_size // 2
    raw[start + half:start + info.compress_size] = bytes(info.compress_size - half)
    path.write_bytes(bytes(raw))
    return path


def _score(importer, export: Path) -> int:
    with ExportSource([export]) as src:
        return importer.recognize(src)


def test_every_registered_importer_has_a_sample():
    assert set(_importers()) == set(SAMPLES), "add a sample export for each new importer to SAMPLES"


@pytest.mark.parametrize("name", _cases("recognise"))
def test_recognises_its_own_export_and_no_other(name, samples):
    importers = _importers()
    mine = importers[name]
    assert _score(mine, samples[name]) > 0, f"{name} does not recognise its own sample"
    for other, export in samples.items():
        if other == name:
            continue
        score = _score(mine, export)
        if name == "files":
            # The fallback for a plain folder of media: it may bid, but must lose to the owner.
            assert score < _score(importers[other], export), f"files outbids {other} on {other}'s export"
        else:
            assert score == 0, f"{name} scores {score} on the {other} export"


@pytest.mark.parametrize("name", _cases("truncated"))
def test_truncated_member_is_a_skipped_item_not_a_crash(name, vault_env, tmp_path):
    build, member = SAMPLES[name]
    files = build()
    if name == "files":
        # The files importer keeps media bytes as they are (a cut JPEG is still the user's file),
        # so its truncated member is one the archive cannot deliver whole: data cut inside the zip.
        export = _zip_with_cut_member(tmp_path / "files-truncated.zip", files, member)
    else:
        files[member] = files[member][: len(files[member]) // 2]
        export = write_zip(tmp_path / f"{name}-truncated.zip", files)
    res = vault_env.run("import", export, "--source", name, "--json")
    assert "Traceback" not in res.err, res.err
    assert res.code == ExitCode.PARTIAL, (res.code, res.err)
    report = res.json()
    assert report["skipped"], report
    assert all(s.get("reason") for s in report["skipped"]), report["skipped"]
    assert any(posixpath.basename(member) in s.get("path", "") for s in report["skipped"]), report["skipped"]
    if name not in ONLY_DATA_FILE:
        assert sum(report["added"].values()) > 0, "the intact members must still be imported"
    # Run again for people: the same skip is reported again (nothing was half-committed), in words.
    plain = vault_env.run("import", export, "--source", name)
    assert plain.code == ExitCode.PARTIAL and "Traceback" not in plain.err, plain.err
    assert "skipped:" in plain.out + plain.err and posixpath.basename(member) in plain.out + plain.err


# name -> the main data member whose bytes inside the zip are damaged (CRC mismatch when read)
MAIN_MEMBER = {
    "facebook": "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json",
    "instagram": "your_instagram_activity/media/posts_1.json",
    "x": "data/tweets-part1.js",
    "mastodon": "outbox.json",
    "linkedin": "Shares.csv",
    "bluesky": "repo.car",
    "ebay": "Feedback/Feedback_Left.csv",
    "etsy": "etsy_reviews_mugshop_2.json",
    "files": "DCIM/IMG_0002.jpg",
}


@pytest.mark.parametrize("name", _cases("damaged"))
def test_damaged_member_data_is_a_skipped_item_not_a_crash(name, vault_env, tmp_path):
    """The archive cannot deliver a member whole (its stored bytes fail their CRC): that member is
    a skipped item with a reason, exit 3, never an "unexpected error"."""
    build, _ = SAMPLES[name]
    files = build()
    member = MAIN_MEMBER[name]
    assert member in files, sorted(files)
    export = _zip_with_cut_member(tmp_path / f"{name}-damaged.zip", files, member)
    res = vault_env.run("import", export, "--source", name, "--json")
    assert "Traceback" not in res.err and "unexpected" not in res.err, res.err
    assert res.code == ExitCode.PARTIAL, (res.code, res.err)
    skipped = res.json()["skipped"]
    assert any(posixpath.basename(member) in s.get("path", "") and s.get("reason") for s in skipped), skipped


@pytest.mark.parametrize("name", _cases("reimport"))
def test_reimport_adds_nothing(name, vault_env, samples):
    first = vault_env.run("import", samples[name], "--json")
    assert first.code in (ExitCode.OK, ExitCode.PARTIAL), first.err
    assert first.json()["source"] == name
    added = sum(first.json()["added"].values())
    assert added > 0
    before = len(vault_env.records())
    again = vault_env.run("import", samples[name], "--json")
    assert again.code == first.code, again.err
    rep = again.json()
    assert sum(rep["added"].values()) == 0, rep
    assert sum(rep["unchanged"].values()) + sum(rep["updated"].values()) > 0, rep
    assert len(vault_env.records()) == before


@pytest.mark.parametrize("name", _cases("provenance"))
def test_records_carry_provenance(name, vault_env, samples):
    export = samples[name]
    res = vault_env.run("import", export, "--json")
    assert res.code in (ExitCode.OK, ExitCode.PARTIAL), res.err
    sha = hashlib.sha256(export.read_bytes()).hexdigest()
    with zipfile.ZipFile(export) as zf:
        members = set(zf.namelist())
    records = vault_env.records("--source", name)
    assert records
    for rec in records:
        prov = rec["provenance"]
        assert prov["importer"] == name, prov
        assert prov["export_sha256"] == sha, prov
        # Member paths are relative to the export's root (a lone wrapper folder is not part of them).
        assert any(m == prov["member"] or m.endswith("/" + prov["member"]) for m in members), prov
