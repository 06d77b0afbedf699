"""The Facebook importer end to end, through the real CLI, on small synthetic exports.

Fixtures (tests/meta_fixtures.py) hold 5 posts (text with mojibake, two photos + place, a link
with HTML-looking text, a video, a remote-only picture), one profile-picture update (not a post),
6 media files (2 in the photo post, 1 only in an album, 1 uncategorized, 1 video, 1 referenced by
nothing), a check-ins file, comments and a message thread (never posts).
"""

from __future__ import annotations

import json
import unicodedata
import zipfile

import pytest

from tests.support.meta_fixtures import (
    FB_ERAS,
    LINK_URL,
    MEDIA_FILES,
    MOJI_TEXT,
    REMOTE_MEDIA,
    SCRIPT_TEXT,
    T_PHOTOS,
    T_TEXT,
    TRIP_TEXT,
    fb_export,
    fb_html_export,
    fb_posts,
    fb_uri,
    jpeg,
    meta_json,
    split,
    write_dir,
    write_zip,
)
from tests.support.meta_fixtures import OWNER as OWNER_NAME

N_POSTS = 5
N_MEDIA = 6
TEXTS = {MOJI_TEXT, TRIP_TEXT, SCRIPT_TEXT, None, "remote picture"}


def posts_of(env) -> list[dict]:
    return env.records("--kind", "post", "--source", "facebook")


def media_of(env) -> list[dict]:
    return env.records("--kind", "media")


def by_text(posts: list[dict]) -> dict:
    return {p["text"]: p for p in posts}


def import_json(env, *paths, expect: int = 0) -> dict:
    res = env.run("import", *paths, "--json")
    assert res.code == expect, (res.code, res.out, res.err)
    return res.json()


def assert_complete(env, era: str = "2024") -> None:
    """The golden state after importing the whole fixture export (any era, any packaging)."""
    posts = posts_of(env)
    media = media_of(env)
    assert len(posts) == N_POSTS and len(media) == N_MEDIA
    assert {p["text"] for p in posts} == TEXTS
    files = {m["filename"] for m in media}
    assert files == {name for _, name, _ in MEDIA_FILES.values()}
    ids = {m["id"] for m in media}
    for post in posts:
        assert "missing_media" not in post, post
        assert set(post["media"]) <= ids
    photos = by_text(posts)[TRIP_TEXT]
    assert len(photos["media"]) == 2
    assert photos["media_refs"] == [fb_uri(era, "photo_a"), fb_uri(era, "photo_b")]
    video_post = by_text(posts)[None]
    assert len(video_post["media"]) == 1
    assert {m["id"]: m for m in media}[video_post["media"][0]]["mime"] == "video/mp4"


# ---------------------------------------------------------------------------------------------
# Eras and packaging
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("era", FB_ERAS)
def test_each_era_from_a_zip(vault_env, tmp_path, era):
    export = write_zip(tmp_path / f"facebook-jana-{era}.zip", fb_export(era))
    rep = import_json(vault_env, export)
    assert rep["source"] == "facebook"
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    assert rep["skipped"] == [] and rep["warnings"] == []
    assert_complete(vault_env, era)


