"""The LinkedIn importer end to end, through the real CLI, on small synthetic exports.

The fixture Shares.csv (tests/social_fixtures.py) is raw CSV as LinkedIn writes it: a BOM, CRLF
rows, a quoted commentary with a newline and doubled quotes, a bare repost with a SharedUrl (a
post), a bare repost with nothing (not a post), and a share with a MediaUrl.  Comments.csv,
Connections.csv (with its "Notes:" preamble) and Profile.csv are not posts.
"""

from __future__ import annotations

from tests.support.social_fixtures import CZECH, LI_SHARE, LI_SHARES_CSV, LI_TEXT_1, li_export, write_zip

N_POSTS = 3


def import_json(env, *paths, expect: int = 0) -> dict:
    res = env.run("import", *paths, "--json")
    assert res.code == expect, (res.code, res.out, res.err)
    return res.json()


def posts(env) -> dict[str, dict]:
    return {p["source_id"]: p for p in env.records("--kind", "post", "--source", "linkedin")}


def test_golden_fields(vault_env, tmp_path):
    # Named like a Facebook export: detection goes by the Shares header.
    rep = import_json(vault_env, write_zip(tmp_path / "facebook-jana-2024.zip", li_export()))
    assert rep["source"] == "linkedin"
    assert rep["added"] == {"post": N_POSTS, "media": 0, "rating": 0}
    assert rep["skipped"] == [] and rep["warnings"] == []
    got = posts(vault_env)
    assert set(got) == {LI_SHARE.format(1), LI_SHARE.format(2), LI_SHARE.format(4)}   # 3: a bare repost, no link

    first = got[LI_SHARE.format(1)]
    assert first["text"] == LI_TEXT_1               # quoted newline, doubled quotes, "&amp;" and "<script>" verbatim
    assert first["created_at"] == "2024-03-05T08:15:00Z"   # no zone in the file: taken as UTC
    assert first["url"] == LI_SHARE.format(1)
    assert first["links"] == ["https://example.cz/devops"]
    assert first["source_visibility"] == "PUBLIC"
    assert first["media"] == [] and first["provenance"]["member"] == "Shares.csv"

    repost = got[LI_SHARE.format(2)]
    assert repost["text"] is None and repost["links"] == ["https://example.org/shared-article"]
    assert repost["source_visibility"] == "MEMBER_NETWORK"

    media = got[LI_SHARE.format(4)]
    assert media["text"] == CZECH
    assert media["links"] == ["https://media.licdn.com/dms/image/abc/photo.jpg"]   # the file is not in the export


def test_member_id_file_name_and_reordered_columns(vault_env, tmp_path):
    csv_text = (
        "Visibility,ShareCommentary,Date,MediaUrl,SharedUrl,ShareLink\n"
        f"CONNECTIONS,\"Řádek 1\n\"\"Řádek\"\" 2\",2023-12-31 23:59:59,,https://example.cz/a,{LI_SHARE.format(9)}\n"
    )
    rep = import_json(vault_env, write_zip(tmp_path / "Complete_LinkedInDataExport_03-06-2024.zip",
                                           li_export("Shares_123456789.csv", csv_text)))
    assert rep["added"]["post"] == 1
    post = posts(vault_env)[LI_SHARE.format(9)]
    assert post["text"] == "Řádek 1\n\"Řádek\" 2"
    assert post["created_at"] == "2023-12-31T23:59:59Z"
    assert post["source_visibility"] == "CONNECTIONS" and post["links"] == ["https://example.cz/a"]


def test_bare_csv_file(vault_env, tmp_path):
    path = tmp_path / "my-shares-backup.txt"
    path.write_text(LI_SHARES_CSV, encoding="utf-8")
    rep = import_json(vault_env, path)
    assert rep["source"] == "linkedin" and rep["added"]["post"] == N_POSTS


