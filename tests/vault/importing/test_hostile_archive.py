"""Archive bombs: every member size gets the ratio check, each archive has an expansion budget,
and a member-count limit is applied before the members cost memory.  Whatever is refused is a
skipped item (exit 3); the rest of the export is still imported."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from tests.support.hostile_files import MiB, png_bytes, run_measured, stored_member, write_raw_zip, zeros_member
from vault.importing.archive import REASON_BOMB, REASON_BUDGET, ExportSource, Limits


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def test_members_just_under_16_mib_are_refused_as_bombs(vault_env, tmp_path: Path) -> None:
    # Before the fix such members skipped the ratio check: a 4.6 MB zip stored 4.4 GB.
    members = [zeros_member(f"DCIM/clip{i}.mp4", 16 * MiB - 4096) for i in range(8)]
    members.append(stored_member("DCIM/real.png", png_bytes()))
    export = write_raw_zip(tmp_path / "camera.zip", members)
    assert export.stat().st_size < 200_000
    before = _tree_size(vault_env.path)
    res = vault_env.run("--json", "import", export, "--source", "files")
    assert res.code == 3, res.err
    report = res.json()
    assert report["added"]["media"] == 1
    assert {s["path"]: s["reason"] for s in report["skipped"]} == {
        f"DCIM/clip{i}.mp4": REASON_BOMB for i in range(8)}
    assert _tree_size(vault_env.path) - before < 1 * MiB  # nothing of the 128 MiB was stored


def test_many_small_highly_compressed_members_hit_the_archive_budget(tmp_path: Path) -> None:
    # Each member is within the per-member allowance; together they would expand ~1000:1.
    members = [zeros_member(f"m/{i:04d}.bin", MiB) for i in range(600)]
    export = write_raw_zip(tmp_path / "many.zip", members)
    limits = Limits()
    budget = export.stat().st_size * limits.max_ratio + limits.part_allowance
    with ExportSource([export]) as src:
        admitted = sum(e.size or 0 for e in src.entries)
        refused = [p for p in src.problems if p.reason == REASON_BUDGET]
    assert admitted <= budget and len(refused) >= 200
    assert len(src.entries) + len(refused) == 600


def test_a_tar_gz_has_an_expansion_budget_too(tmp_path: Path) -> None:
    path = tmp_path / "x.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in ("a.bin", "b.bin", "c.bin"):
            info = tarfile.TarInfo(name)
            info.size = 100_000
            tar.addfile(info, io.BytesIO(bytes(100_000)))
    with ExportSource([path], Limits(max_ratio=2, part_allowance=150_000)) as src:
        assert [e.path for e in src.entries] == ["a.bin"]
        assert {p.path: p.reason for p in src.problems} == {"b.bin": REASON_BUDGET, "c.bin": REASON_BUDGET}


def test_a_tar_over_the_member_limit_keeps_what_came_before(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tar:
        for i in range(6):
            info = tarfile.TarInfo(f"{i}.txt")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    with ExportSource([path], Limits(max_members=4)) as src:
        assert [e.path for e in src.entries] == ["0.txt", "1.txt", "2.txt", "3.txt"]
        assert src.problems[0].path == "x.tar" and "the rest of it was not read" in src.problems[0].reason


def test_a_300000_member_zip_is_refused_before_it_costs_memory(vault_env, tmp_path: Path) -> None:
    # Before the fix listing such a zip peaked at 851 MB; zipfile alone needs about 170 MB.
    many = write_raw_zip(tmp_path / "many.zip", (stored_member(f"p/{i:06d}.jpg", b"") for i in range(300_000)))
    good = write_raw_zip(tmp_path / "good.zip", [stored_member("DCIM/real.png", png_bytes())])
    res = run_measured(["--json", "import", many, good, "--source", "files"])
    assert res.code == 3, res.err
    assert "Traceback" not in res.err
    import json

    report = json.loads(res.out)
    assert report["added"]["media"] == 1  # the other part is still imported
    assert [s["path"] for s in report["skipped"]] == ["many.zip"]
    assert "more than 250,000 files" in report["skipped"][0]["reason"]
    assert res.peak_mib < 150, f"peak {res.peak_mib:.0f} MiB"


def test_an_export_of_only_bombs_says_what_was_refused(vault_env, tmp_path: Path) -> None:
    export = write_raw_zip(tmp_path / "x.zip", [zeros_member(f"posts/{i}.json", 8 * MiB) for i in range(3)])
    res = vault_env.run("import", export)
    assert res.code == 20
    assert "not a recognised export (refused: posts/0.json: suspicious compression ratio" in res.err
    assert "and 2 more" in res.err


def test_a_sparse_tar_member_gets_the_ratio_check(tmp_path: Path) -> None:
    # A GNU sparse member stores 4 KiB of data and declares 1 GiB; the holes would read as zeros.
    import shutil
    import subprocess

    import pytest

    if shutil.which("tar") is None:
        pytest.skip("GNU tar writes the sparse member")
    folder = tmp_path / "in"
    folder.mkdir()
    with open(folder / "sparse.bin", "wb") as fh:
        fh.write(b"x" * 4096)
        fh.truncate(2**30)
    (folder / "small.txt").write_bytes(b"ok")
    archive = tmp_path / "x.tar"
    subprocess.run(["tar", "--sparse", "-cf", str(archive), "-C", str(folder), "sparse.bin", "small.txt"], check=True)
    assert archive.stat().st_size < 100_000
    with ExportSource([archive]) as src:
        assert [e.path for e in src.entries] == ["small.txt"]
        assert {p.path: p.reason for p in src.problems} == {"sparse.bin": REASON_BOMB}