def test_golden_fields_2024(vault_env, tmp_path):
    """Exact fields; mojibake, emoji and HTML-looking text come out exact; comments/messages are not posts."""
    files = fb_export("2024")
    raw = files["your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json"]
    assert b"\\u00c5\\u0099" in raw and b"\\u00f0\\u009f" in raw   # really written as Meta does
    import_json(vault_env, write_zip(tmp_path / "fb.zip", files))
    posts = by_text(posts_of(vault_env))
    text = posts[MOJI_TEXT]
    assert text["created_at"] == "2023-06-13T15:30:45Z"
    # Facebook's line about the entry is not the author's title: kept in extra, shown as such.
    assert text["title"] is None and text["extra"] == {"activity": "Jana Nováková updated her status."}
    shown = vault_env.run("show", text["id"])
    assert shown.code == 0, shown.err
    fields = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in shown.out.splitlines() if " " in line}
    assert "title" not in fields and json.loads(fields["extra"]) == {"activity": "Jana Nováková updated her status."}
    assert text["tagged"] == ["Sam Sample", "Zdeněk Čížek"]
    assert text["source_id"].startswith("fb:") and len(text["source_id"]) == 3 + 64
    assert text["media"] == [] and text["links"] == [] and text["place"] is None
    assert text["provenance"]["member"] == "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json"
    assert text["provenance"]["importer"] == "facebook" and text["provenance"]["importer_version"] == "2"

    trip = posts[TRIP_TEXT]
    assert trip["created_at"] == "2023-06-05T21:20:00Z"
    # place from the attachment; the address comes from the check-ins file (enrichment).
    assert trip["place"] == {"name": "Kavárna Slavia", "lat": 50.0815, "lon": 14.4137, "address": "Smetanovo nábřeží 2, Praha"}

    link = posts[SCRIPT_TEXT]
    assert link["links"] == [LINK_URL] and link["media"] == []

    remote = posts["remote picture"]
    assert remote["links"] == [REMOTE_MEDIA] and remote["media"] == [] and "missing_media" not in remote

    media = {m["filename"]: m for m in media_of(vault_env)}
    photo_a = media[MEDIA_FILES["photo_a"][1]]
    assert photo_a["created_at"] == "2023-06-05T21:20:01Z"
    assert photo_a["taken_at"] == "2023-06-05T20:20:00Z"     # exif_data[].taken_timestamp
    assert photo_a["caption"] == TRIP_TEXT
    assert (photo_a["width"], photo_a["height"], photo_a["mime"]) == (4, 3, "image/jpeg")
    assert photo_a["size"] == len(MEDIA_FILES["photo_a"][2])
    assert photo_a["provenance"]["member"] == fb_uri("2024", "photo_a")
    assert media[MEDIA_FILES["album_only"][1]]["caption"] == "jen v albu"
    assert media[MEDIA_FILES["uncategorized"][1]]["created_at"] == "2023-06-03T21:20:00Z"
    assert media[MEDIA_FILES["unreferenced"][1]]["caption"] is None

    # show gives the same record, and the raw post (mojibake fixed) is kept.
    res = vault_env.run("show", trip["id"], "--json")
    assert res.code == 0
    shown = res.json()
    assert shown["media"] == trip["media"]
    assert shown["raw"]["data"][0]["post"] == TRIP_TEXT

    # Text: decoded once, NFC, verbatim.
    texts = {p["text"] for p in posts_of(vault_env)}
    assert MOJI_TEXT in texts and unicodedata.is_normalized("NFC", MOJI_TEXT)
    assert "👩\u200d👩\u200d👧" in posts[MOJI_TEXT]["text"] and "🇨🇿" in posts[MOJI_TEXT]["text"]
    assert SCRIPT_TEXT in texts                       # stored verbatim, not escaped
    res = vault_env.run("search", "žluťoučký", "--json")
    assert res.code == 0 and [r["text"] for r in res.jsonl()] == [MOJI_TEXT]

    # Comments and messages are in the export but never become posts (or anything else).
    for word in ("zelenamandarinka", "modraborovice"):
        res = vault_env.run("search", word, "--json")
        assert res.code == 0 and res.jsonl() == []


@pytest.mark.parametrize("wrapper", [None, "facebook-jana-2024-05-14-AbCdEfGh"])
def test_unpacked_folder_with_and_without_wrapper(vault_env, tmp_path, wrapper):
    folder = write_dir(tmp_path / "unpacked", fb_export("2024"), wrapper=wrapper)
    rep = import_json(vault_env, folder)
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0} and rep["warnings"] == []
    assert_complete(vault_env)


def test_reimport_moves_the_activity_line_out_of_an_older_title(vault_env, tmp_path, monkeypatch):
    """Importer version 1 stored Facebook's line as ``title``; importing the same export again
    (version 2) moves it to ``extra.activity``: the same posts, updated, none added."""
    from importers.meta import facebook
    from vault.plugin_api import PostItem

    export = write_zip(tmp_path / "fb.zip", fb_export("2024"))
    current = facebook._post_item

    def as_version_1(post, member, checkins):
        item = current(post, member, checkins)
        if isinstance(item, PostItem):
            item.title = item.extra.pop("activity", None)
        return item

    with monkeypatch.context() as patch:
        patch.setattr(facebook, "_post_item", as_version_1)
        patch.setattr(facebook.FacebookImporter, "version", "1")
        import_json(vault_env, export)
    before = by_text(posts_of(vault_env))
    assert before[MOJI_TEXT]["title"] == "Jana Nováková updated her status." and "extra" not in before[MOJI_TEXT]

    rep = import_json(vault_env, export)
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0}
    after = by_text(posts_of(vault_env))
    moved = {text for text, post in before.items() if post["title"]}
    assert rep["updated"]["post"] == len(moved) > 0
    for text in moved:
        assert after[text]["id"] == before[text]["id"]
        assert after[text]["title"] is None and after[text]["extra"]["activity"] == before[text]["title"]



