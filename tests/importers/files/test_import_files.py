"""The built-in `files` importer end to end: records, dedup, dry run, take-out, search, curation."""

from __future__ import annotations

import json
import os
import subprocess

from tests.support.builders import jpeg, png
from tests.support.env import requires_age
from tests.support.media_fixtures import camera_roll
from vault.errors import ExitCode


def _objects(vault_dir):
    return sorted(p for p in (vault_dir / "objects").rglob("*") if p.is_file())


def test_import_folder_creates_media_records(vault_env, tmp_path):
    roll = tmp_path / "roll"
    roll.mkdir()
    (roll / "beach.jpg").write_bytes(jpeg(taken="2023:07:14 18:30:00", offset="+02:00", size=(8, 6)))
    (roll / "shot.png").write_bytes(png(size=(7, 5)))
    (roll / "notes.txt").write_text("not media")
    res = vault_env.run("import", roll, "--json")
    assert res.code == 0, res.err
    rep = res.json()
    assert rep["source"] == "files"
    assert rep["added"] == {"post": 0, "media": 2, "rating": 0}
    assert rep["unchanged"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["skipped"] == [] and any("not photos or videos" in w for w in rep["warnings"])
    recs = {r["filename"]: r for r in vault_env.records()}
    beach = recs["beach.jpg"]
    assert beach["kind"] == "media" and beach["mime"] == "image/jpeg"
    assert (beach["width"], beach["height"]) == (8, 6)
    assert beach["taken_at"] == "2023-07-14T16:30:00Z"  # EXIF local time with its offset, to UTC
    assert beach["visibility"] == "private" and beach["tags"] == []
    assert beach["provenance"]["importer"] == "files" and beach["provenance"]["member"] == "beach.jpg"
    assert recs["shot.png"]["mime"] == "image/png" and recs["shot.png"]["size"] == len(png(size=(7, 5)))


def test_reimport_is_idempotent_and_reads_nothing_new(vault_env, tmp_path):
    roll = camera_roll(tmp_path / "roll", n=5)
    assert vault_env.run("import", roll).code == 0
    before = _objects(vault_env.path)
    res = vault_env.run("import", roll, "--json")
    assert res.code == 0
    rep = res.json()
    assert rep["added"]["media"] == 0 and rep["unchanged"]["media"] == 5
    assert _objects(vault_env.path) == before
    assert len(vault_env.records()) == 5


def test_same_bytes_under_other_names_stored_once(vault_env, tmp_path):
    roll = tmp_path / "roll"
    roll.mkdir()
    data = jpeg()
    (roll / "a.jpg").write_bytes(data)
    (roll / "copy of a.jpg").write_bytes(data)
    assert vault_env.run("import", roll).code == 0
    assert len(_objects(vault_env.path)) == 1
    assert len(vault_env.records()) == 1


def test_dry_run_writes_nothing(vault_env, tmp_path):
    roll = camera_roll(tmp_path / "roll", n=3)
    # index/ is the local cache of the catalog, built by whichever command opens it first.
    def files():
        return sorted(str(p) for p in vault_env.path.rglob("*") if p.is_file() and p.name != "lock" and "index" not in p.parts)

    snapshot = files()
    res = vault_env.run("import", roll, "--dry-run", "--json")
    assert res.code == 0 and res.json()["added"]["media"] == 3 and res.json()["dry_run"] is True
    assert files() == snapshot


def test_large_file_streams_and_round_trips(vault_env, tmp_path):
    roll = camera_roll(tmp_path / "roll", n=1, big=1)
    assert vault_env.run("import", roll).code == 0
    video = [r for r in vault_env.records() if r["filename"] == "VID_00.mp4"][0]
    assert video["mime"] == "video/mp4" and video["size"] == (roll / "VID_00.mp4").stat().st_size
    out = tmp_path / "out.mp4"
    assert vault_env.run("get", video["id"], "-o", out).code == 0
    assert out.read_bytes() == (roll / "VID_00.mp4").read_bytes()


@requires_age
def test_every_stored_file_opens_with_stock_age(vault_env, tmp_path):
    roll = camera_roll(tmp_path / "roll", n=2, big=1)
    assert vault_env.run("import", roll).code == 0
    files = _objects(vault_env.path) + sorted((vault_env.path / "catalog").rglob("*.age"))
    assert len(files) >= 4
    originals = {p.read_bytes() for p in roll.iterdir()}
    for f in files:
        proc = subprocess.run(["age", "-d", "-i", str(vault_env.identity_file), str(f)], capture_output=True)
        assert proc.returncode == 0, (f, proc.stderr)
        if "objects" in f.parts:
            assert proc.stdout in originals


def test_nothing_readable_leaks_to_disk(vault_env, tmp_path):
    """Distinctive words in names and contents, the names themselves and the plain SHA-256 of
    every imported file appear nowhere under the vault or the temp directory."""
    import hashlib

    roll = tmp_path / "roll"
    roll.mkdir()
    secrets_ = {
        "Zanzibarquokka_holiday.jpg": jpeg(description="Xylophonegiraffe secret caption", color=(1, 2, 250)),
        "Quetzalmarmalade.png": png(color=(250, 2, 1)),
    }
    for name, data in secrets_.items():
        (roll / name).write_bytes(data)
    assert vault_env.run("import", roll).code == 0
    assert vault_env.run("mark", "--all", "--public", "--add-tag", "Blueberrymanatee").code == 0
    needles = [b"Zanzibarquokka", b"Xylophonegiraffe", b"Quetzalmarmalade", b"Blueberrymanatee"]
    for data in secrets_.values():
        digest = hashlib.sha256(data).hexdigest()
        needles += [digest.encode(), bytes.fromhex(digest)]
    scanned = 0
    for root in (vault_env.path, os.environ["TMPDIR"]):
        for dirpath, _, filenames in os.walk(root):
            for fn in filenames:
                path = os.path.join(dirpath, fn)
                blob = path.encode() + open(path, "rb").read()
                scanned += 1
                for needle in needles:
                    assert needle not in blob, (needle, path)
    assert scanned > 5


def test_get_to_stdout_and_export_takeout(vault_env, tmp_path):
    roll = tmp_path / "roll"
    roll.mkdir()
    data = jpeg(color=(5, 5, 5))
    (roll / "Grandma's garden.jpg").write_bytes(data)
    (roll / "sub").mkdir()
    (roll / "sub" / "Grandma's garden.jpg").write_bytes(jpeg(color=(9, 9, 9)))
    assert vault_env.run("import", roll).code == 0
    recs = vault_env.records()
    from tests.support.env import run_subprocess

    proc = run_subprocess(["get", recs[0]["id"]])
    assert proc.returncode == 0 and proc.stdout in {data, jpeg(color=(9, 9, 9))}
    out = tmp_path / "takeout"
    res = vault_env.run("export", out, "--json")
    assert res.code == 0 and res.json()["media_files"] == 2
    lines = [json.loads(l) for l in (out / "records.jsonl").read_text().splitlines()]
    assert len(lines) == 2
    names = sorted(p.name for p in (out / "media").iterdir())
    assert names == ["Grandma's garden-1.jpg", "Grandma's garden.jpg"]
    assert {(out / l["export_path"]).read_bytes() for l in lines} == {data, jpeg(color=(9, 9, 9))}
    assert vault_env.run("export", out).code == ExitCode.USAGE  # not empty


def test_list_filters_search_and_mark(vault_env, tmp_path):
    roll = camera_roll(tmp_path / "roll", n=4)
    assert vault_env.run("import", roll).code == 0
    all_ = vault_env.records()
    assert [r["created_at"] for r in all_] == sorted((r["created_at"] for r in all_), reverse=True)
    assert len(vault_env.records("--limit", "2")) == 2
    assert len(vault_env.records("--since", "2023-05-03")) == 2
    assert len(vault_env.records("--until", "2023-05-01")) == 1
    hits = vault_env.run("search", "IMG_0002", "--json").jsonl()
    assert [h["filename"] for h in hits] == ["IMG_0002.jpg"]
    target = all_[0]["id"]
    res = vault_env.run("mark", target[:10], "--public", "--add-tag", "best", "--json")
    assert res.code == 0 and res.json()["changed"] == 1
    pub = vault_env.records("--visibility", "public")
    assert [r["id"] for r in pub] == [target] and pub[0]["tags"] == ["best"]
    assert [r["id"] for r in vault_env.records("--tag", "best")] == [target]
    # Re-importing never resets curation.
    assert vault_env.run("import", roll).code == 0
    assert [r["id"] for r in vault_env.records("--visibility", "public")] == [target]
    assert vault_env.run("mark", "--tag", "best", "--untag", "best", "--private").code == 0
    assert vault_env.records("--visibility", "public") == []
    assert vault_env.run("mark", "--public").code == ExitCode.USAGE  # nothing selected


def test_show_prints_a_record(vault_env, tmp_path):
    roll = camera_roll(tmp_path / "roll", n=1)
    assert vault_env.run("import", roll).code == 0
    rid = vault_env.records()[0]["id"]
    res = vault_env.run("show", rid, "--json")
    assert res.code == 0 and res.json()["id"] == rid
    assert "IMG_0000.jpg" in vault_env.run("show", rid).out


def test_not_recognised_input_exits_20(vault_env, tmp_path):
    f = tmp_path / "random.bin"
    f.write_bytes(os.urandom(100))
    res = vault_env.run("import", f)
    assert res.code == ExitCode.UNSUPPORTED_INPUT and "not a recognised export" in res.err


def test_unsafe_members_reported_and_partial_exit(vault_env, tmp_path):
    import zipfile

    z = tmp_path / "roll.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("ok.jpg", jpeg())
        zf.writestr("../evil.jpg", jpeg(color=(0, 0, 1)))
        zf.writestr("/abs.jpg", jpeg(color=(0, 1, 0)))
    res = vault_env.run("import", z, "--json")
    assert res.code == ExitCode.PARTIAL
    rep = res.json()
    assert rep["added"]["media"] == 1
    assert {s["path"] for s in rep["skipped"]} >= {"../evil.jpg", "/abs.jpg"}
    assert not (tmp_path / "evil.jpg").exists()


def test_status_counts_and_last_import(vault_env, tmp_path):
    roll = camera_roll(tmp_path / "roll", n=2)
    assert vault_env.run("import", roll).code == 0
    st = vault_env.run("status", "--json").json()
    assert st["counts"] == {"post": 0, "media": 2, "rating": 0}
    assert st["by_source"] == {"files": {"media": 2}}
    assert st["last_imports"][0]["source"] == "files"
    assert vault_env.run("sources", "--json").json()["sources"][0]["name"]
