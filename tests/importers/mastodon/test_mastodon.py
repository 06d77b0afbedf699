"""The Mastodon importer end to end, through the real CLI, on small synthetic archives.

The fixture (tests/social_fixtures.py) has 5 statuses (public with HTML, a link, a hashtag, a
mention and an attachment with a leading "/"; unlisted with a content warning; a followers-only
reply; a direct message; a public one with two attachments, one missing) and a boost, packed as
Mastodon <= 4.1 (tar.gz) and 4.2+ (zip) write them.
"""

from __future__ import annotations

import json

import pytest

from tests.support.social_fixtures import M_ACTOR, M_LINK, M_MEDIA, M_MEDIA2, M_MISSING, M_PUBLIC_TEXT, m_export, m_later_statuses, m_statuses, write_tar, write_zip

N_POSTS = 5
N_MEDIA = 2


def sid(n: int) -> str:
    return f"{M_ACTOR}/statuses/1100000000000000{n:02d}"


def import_json(env, *paths, expect: int = 0) -> dict:
    res = env.run("import", *paths, "--json")
    assert res.code == expect, (res.code, res.out, res.err)
    return res.json()


def posts(env) -> dict[str, dict]:
    return {p["source_id"]: p for p in env.records("--kind", "post", "--source", "mastodon")}


@pytest.mark.parametrize("container", ["tar.gz", "zip"])
def test_golden_fields(vault_env, tmp_path, container):
    files = m_export()
    # Named like an X archive: detection goes by content.
    path = tmp_path / f"twitter-2023-03-07.{container}"
    write_tar(path, files) if container == "tar.gz" else write_zip(path, files)
    rep = import_json(vault_env, path)
    assert rep["source"] == "mastodon"
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    assert rep["skipped"] == []
    assert rep["warnings"] == [f"outbox.json: media file missing from the archive: {M_MISSING} (status {sid(5)})"]

    got = posts(vault_env)
    assert set(got) == {sid(n) for n in (1, 2, 3, 4, 5)}          # the boost is not a post
    first = got[sid(1)]
    assert first["text"] == M_PUBLIC_TEXT
    assert first["links"] == [M_LINK.replace("článek", "%C4%8Dl%C3%A1nek")]   # hrefs kept as written
    assert first["created_at"] == "2023-03-01T10:00:00Z"
    assert first["url"] == "https://mastodon.social/@jana/110000000000000001"
    assert first["source_visibility"] == "public"
    assert first["content_warning"] is None and first["reply_to"] is None and first["repost_of"] is None
    assert first["media_refs"] == [M_MEDIA] and len(first["media"]) == 1
    assert first["provenance"]["member"] == "outbox.json"

    cw = got[sid(2)]
    assert cw["content_warning"] == "CW: jídlo 🍝" and cw["text"] == "Spoiler text"
    assert cw["source_visibility"] == "unlisted"

    followers = got[sid(3)]
    assert followers["source_visibility"] == "followers-only"
    assert followers["reply_to"] == "https://other.example/users/bob/statuses/5"

    direct = got[sid(4)]
    assert direct["source_visibility"] == "direct" and direct["text"] == "@bob psst" and direct["links"] == []
    assert direct["visibility"] == "private"

    pictures = got[sid(5)]
    assert pictures["source_visibility"] == "public"                 # "Public" short form in `to`
    assert pictures["media_refs"] == [M_MEDIA2, M_MISSING]
    assert len(pictures["media"]) == 1 and pictures["missing_media"] == [M_MISSING]

    media = {m["id"]: m for m in vault_env.records("--kind", "media")}
    photo = media[first["media"][0]]
    assert photo["alt"] == "Karlův most v mlze" and photo["mime"] == "image/jpeg"
    assert photo["filename"] == "4f1c2a.jpg" and photo["created_at"] == "2023-03-01T10:00:00Z"
    assert media[pictures["media"][0]]["mime"] == "image/png"