def test_split_posts_files_with_a_repeated_post(vault_env, tmp_path):
    export = write_zip(tmp_path / "fb.zip", fb_export("2020", split_posts=True))
    rep = import_json(vault_env, export)
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    assert_complete(vault_env, "2020")


def test_same_export_twice_adds_nothing(vault_env, tmp_path):
    export = write_zip(tmp_path / "fb.zip", fb_export("2024"))
    import_json(vault_env, export)
    rep = import_json(vault_env, export)
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["unchanged"]["media"] == N_MEDIA and rep["skipped"] == [] and rep["warnings"] == []
    assert rep["unchanged"]["post"] == N_POSTS and rep["updated"]["post"] == 0
    assert_complete(vault_env)


def test_same_export_twice_reports_posts_unchanged(vault_env, tmp_path):
    export = write_zip(tmp_path / "fb.zip", fb_export("2024"))
    import_json(vault_env, export)
    rep = import_json(vault_env, export)
    assert rep["updated"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["unchanged"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}


def test_2021_export_then_2024_export_of_the_same_account(vault_env, tmp_path):
    import_json(vault_env, write_zip(tmp_path / "facebook-jana-2021.zip", fb_export("2020")))
    rep = import_json(vault_env, write_zip(tmp_path / "facebook-jana-2024.zip", fb_export("2024")))
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0}
    # Same posts (content key), same files (by content); only the media paths moved.
    assert_complete(vault_env, "2024")


# ---------------------------------------------------------------------------------------------
# Multi-part exports
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def two_parts(tmp_path):
    json_part, media_part = split(fb_export("2024"))
    return (write_zip(tmp_path / "facebook-jana-2024-05-14-AbCd-1.zip", json_part),
            write_zip(tmp_path / "facebook-jana-2024-05-14-AbCd-2.zip", media_part))


def test_multi_zip_in_one_command(vault_env, two_parts):
    rep = import_json(vault_env, *two_parts)
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    assert rep["warnings"] == [] and rep["skipped"] == []
    assert_complete(vault_env)
    media = {m["filename"]: m for m in media_of(vault_env)}
    photo_a = media[MEDIA_FILES["photo_a"][1]]
    assert photo_a["provenance"]["export"] == two_parts[1].name   # stored from part 2
    assert photo_a["caption"] == TRIP_TEXT                       # described by part 1's JSON


@pytest.mark.parametrize("order", ["json_first", "media_first"])
def test_multi_zip_in_separate_runs(vault_env, two_parts, order):
    first, second = two_parts if order == "json_first" else two_parts[::-1]
    rep1 = import_json(vault_env, first)
    rep2 = import_json(vault_env, second)
    assert rep1["source"] == rep2["source"] == "facebook"
    json_rep, media_rep = (rep1, rep2) if order == "json_first" else (rep2, rep1)
    assert json_rep["added"]["post"] == N_POSTS and json_rep["added"]["media"] == 0
    assert len(json_rep["warnings"]) == N_MEDIA - 1          # every named file is in the other part
    assert all("media file missing from the export" in w for w in json_rep["warnings"])
    assert media_rep["added"] == {"post": 0, "media": N_MEDIA, "rating": 0}
    # The media part alone says it looks like one zip of several, and what to do.
    assert len(media_rep["warnings"]) == 1
    assert media_rep["warnings"][0].startswith("no posts, albums or videos files in this export, only photos and videos")
    assert "give them all to one `vault import`" in media_rep["warnings"][0]
    assert not any("no posts, albums" in w for w in json_rep["warnings"])
    assert_complete(vault_env)
    # And once more, all of it together: nothing new.
    rep = import_json(vault_env, *two_parts)
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0}
    assert len(posts_of(vault_env)) == N_POSTS and len(media_of(vault_env)) == N_MEDIA


def test_same_files_repeated_in_two_zips(vault_env, tmp_path):
    files = fb_export("2024")
    a = write_zip(tmp_path / "part-1.zip", files)
    b = write_zip(tmp_path / "part-2.zip", files)
    rep = import_json(vault_env, a, b)
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    assert_complete(vault_env)