def test_share_without_link_gets_content_key(vault_env, tmp_path):
    csv_text = "Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\n2024-01-01 10:00:00,,Bez odkazu,,,PUBLIC\n"
    import_json(vault_env, write_zip(tmp_path / "li.zip", li_export(csv_text=csv_text)))
    (post,) = posts(vault_env).values()
    assert post["source_id"].startswith("li:") and len(post["source_id"]) == 3 + 64
    assert post["url"] is None and post["text"] == "Bez odkazu"


def test_reimport_unchanged(vault_env, tmp_path):
    export = write_zip(tmp_path / "li.zip", li_export())
    import_json(vault_env, export)
    rep = import_json(vault_env, export)
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["updated"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["unchanged"] == {"post": N_POSTS, "media": 0, "rating": 0}


def test_truncated_csv_row_skipped_rest_imported(vault_env, tmp_path):
    rows = LI_SHARES_CSV.split("\r\n")
    # Put the multi-line row last, then cut the file inside its quoted commentary.
    reordered = "\r\n".join([rows[0], rows[2], rows[3], rows[4], rows[1]])
    truncated = reordered[: reordered.index("Druhý řádek") + 5]
    rep = import_json(vault_env, write_zip(tmp_path / "li.zip", li_export(csv_text=truncated)), expect=3)
    assert len(rep["skipped"]) == 1
    assert rep["skipped"][0]["path"].startswith("Shares.csv:")
    assert "truncated" in rep["skipped"][0]["reason"]
    assert rep["added"]["post"] == 2


def test_bad_date_row_skipped(vault_env, tmp_path):
    csv_text = ("Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\n"
                f"yesterday,{LI_SHARE.format(7)},text,,,PUBLIC\n2024-01-01 10:00:00,{LI_SHARE.format(8)},ok,,,PUBLIC\n")
    rep = import_json(vault_env, write_zip(tmp_path / "li.zip", li_export(csv_text=csv_text)), expect=3)
    assert rep["skipped"] == [{"path": "Shares.csv:2", "reason": "unreadable Date 'yesterday'"}]
    assert set(posts(vault_env)) == {LI_SHARE.format(8)}


def test_other_csvs_not_recognised(vault_env, tmp_path):
    files = li_export()
    del files["Shares.csv"]
    res = vault_env.run("import", write_zip(tmp_path / "li.zip", files), "--json")
    assert res.code == 20


def test_connections_only_share_never_published_by_rules():
    from vault.settings import PublicRules

    rec = {"kind": "post", "source": "linkedin", "created_at": "2024-01-01T00:00:00Z", "source_visibility": "CONNECTIONS"}
    assert not PublicRules(sources=["linkedin"]).matches(rec)


# Exports since about 2024 wrap each line of a multi-line commentary in its own quotes inside the
# CSV field: after CSV decoding the lines are joined by `"` newline `"` (seen in real 2025 exports,
# e.g. `...program."` newline `""` newline `"WHAT? ...`).
LI_WRAPPED_CSV = (
    "Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\n"
    f"2025-07-01 14:33:22,{LI_SHARE.format(21)},\"Jedu na desetidenní meditaci.\"\"\n\"\"\"\"\n"
    "\"\"𝗖𝗢? Tichý pobyt. https://example.cz/\"\"\n\"\"𝗞𝗗𝗬? Od dneška\"\"\n"
    "\"\"Řekl: \"\"ahoj\"\"\",\"\",\"\",MEMBER_NETWORK\n"
    f"2025-06-30 10:00:00,{LI_SHARE.format(22)},\"Konec s prázdným řádkem\"\"\n\"\"\",\"\",\"\",MEMBER_NETWORK\n"
    f"2025-06-29 09:00:00,{LI_SHARE.format(23)},\"Řekl \"\"ano\"\"\nA pak odešel\",\"\",\"\",MEMBER_NETWORK\n"
    f"2025-06-28 08:00:00,{LI_SHARE.format(24)},\"Jeden řádek s \"\"uvozovkami\"\" na konci \"\"\"\"\",\"\",\"\",PUBLIC\n"
)


def test_per_line_quoting_of_2025_exports_is_removed(vault_env, tmp_path):
    rep = import_json(vault_env, write_zip(tmp_path / "Basic_LinkedInDataExport_07-02-2025.zip",
                                           li_export(csv_text=LI_WRAPPED_CSV)))
    assert rep["added"]["post"] == 4 and rep["skipped"] == []
    got = posts(vault_env)
    assert got[LI_SHARE.format(21)]["text"] == (
        "Jedu na desetidenní meditaci.\n\n𝗖𝗢? Tichý pobyt. https://example.cz/\n𝗞𝗗𝗬? Od dneška\nŘekl: \"ahoj\"")
    assert got[LI_SHARE.format(22)]["text"] == "Konec s prázdným řádkem\n"      # the last line was empty
    # A line break that is not quoted on both sides: the text is left exactly as decoded.
    assert got[LI_SHARE.format(23)]["text"] == "Řekl \"ano\"\nA pak odešel"
    assert got[LI_SHARE.format(24)]["text"] == "Jeden řádek s \"uvozovkami\" na konci \"\""


def li_2018_csv(rows: list[list[str]]) -> bytes:
    """A 2018 Shares.csv: UTF-16 with a BOM, tab-separated, every field quoted."""
    header = ["Date", "Share Title", "Share Description", "Share Link", "Share Commentary",
              "Shared URL", "Media URL", "Type", "Visibility"]
    lines = ["\t".join('"' + cell.replace('"', '""') + '"' for cell in row) for row in [header, *rows]]
    return "\ufeff".encode("utf-16-le") + ("\n".join(lines) + "\n").encode("utf-16-le")


def test_2018_export_utf16_tab_separated(vault_env, tmp_path):
    act = "https://www.linkedin.com/feed/update/urn%3Ali%3Aactivity%3A61746317054465761{:02d}"
    shares = li_2018_csv([
        ["2017/06/08 08:15:44 UTC", "", "", act.format(1), "", "", "", "Homepage", "Connections"],   # bare repost
        ["2016/08/25 17:41:57 UTC", "", "", act.format(2), "Ahoj 👋 \"světe\"\nDruhý řádek", "", "", "Homepage", "Public"],
        ["2015/10/04 16:00:15 UTC", "ICC WORLD CUP", "DUMMY SITE FOR WEB SKILLS", act.format(3), "",
         "http://iccworldcup.hostoi.com", "", "Homepage", "Public"],
    ])
    files = {"Shares.csv": shares,
             "Connections.csv": b"First Name,Last Name,Email Address,Company,Position,Connected On\n"}
    rep = import_json(vault_env, write_zip(tmp_path / "Complete_LinkedInDataExport_11-04-2018.zip", files))
    assert rep["source"] == "linkedin" and rep["added"]["post"] == 2 and rep["skipped"] == []
    got = posts(vault_env)
    text = got[act.format(2)]
    assert text["text"] == "Ahoj 👋 \"světe\"\nDruhý řádek"
    assert text["created_at"] == "2016-08-25T17:41:57Z" and text["source_visibility"] == "Public"
    link = got[act.format(3)]
    assert link["text"] is None and link["links"] == ["http://iccworldcup.hostoi.com"]
    assert link["extra"] == {"share_title": "ICC WORLD CUP", "share_description": "DUMMY SITE FOR WEB SKILLS"}
    assert link["created_at"] == "2015-10-04T16:00:15Z"


def test_named_source_that_finds_nothing_says_so(vault_env, tmp_path):
    # --source linkedin on an export with no Shares file: not "recognised", but what it reads.
    files = li_export()
    del files["Shares.csv"]
    res = vault_env.run("import", write_zip(tmp_path / "li.zip", files), "--source", "linkedin")
    assert res.code == 20
    assert "nothing in it is what the linkedin importer reads" in res.err
    assert "recognised" not in res.err and "Shares" in res.err
