"""Images whose headers claim absurd sizes are stored without dimensions and reported, never an
import-wide "unexpected error"; an ordinary photo beside them imports as usual."""

from __future__ import annotations

import zipfile

from tests.support.hostile_files import png_bomb, png_bytes, tiff_claiming


def test_decompression_bombs_are_stored_with_a_warning(vault_env, tmp_path):
    export = tmp_path / "camera.zip"
    with zipfile.ZipFile(export, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("DCIM/panorama.png", png_bomb())          # 40000 x 40000, about 200 KB
        zf.writestr("DCIM/tiny.tif", tiff_claiming(100_000, 100_000))  # under 100 bytes
        zf.writestr("DCIM/photo.png", png_bytes(4, 3))
    res = vault_env.run("--json", "import", export, "--source", "files")
    assert res.code == 0, res.err
    report = res.json()
    assert report["added"]["media"] == 3 and report["skipped"] == []
    warned = sorted(w.split(":")[0] for w in report["warnings"])
    assert warned == ["panorama.png", "tiny.tif"]  # the lone DCIM/ folder is stripped
    assert all("decompression bomb" in w and "no thumbnail" in w for w in report["warnings"])
    by_name = {r["filename"]: r for r in vault_env.records("--kind", "media")}
    assert (by_name["photo.png"]["width"], by_name["photo.png"]["height"]) == (4, 3)
    assert by_name["panorama.png"]["width"] is None and by_name["tiny.tif"]["height"] is None
    # The stored bytes are the file's own: nothing was lost.
    out = tmp_path / "back.png"
    assert vault_env.run("get", by_name["panorama.png"]["id"], "-o", out).code == 0
    assert out.read_bytes() == png_bomb()


def test_text_output_of_the_warning_has_no_traceback(vault_env, tmp_path):
    export = tmp_path / "one.zip"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr("bomb.png", png_bomb())
    res = vault_env.run("import", export, "--source", "files")
    assert res.code == 0
    assert "warning:" in res.err + res.out and "Traceback" not in res.err