# ---------------------------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------------------------


def test_html_export_is_refused_with_a_hint(vault_env, tmp_path):
    export = write_zip(tmp_path / "facebook-jana-html.zip", fb_html_export())
    res = vault_env.run("import", export)
    assert res.code == 20
    assert "HTML" in res.err
    assert "Download your information" in res.err and "Format: JSON" in res.err
    assert posts_of(vault_env) == [] and media_of(vault_env) == []
    forced = vault_env.run("import", export, "--source", "facebook")   # read() refuses it too
    assert forced.code == 20 and "Format: JSON" in forced.err


def test_truncated_posts_file_is_skipped_and_the_rest_imported(vault_env, tmp_path):
    files = fb_export("2024", split_posts=True)
    name = "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_2.json"
    files[name] = files[name][: len(files[name]) // 2]
    res = vault_env.run("import", write_zip(tmp_path / "fb.zip", files), "--json")
    assert res.code == 3, res.err
    rep = res.json()
    assert len(rep["skipped"]) == 1
    assert rep["skipped"][0]["path"] == name and rep["skipped"][0]["reason"].startswith("invalid JSON")
    # File _1 holds the first three posts (text, photos, link); all media are still imported.
    assert {p["text"] for p in posts_of(vault_env)} == {MOJI_TEXT, TRIP_TEXT, SCRIPT_TEXT}
    assert len(media_of(vault_env)) == N_MEDIA
    plain = vault_env.run("import", write_zip(tmp_path / "fb2.zip", files))
    assert plain.code == 3 and name in plain.err + plain.out


def test_missing_media_gives_a_warning_and_keeps_the_other_media(vault_env, tmp_path):
    files = fb_export("2024")
    missing = fb_uri("2024", "photo_b")
    del files[missing]
    rep = import_json(vault_env, write_zip(tmp_path / "fb.zip", files))
    assert rep["skipped"] == []
    assert rep["warnings"] == [
        "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json: "
        f"media file missing from the export: {missing}"]
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA - 1, "rating": 0}
    trip = by_text(posts_of(vault_env))[TRIP_TEXT]
    assert len(trip["media"]) == 1 and trip["missing_media"] == [missing]
    assert trip["media_refs"] == [fb_uri("2024", "photo_a"), missing]


def test_unsafe_member_is_reported_and_never_written(vault_env, tmp_path, monkeypatch):
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    export = write_zip(tmp_path / "work" / "deep" / "fb.zip", fb_export("2024"))
    with zipfile.ZipFile(export, "a") as zf:
        zf.writestr("../evil.jpg", jpeg((6, 6, 6)))
    rep = import_json(vault_env, export, expect=3)
    assert rep["skipped"] == [{"path": "../evil.jpg", "reason": "unsafe path (..)"}]
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    assert not list(tmp_path.rglob("evil.jpg"))
    assert not list(vault_env.path.rglob("evil.jpg"))


def test_checkins_never_create_posts(vault_env, tmp_path):
    # A list of two check-ins, one of them with no post: still 5 posts.
    rep = import_json(vault_env, write_zip(tmp_path / "fb.zip", fb_export("2024", checkins_single=False)))
    assert rep["added"]["post"] == N_POSTS
    assert all("not in the posts file" not in (p["text"] or "") for p in posts_of(vault_env))


def test_checkins_single_object_alone_is_no_post(vault_env, tmp_path):
    # An export whose only posts-folder JSON is a single-object check-ins file: a Facebook export
    # with nothing to import, which succeeds and says so (an empty export is not an unknown one).
    files = {k: v for k, v in fb_export("2024").items() if "check-ins" in k or "profile_information" in k}
    res = vault_env.run("import", write_zip(tmp_path / "fb.zip", files))
    assert res.code == 0 and "nothing to import: 0 posts" in res.out
    assert posts_of(vault_env) == []


def test_invalid_album_file_is_skipped(vault_env, tmp_path):
    files = fb_export("2024")
    files["your_facebook_activity/posts/album/1.json"] = b'{"name": "broken", "photos": [{"uri": '
    rep = import_json(vault_env, write_zip(tmp_path / "fb.zip", files), expect=3)
    assert [s["path"] for s in rep["skipped"]] == ["your_facebook_activity/posts/album/1.json"]
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}


