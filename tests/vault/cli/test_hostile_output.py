"""Text from exports never drives the terminal: control characters in file names and post text
are shown as visible escapes by list, search, show and the import report, while --json output
stays the exact JSON of the stored values."""

from __future__ import annotations

import json
import zipfile

from tests.support.hostile_files import png_bytes

EVIL_NAME = "DCIM/x\x1b]0;owned\x07\x1b[2J\nfake line\u202egpj.png"
EVIL_TEXT = "hello \x1b[31mred\x1b[0m\r\nsecond line \x9b6n"
T0 = 1_600_000_000


def _import(vault_env, tmp_path):
    photos = tmp_path / "camera.zip"
    with zipfile.ZipFile(photos, "w") as zf:
        zf.writestr(EVIL_NAME, png_bytes())
        zf.writestr("DCIM/plain.png", png_bytes(5, 5))
    assert vault_env.run("import", photos, "--source", "files").code == 0
    posts = tmp_path / "facebook.zip"
    with zipfile.ZipFile(posts, "w") as zf:
        zf.writestr("your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json",
                    json.dumps([{"timestamp": T0, "data": [{"post": EVIL_TEXT}]}]))
    assert vault_env.run("import", posts).code == 0


def _no_controls(text: str) -> None:
    for bad in ("\x1b", "\x07", "\x9b", "\r", "\u202e"):
        assert bad not in text, repr(bad)


def test_list_search_and_show_escape_control_characters(vault_env, tmp_path):
    _import(vault_env, tmp_path)
    listed = vault_env.run("list")
    assert listed.code == 0
    _no_controls(listed.out)
    lines = listed.out.splitlines()
    assert len(lines) == 3  # one line per record: the newline in the name is escaped
    assert any("x\\x1b]0;owned\\x07\\x1b[2J\\nfake line\\u202egpj.png" in line for line in lines)

    found = vault_env.run("search", "second")
    assert found.code == 0 and len(found.out.splitlines()) == 1
    _no_controls(found.out)

    post = next(r for r in vault_env.records("--kind", "post"))
    media = next(r for r in vault_env.records("--kind", "media") if r["filename"] != "plain.png")
    shown = vault_env.run("show", post["id"])
    _no_controls(shown.out)
    assert "\\x1b[31mred" in shown.out and "\\x9b6n" in shown.out
    shown = vault_env.run("show", media["id"])
    _no_controls(shown.out)
    assert "fake line" in shown.out and "\nfake line" not in shown.out


def test_json_output_keeps_the_exact_values(vault_env, tmp_path):
    _import(vault_env, tmp_path)
    res = vault_env.run("list", "--json")
    _no_controls(res.out)
    records = res.jsonl()
    assert EVIL_TEXT in [r.get("text") for r in records]
    assert EVIL_NAME.rsplit("/", 1)[1] in [r.get("filename") for r in records]


def test_import_warnings_escape_member_names(vault_env, tmp_path):
    export = tmp_path / "camera.zip"
    with zipfile.ZipFile(export, "w") as zf:
        link = zipfile.ZipInfo("DCIM/\x1b[2Jlink.png")
        link.external_attr = 0o120777 << 16  # a symbolic link: refused and reported
        zf.writestr(link, "/etc/passwd")
        zf.writestr("DCIM/photo.png", png_bytes())
    res = vault_env.run("import", export, "--source", "files")
    assert res.code == 3
    _no_controls(res.out + res.err)
    assert "\\x1b[2Jlink.png" in res.out + res.err


def test_import_report_keeps_one_line_per_problem(vault_env, tmp_path):
    export = tmp_path / "facebook.zip"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr("your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json",
                    json.dumps([{"timestamp": T0, "data": [{"post": "fine"}]}]))
        zf.writestr("your_facebook_activity/posts/your_posts_\n\x1b[1mfake_2.json", b"[{broken")
    res = vault_env.run("import", export)
    assert res.code == 3
    _no_controls(res.out)
    skipped = [line for line in res.out.splitlines() if "skipped:" in line]
    assert len(skipped) == 1 and "your_posts_\\n\\x1b[1mfake_2.json" in skipped[0]