def test_newer_archive_adds_only_new(vault_env, tmp_path):
    first = write_tar(tmp_path / "archive-20230307.tar.gz", m_export())
    import_json(vault_env, first)
    later = write_zip(tmp_path / "archive-20230405.zip", m_export(m_statuses() + m_later_statuses()))
    rep = import_json(vault_env, later)
    assert rep["added"] == {"post": 2, "media": 0, "rating": 0}
    assert rep["unchanged"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    got = posts(vault_env)
    assert len(got) == N_POSTS + 2
    assert got[sid(7)]["reply_to"] == sid(6)       # a reply to one's own status: its source_id


def test_reimport_unchanged(vault_env, tmp_path):
    export = write_tar(tmp_path / "archive.tar.gz", m_export())
    import_json(vault_env, export)
    rep = import_json(vault_env, export)
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["updated"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["unchanged"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}


def test_hostile_tar_members_reported_exit_3(vault_env, tmp_path):
    import io
    import tarfile

    path = write_tar(tmp_path / "archive.tar.gz", m_export(),
                     links={"media_attachments/files/evil.jpg": "/etc/passwd"})
    # Add a member that escapes the archive: rewrite the tar with one more member.
    with tarfile.open(path, "r:gz") as tf:
        members = [(m, tf.extractfile(m).read() if m.isreg() else None) for m in tf.getmembers()]
    with tarfile.open(path, "w:gz") as tf:
        for member, data in members:
            tf.addfile(member, io.BytesIO(data) if data is not None else None)
        evil = tarfile.TarInfo("../escape.txt")
        evil.size = 4
        tf.addfile(evil, io.BytesIO(b"evil"))
    rep = import_json(vault_env, path, expect=3)
    reasons = {s["path"]: s["reason"] for s in rep["skipped"]}
    assert reasons == {"media_attachments/files/evil.jpg": "symbolic link", "../escape.txt": "unsafe path (..)"}
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}   # the rest is imported


def test_attachment_that_names_a_symlink_is_not_followed(vault_env, tmp_path):
    activities = m_statuses()
    activities[0]["object"]["attachment"][0]["url"] = "/media_attachments/files/evil.jpg"
    path = write_tar(tmp_path / "archive.tar.gz", m_export(activities),
                     links={"media_attachments/files/evil.jpg": "/etc/passwd"})
    rep = import_json(vault_env, path, expect=3)
    assert {"path": "media_attachments/files/evil.jpg", "reason": "symbolic link"} in rep["skipped"]
    assert "outbox.json: media file missing from the archive: media_attachments/files/evil.jpg" in " ".join(rep["warnings"])
    assert posts(vault_env)[sid(1)]["missing_media"] == ["media_attachments/files/evil.jpg"]


def test_attachment_url_with_dotdot_is_refused(vault_env, tmp_path):
    activities = m_statuses()
    activities[0]["object"]["attachment"][0]["url"] = "/../../etc/passwd"
    rep = import_json(vault_env, write_zip(tmp_path / "archive.zip", m_export(activities)))
    assert any("attachment path refused" in w for w in rep["warnings"])
    assert posts(vault_env)[sid(1)]["media_refs"] == []


def test_truncated_outbox_exit_3_names_file(vault_env, tmp_path):
    files = m_export()
    files["outbox.json"] = files["outbox.json"][: len(files["outbox.json"]) // 2]
    # recognize() reads only the head, which survives; the parse fails.
    rep = import_json(vault_env, write_zip(tmp_path / "archive.zip", files), expect=3)
    assert [s["path"] for s in rep["skipped"]] == ["outbox.json"]
    assert "invalid JSON" in rep["skipped"][0]["reason"]


def test_not_recognised_without_ordered_collection(vault_env, tmp_path):
    files = m_export(media={})
    del files["avatar.png"]  # no photos either, or the camera-roll importer would take the zip
    outbox = json.loads(files["outbox.json"])
    outbox["type"] = "Collection"
    files["outbox.json"] = json.dumps(outbox).encode()
    res = vault_env.run("import", write_zip(tmp_path / "archive.zip", files), "--json")
    assert res.code == 20


@pytest.mark.parametrize("html,text,links", [
    ("<p>a</p><p>b</p>", "a\n\nb", []),
    ("<p>a<br>b<br/>c</p>", "a\nb\nc", []),
    ("<p>x &amp;amp; y &lt;b&gt;</p>", "x &amp; y <b>", []),
    ("<p>one</p>\n<p>two</p>", "one\n\ntwo", []),
    ("<p>see <a href=\"https://e.x/a?b=1&amp;c=2\">e.x/a</a></p>", "see e.x/a", ["https://e.x/a?b=1&c=2"]),
    ("<p>list</p><ul><li>a</li><li>b</li></ul>", "list\n\na\nb", []),
    ("plain &quot;text&quot;", "plain \"text\"", []),
    ("", "", []),
])
def test_html_to_text(html, text, links):
    from importers.mastodon.importer import html_to_text

    assert html_to_text(html) == (text, links)


def test_plain_paragraphs_give_what_the_html_parser_gives():
    # Plain <p>/<br> statuses skip the HTML parser; random ones must come out the same as parsed.
    import random

    from importers.mastodon.importer import _PLAIN_PARAGRAPHS, _TextParser, html_to_text

    rng = random.Random(5)
    atoms = ["<p>", "</p>", "<br>", "<br/>", "<br />", " ", "\n", "\t", "\r", "a", "ž", "\u5173", ">", "\x00", "\xa0", "<", "&"]
    plain = 0
    for _ in range(20000):
        html = "".join(rng.choice(atoms) for _ in range(rng.randint(0, 12)))
        html = f"<p>{html}</p>" if rng.random() < 0.5 else html
        parser = _TextParser()
        parser.feed(html)
        parser.close()
        assert html_to_text(html) == (parser.text(), parser.links), repr(html)
        plain += bool(_PLAIN_PARAGRAPHS.fullmatch(html))
    assert plain > 2000


@pytest.mark.parametrize("to,cc,expected", [
    (["https://www.w3.org/ns/activitystreams#Public"], [], "public"),
    (["as:Public"], [], "public"),
    ([f"{M_ACTOR}/followers"], ["Public"], "unlisted"),
    ([f"{M_ACTOR}/followers"], [], "followers-only"),
    (["https://other.example/users/bob"], [], "direct"),
    ([], [], "direct"),
])
def test_visibility(to, cc, expected):
    from importers.mastodon.importer import visibility

    assert visibility({"to": to, "cc": cc}, f"{M_ACTOR}/followers") == expected


def test_archive_of_boosts_only_is_empty_not_unknown(vault_env, tmp_path):
    from tests.support.social_fixtures import M_FOLLOWERS, PUBLIC_IRI

    # Someone who only boosted: the archive is recognised, nothing is imported, and it says so.
    boosts = [{"id": f"{M_ACTOR}/statuses/{n}/activity", "type": "Announce", "actor": M_ACTOR,
               "published": "2024-01-0{}T10:00:00Z".format(n), "to": [PUBLIC_IRI], "cc": [M_FOLLOWERS],
               "object": f"https://example.social/users/other/statuses/{n}"} for n in range(1, 4)]
    files = m_export(activities=boosts, media={})
    files.pop("avatar.png", None)
    rep = import_json(vault_env, write_zip(tmp_path / "archive-20240105.zip", files))
    assert rep["source"] == "mastodon" and rep["added"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["held"] == {"boosts": 3}
    assert rep["notes"] == ["nothing to import: 0 posts, 0 media, 0 ratings; it held 3 boosts"]