def test_odd_shapes_are_tolerated(vault_env, tmp_path):
    """A *_v2-wrapped posts root, a single object for attachments/data, nulls, strings as tags."""
    posts = fb_posts("2024")
    odd = dict(posts[1], attachments=posts[1]["attachments"][0], data={"post": TRIP_TEXT}, tags=["Sam Sample", None])
    weird = [odd, {"timestamp": None, "data": None, "attachments": None}, "not an object", 42,
             {"timestamp": "garbage", "data": [{"post": "no time"}]}]
    files = {k: v for k, v in fb_export("2024").items() if "your_posts" not in k}
    files["your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json"] = meta_json({"status_updates_v2": weird})
    rep = import_json(vault_env, write_zip(tmp_path / "fb.zip", files), expect=3)
    assert [s["reason"] for s in rep["skipped"]] == ['post without a valid timestamp: "garbage"']
    posts_now = posts_of(vault_env)
    assert [p["text"] for p in posts_now] == [TRIP_TEXT]
    assert len(posts_now[0]["media"]) == 2 and posts_now[0]["tagged"] == ["Sam Sample"]


# ---------------------------------------------------------------------------------------------
# Detection and the helpers
# ---------------------------------------------------------------------------------------------


def test_recognize_and_sources(tmp_path, capsys):
    from importers.meta.facebook import FacebookImporter
    from tests.support.env import run_cli
    from vault.errors import UnsupportedInputError
    from vault.importing.archive import ExportSource

    imp = FacebookImporter()
    json_part, media_part = split(fb_export("2024"))
    cases = {
        "full": (fb_export("2024"), 95),
        "2018": (fb_export("2018"), 95),
        "media-only": (media_part, 60),
        "media-only-2020": (split(fb_export("2020"))[1], 50),
        "camera-roll": ({"IMG_0001.jpg": jpeg((1, 1, 1))}, 0),
    }
    for name, (files, score) in cases.items():
        with ExportSource([write_zip(tmp_path / f"{name}.zip", files)]) as src:
            assert imp.recognize(src) == score, name
    with ExportSource([write_zip(tmp_path / "html.zip", fb_html_export())]) as src:
        with pytest.raises(UnsupportedInputError) as err:
            imp.recognize(src)
        assert "HTML" in err.value.message and "Format: JSON" in err.value.hint
    res = run_cli(["sources", "--json"], capsys)
    assert res.code == 0
    fb = [s for s in res.json()["sources"] if s["name"] == "facebook"][0]
    assert fb["version"] == "2" and fb["description"] and "your_posts" in fb["reads"]


def test_mojibake_fix_rules():
    from importers.meta.reader import as_records, fix_mojibake, fix_text

    for text in (MOJI_TEXT, "Café 😀", "plain ascii", "Ünïcödé"):
        broken = text.encode("utf-8").decode("latin-1")
        assert fix_text(broken) == text
        assert fix_text(text) == text                      # already correct: unchanged
        assert fix_text(fix_text(broken)) == text          # idempotent
    assert fix_text("é \u0159") == "é \u0159"              # a code point above U+00FF: unchanged
    assert fix_text("\u00e9t\u00e9") == "\u00e9t\u00e9"    # latin-1 bytes that are not UTF-8: unchanged
    data = json.loads(meta_json({"a": [{"b": "Čau"}, 1, None], "c": "ž"}))
    assert fix_mojibake(data) == {"a": [{"b": "Čau"}, 1, None], "c": "ž"}
    assert as_records([{"a": 1}, 2]) == [{"a": 1}]
    assert as_records({"x_v2": [{"a": 1}]}) == [{"a": 1}]
    assert as_records({"status_updates": [{"a": 1}]}, "status_updates") == [{"a": 1}]
    assert as_records({"timestamp": 1}, record_keys=("timestamp",)) == [{"timestamp": 1}]
    assert as_records(None) == [] and as_records("x") == []


def test_read_yields_media_before_posts_and_keeps_nothing_open(tmp_path):
    from importers.meta.facebook import FacebookImporter
    from vault.importing.archive import ExportSource
    from vault.models import MediaItem, PostItem

    with ExportSource([write_zip(tmp_path / "fb.zip", fb_export("2024"))]) as src:
        items = list(FacebookImporter().read(src))
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["MediaItem"] * N_MEDIA + ["PostItem"] * N_POSTS
    media = [i for i in items if isinstance(i, MediaItem)]
    assert len({m.ref for m in media}) == N_MEDIA
    posts = [i for i in items if isinstance(i, PostItem)]
    assert {p.created_at.isoformat() for p in posts} >= {"2023-06-13T15:30:45+00:00"}
    assert all(p.created_at.utcoffset().total_seconds() == 0 for p in posts)
    trip = [p for p in posts if p.text == TRIP_TEXT][0]
    assert trip.created_at.timestamp() == T_PHOTOS and trip.member.endswith("_1.json")
    assert [p for p in posts if p.text == MOJI_TEXT][0].created_at.timestamp() == T_TEXT


def test_local_video_thumbnail_is_not_media_and_odd_roots_warn(vault_env, tmp_path):
    files = fb_export("2024")
    thumb = "your_facebook_activity/posts/media/videos/thumbnails/353101234_1_7777777777_n.jpg"
    files[thumb] = jpeg((7, 7, 7))
    videos = "your_facebook_activity/posts/your_videos.json"
    files[videos] = meta_json({"videos_v2": [{"uri": fb_uri("2024", "video"), "creation_timestamp": 1,
                                              "thumbnail": {"uri": thumb}}]})
    files["your_facebook_activity/posts/your_posts_9.json"] = meta_json({"something": "else", "n": 1})
    rep = import_json(vault_env, write_zip(tmp_path / "fb.zip", files))
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    assert rep["warnings"] == ["your_facebook_activity/posts/your_posts_9.json: "
                               "no posts found: the file's structure is not one this importer knows"]
    assert "353101234_1_7777777777_n.jpg" not in {m["filename"] for m in media_of(vault_env)}


def test_photo_inside_a_note_attachment_is_a_post(vault_env, tmp_path):
    # 2020-22 your_posts_1.json: the photo sits in attachments[].data[].note.media[], not in a
    # {"media": ...} item; the post must keep it, and entries it cannot read are named.
    note_photo = "posts/media/Notes_Xy12/note_photo_1.jpg"
    posts = [
        {"timestamp": 1600000000,
         "attachments": [{"data": [{"note": {"title": "Léto", "text": "Poznámka o létě", "tags": [],
                                             "created_timestamp": 1600000000,
                                             "media": [{"uri": note_photo, "creation_timestamp": 1600000000}]}}]}],
         "data": [{"post": "Fotka z léta"}], "title": f"{OWNER_NAME} added a new photo."},
        {"timestamp": 1600000100,
         "attachments": [{"data": [{"note": {"text": "Jen poznámka", "media": []}}]}],
         "title": f"{OWNER_NAME} wrote a note."},
        {"timestamp": 1600000200,
         "attachments": [{"data": [{"life_event": {"title": "Started New Job"}}]}],
         "data": [], "title": f"{OWNER_NAME} added a life event."},
        {"timestamp": 1600000300,
         "attachments": [{"data": [{"name": "Recepty"}]}], "title": f"{OWNER_NAME} shared a group."},
        {"timestamp": 1600000400, "title": f"{OWNER_NAME} updated her cover photo."},
    ]
    files = {
        "posts/your_posts_1.json": meta_json(posts),
        note_photo: jpeg((9, 99, 199)),
        "profile_information/profile_information.json": meta_json({"profile_v2": {"name": {"full_name": OWNER_NAME}}}),
    }
    rep = import_json(vault_env, write_zip(tmp_path / "facebook-2021.zip", files))
    assert rep["added"] == {"post": 2, "media": 1, "rating": 0}
    assert rep["warnings"] == [
        "posts/your_posts_1.json: 1 entry not imported as posts: attachments this importer does not read "
        "(life_event), e.g. 'Jana Nováková added a life event.'",
        "posts/your_posts_1.json: 1 entry not imported as posts: attachments this importer does not read "
        "(name), e.g. 'Jana Nováková shared a group.'",
    ]
    got = by_text(posts_of(vault_env))
    photo = got["Fotka z léta"]
    (media,) = media_of(vault_env)
    assert photo["media"] == [media["id"]] and photo["media_refs"] == [note_photo]
    assert media["filename"] == "note_photo_1.jpg"
    assert photo["extra"] == {"note_text": ["Poznámka o létě"], "note_title": "Léto",
                              "activity": "Jana Nováková added a new photo."}
    assert photo["title"] is None
    assert got["Jen poznámka"]["media"] == []        # a note without a status text: its body is the text
