"""The Instagram importer end to end, through the real CLI, on small synthetic exports.

The fixture (tests/meta_fixtures.py) holds 3 posts: a single photo (caption and time on media[0]),
a carousel of 3 (caption and time at the top level) and a video; a story (not a post); 6 post
media files (one referenced by nothing) and a story file.
"""

from __future__ import annotations

import json

import pytest

from tests.support.meta_fixtures import (
    IG_CAROUSEL_CAPTION,
    IG_MEDIA,
    IG_SINGLE_CAPTION,
    IG_T_CAROUSEL,
    IG_T_SINGLE,
    IG_T_VIDEO,
    IG_VIDEO_CAPTION,
    fb_export,
    ig_export,
    ig_posts,
    jpeg,
    meta_json,
    split,
    write_dir,
    write_zip,
)

N_POSTS = 3
N_MEDIA = 6  # single, 3 carousel, video, unreferenced; the story file is not imported
POST_FILE = {"2025": "your_instagram_activity/media/posts_1.json", "2022": "content/posts_1.json"}


def posts_of(env) -> list[dict]:
    return env.records("--kind", "post", "--source", "instagram")


def media_of(env) -> list[dict]:
    return env.records("--kind", "media")


def import_json(env, *paths, expect: int = 0) -> dict:
    res = env.run("import", *paths, "--json")
    assert res.code == expect, (res.code, res.out, res.err)
    return res.json()


def assert_complete(env) -> dict:
    posts = {p["text"]: p for p in posts_of(env)}
    media = {m["id"]: m for m in media_of(env)}
    assert set(posts) == {IG_SINGLE_CAPTION, IG_CAROUSEL_CAPTION, IG_VIDEO_CAPTION}
    assert len(media) == N_MEDIA
    assert {m["filename"] for m in media.values()} == {p.rsplit("/", 1)[1] for k, (p, _) in IG_MEDIA.items() if k != "story"}
    for post in posts.values():
        assert "missing_media" not in post and all(m in media for m in post["media"])
    return posts


@pytest.mark.parametrize("era", ["2025", "2022"])
def test_each_era(vault_env, tmp_path, era):
    rep = import_json(vault_env, write_zip(tmp_path / f"instagram-jana-{era}.zip", ig_export(era)))
    assert rep["source"] == "instagram"
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    assert rep["skipped"] == [] and rep["warnings"] == []
    posts = assert_complete(vault_env)
    assert posts[IG_SINGLE_CAPTION]["provenance"]["member"] == POST_FILE[era]


def test_single_photo_carousel_and_video(vault_env, tmp_path):
    import_json(vault_env, write_zip(tmp_path / "ig.zip", ig_export("2025")))
    posts = assert_complete(vault_env)
    media = {m["id"]: m for m in media_of(vault_env)}

    single = posts[IG_SINGLE_CAPTION]                         # caption and time from media[0]
    assert single["created_at"] == "2023-08-12T17:45:00Z"
    assert single["source_id"].startswith("ig:") and len(single["source_id"]) == 67
    assert [media[m]["filename"] for m in single["media"]] == ["17912345678901234.jpg"]
    assert single["media_refs"] == [IG_MEDIA["single"][0]]
    photo = media[single["media"][0]]
    assert photo["caption"] == IG_SINGLE_CAPTION and photo["created_at"] == "2023-08-12T17:45:00Z"
    assert (photo["width"], photo["height"]) == (4, 3)

    carousel = posts[IG_CAROUSEL_CAPTION]                     # caption and time at the top level
    assert carousel["created_at"] == "2023-09-01T10:00:00Z"
    assert carousel["media_refs"] == [IG_MEDIA["car1"][0], IG_MEDIA["car2"][0], IG_MEDIA["car3"][0]]
    assert len(carousel["media"]) == 3
    assert all(media[m]["caption"] is None for m in carousel["media"])   # empty media titles

    video = posts[IG_VIDEO_CAPTION]
    assert video["created_at"] == "2023-09-18T01:20:00Z"
    assert media[video["media"][0]]["mime"] == "video/mp4"
    assert "🎸" in video["text"] and "🇨🇿" in single["text"] and "👩\u200d👩\u200d👧" in carousel["text"]


def test_stories_are_not_posts(vault_env, tmp_path):
    import_json(vault_env, write_zip(tmp_path / "ig.zip", ig_export("2025")))
    assert len(posts_of(vault_env)) == N_POSTS
    res = vault_env.run("search", "fialovykrokodyl", "--json")
    assert res.code == 0 and res.jsonl() == []
    assert "17800000000000001.jpg" not in {m["filename"] for m in media_of(vault_env)}


def test_reimport_and_folder_and_era_change(vault_env, tmp_path):
    export = write_zip(tmp_path / "ig.zip", ig_export("2022"))
    import_json(vault_env, export)
    again = import_json(vault_env, export)
    assert again["added"] == {"post": 0, "media": 0, "rating": 0}
    # The same account exported later in the 2025 layout, unpacked into a wrapper folder.
    later = write_dir(tmp_path / "unpacked", ig_export("2025"), wrapper="instagram-jana-2025-01-02-xyz")
    rep = import_json(vault_env, later)
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0}
    assert_complete(vault_env)


@pytest.mark.parametrize("together", [True, False])
def test_multi_zip(vault_env, tmp_path, together):
    json_part, media_part = split(ig_export("2025"))
    a = write_zip(tmp_path / "instagram-jana-1.zip", json_part)
    b = write_zip(tmp_path / "instagram-jana-2.zip", media_part)
    if together:
        rep = import_json(vault_env, a, b)
        assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0} and rep["warnings"] == []
    else:
        rep_b = import_json(vault_env, b)     # media first: recognised by the media/posts/ tree
        assert rep_b["source"] == "instagram" and rep_b["added"]["media"] == N_MEDIA
        # Alone, the media part says it looks like one zip of several, and what to do.
        assert len(rep_b["warnings"]) == 1
        assert rep_b["warnings"][0].startswith("no posts or stories files in this export, only photos and videos")
        assert "give them all to one `vault import`" in rep_b["warnings"][0]
        rep_a = import_json(vault_env, a)
        assert rep_a["added"] == {"post": N_POSTS, "media": 0, "rating": 0}
        assert len(rep_a["warnings"]) == N_MEDIA - 1 and all("missing from the export" in w for w in rep_a["warnings"])
    assert_complete(vault_env)


def test_truncated_posts_file(vault_env, tmp_path):
    files = ig_export("2025")
    files["your_instagram_activity/media/posts_2.json"] = meta_json([{"media": [
        {"uri": IG_MEDIA["extra"][0], "creation_timestamp": IG_T_VIDEO + 100, "title": "druhý soubor"}]}])
    files["your_instagram_activity/media/posts_1.json"] = files["your_instagram_activity/media/posts_1.json"][:-40]
    res = vault_env.run("import", write_zip(tmp_path / "ig.zip", files), "--json")
    assert res.code == 3
    rep = res.json()
    assert rep["skipped"][0]["path"] == "your_instagram_activity/media/posts_1.json"
    assert rep["skipped"][0]["reason"].startswith("invalid JSON after element #")
    # Read as a stream: the posts before the damage are kept, the cut one is lost.
    texts = [p["text"] for p in posts_of(vault_env)]
    assert "druhý soubor" in texts and len(texts) == N_POSTS
    assert len(media_of(vault_env)) == N_MEDIA


def test_html_export_is_refused(vault_env, tmp_path):
    files = {
        "start_here.html": b"<html>Instagram</html>",
        "your_instagram_activity/media/posts_1.html": "<html>Západ slunce</html>".encode(),
        "media/posts/202308/1.jpg": jpeg((3, 3, 3)),
    }
    res = vault_env.run("import", write_zip(tmp_path / "ig-html.zip", files))
    assert res.code == 20
    assert "HTML" in res.err and "Format: JSON" in res.err


def test_odd_post_shapes(vault_env, tmp_path):
    posts = ig_posts()
    odd = [
        {"media": dict(posts[2]["media"][0])},                 # a single object instead of a list
        {"media": [], "title": ""},                            # nothing: not a post
        {"media": [{"uri": IG_MEDIA["car1"][0]}], "title": "no time at all"},
        None,
    ]
    files = {k: v for k, v in ig_export("2025").items() if not k.endswith("posts_1.json")}
    files["your_instagram_activity/media/posts_1.json"] = meta_json(odd)
    rep = import_json(vault_env, write_zip(tmp_path / "ig.zip", files), expect=3)
    assert [s["reason"] for s in rep["skipped"]] == ["post without a valid timestamp: null"]
    assert [p["text"] for p in posts_of(vault_env)] == [IG_SINGLE_CAPTION]


def test_recognize(tmp_path):
    from importers.meta.facebook import FacebookImporter
    from importers.meta.instagram import InstagramImporter
    from vault.importing.archive import ExportSource

    ig, fb = InstagramImporter(), FacebookImporter()
    json_part, media_part = split(ig_export("2025"))
    cases = {"2025": (ig_export("2025"), 95, 0), "2022": (ig_export("2022"), 95, 0),
             "media-only": (media_part, 40, 0), "facebook": (fb_export("2024"), 0, 95)}
    for name, (files, ig_score, fb_score) in cases.items():
        with ExportSource([write_zip(tmp_path / f"{name}.zip", files)]) as src:
            assert ig.recognize(src) == ig_score, name
            assert fb.recognize(src) == fb_score, name
    assert IG_T_SINGLE < IG_T_CAROUSEL < IG_T_VIDEO


def test_reels_and_archived_posts_2022_layout(vault_env, tmp_path):
    # content/reels.json = {"ig_reels_media": [post]}, content/archived_posts.json =
    # {"ig_archived_post_media": [post]}; an archived post also listed in posts_1.json is one post.
    reel = ("media/reels/202203/17911111111111111.mp4", b"\x00\x00\x00\x18ftypmp42" + b"R" * 40)
    archived = ("media/archived_posts/202201/17922222222222222.jpg", jpeg((1, 2, 3)))
    files = ig_export("2022")
    files["content/reels.json"] = meta_json({"ig_reels_media": [
        {"media": [{"uri": reel[0], "creation_timestamp": 1647000000, "title": "Reel z Prahy 🎬",
                    "media_metadata": {"video_metadata": {"exif_data": [{}]}}, "cross_post_source": {"source_app": "FB"}}]}]})
    files["content/archived_posts.json"] = meta_json({"ig_archived_post_media": [
        {"media": [{"uri": archived[0], "creation_timestamp": 1642000000, "title": ""}],
         "title": "Skrytý příspěvek", "creation_timestamp": 1642000000},
        ig_posts()[2],   # the single photo, archived after it was exported in posts_1.json
    ]})
    files[reel[0]], files[archived[0]] = reel[1], archived[1]
    rep = import_json(vault_env, write_zip(tmp_path / "instagram-jana-2022.zip", files))
    assert rep["added"] == {"post": N_POSTS + 2, "media": N_MEDIA + 2, "rating": 0}
    posts = {p["text"]: p for p in posts_of(vault_env)}
    assert posts["Reel z Prahy 🎬"]["extra"] == {"instagram": "reel"}
    assert posts["Reel z Prahy 🎬"]["created_at"] == "2022-03-11T12:00:00Z"
    assert posts["Skrytý příspěvek"]["extra"] == {"instagram": "archived"}
    assert posts["Skrytý příspěvek"]["created_at"] == "2022-01-12T15:06:40Z"
    assert "extra" not in posts[IG_SINGLE_CAPTION]      # first seen in posts_1.json: a post like any other
    names = {m["filename"] for m in media_of(vault_env)}
    assert {"17911111111111111.mp4", "17922222222222222.jpg"} <= names
    for text in ("Reel z Prahy 🎬", "Skrytý příspěvek"):
        assert len(posts[text]["media"]) == 1


def test_media_json_layout_up_to_2020(vault_env, tmp_path):
    # The old layout: media.json lists one item per file; a carousel's files share taken_at and
    # caption; taken_at has no zone (taken as UTC); stories and direct media are not posts.
    legacy = {
        "photos": [
            {"caption": "Víkend na horách ⛰️", "taken_at": "2018-12-31T08:05:13", "location": "Sněžka",
             "path": "photos/201812/a1b2c3.jpg"},
            {"caption": "Víkend na horách ⛰️", "taken_at": "2018-12-31T08:05:13", "path": "photos/201812/d4e5f6.jpg"},
            {"caption": "More basketball on TV today", "taken_at": "2017-04-16T12:08:35",
             "path": "photos/201704/8674986dfc70767c44dc92d50e81b897.jpg"},
            {"caption": "", "taken_at": "2017-05-01T09:00:00", "path": "photos/201705/nocaption.jpg"},
        ],
        "videos": [{"caption": "Koncert 🎸 &amp; <b>", "taken_at": "2019-02-03T20:30:00", "path": "videos/201902/v1.mp4"}],
        "stories": [{"caption": "", "taken_at": "2019-03-01T10:00:00", "path": "stories/201903/s1.jpg"}],
        "direct": [{"taken_at": "2019-03-02T10:00:00", "path": "direct/201903/d1.jpg"}],
    }
    files = {
        "media.json": json.dumps(legacy, ensure_ascii=False, indent=2).encode(),
        "profile.json": b'{"username": "jana"}',
        "photos/201812/a1b2c3.jpg": jpeg((10, 20, 30)),
        "photos/201812/d4e5f6.jpg": jpeg((40, 50, 60)),
        "photos/201704/8674986dfc70767c44dc92d50e81b897.jpg": jpeg((70, 80, 90)),
        "photos/201705/nocaption.jpg": jpeg((15, 25, 35)),
        "videos/201902/v1.mp4": b"\x00\x00\x00\x18ftypmp42" + b"V" * 40,
        "stories/201903/s1.jpg": jpeg((100, 0, 0)),
        "direct/201903/d1.jpg": jpeg((0, 100, 0)),
    }
    rep = import_json(vault_env, write_zip(tmp_path / "jana_20191025.zip", files, wrapper="jana_20191025"))
    assert rep["source"] == "instagram"
    assert rep["added"] == {"post": 4, "media": 5, "rating": 0}
    posts = {p["text"]: p for p in posts_of(vault_env)}
    assert set(posts) == {"Víkend na horách ⛰️", "More basketball on TV today", None, "Koncert 🎸 &amp; <b>"}
    carousel = posts["Víkend na horách ⛰️"]
    assert carousel["created_at"] == "2018-12-31T08:05:13Z" and len(carousel["media"]) == 2
    assert carousel["media_refs"] == ["photos/201812/a1b2c3.jpg", "photos/201812/d4e5f6.jpg"]
    assert carousel["place"]["name"] == "Sněžka"
    assert posts["More basketball on TV today"]["created_at"] == "2017-04-16T12:08:35Z"
    assert posts[None]["media_refs"] == ["photos/201705/nocaption.jpg"]
    names = {m["filename"] for m in media_of(vault_env)}
    assert "s1.jpg" not in names and "d1.jpg" not in names

    # The same export again: nothing new.
    again = import_json(vault_env, write_zip(tmp_path / "again.zip", files))
    assert again["added"] == {"post": 0, "media": 0, "rating": 0} and again["unchanged"]["post"] == 4


def test_media_json_of_another_kind_is_not_instagram(vault_env, tmp_path):
    path = tmp_path / "site.zip"
    write_zip(path, {"media.json": b'{"images": [{"src": "a.jpg"}], "taken_at": "x", "path": "y"}'})
    assert vault_env.run("import", path, "--json").code == 20


def test_posts_json_label_values_2024(vault_env, tmp_path):
    # 2024+ exports add your_instagram_activity/media/posts.json in a label_values shape; its
    # posts also appear in posts_1.json: each post is imported once.
    files = ig_export("2025")
    single = ig_posts()[2]["media"][0]
    files["your_instagram_activity/media/posts.json"] = meta_json([
        {"timestamp": IG_T_SINGLE, "label_values": [
            {"label": "Caption", "value": IG_SINGLE_CAPTION},
            {"label": "Media", "media": [single]},
            {"label": "Publish mode", "value": "Published"}]},
        {"timestamp": 1697000000, "label_values": [
            {"label": "Caption", "value": "Jen v posts.json 🆕"},
            {"label": "Media", "media": [{"uri": "media/posts/202310/17933333333333333.jpg",
                                          "creation_timestamp": 1697000000, "title": ""}]}]},
        {"timestamp": 1697000100, "label_values": [{"label": "Publish mode", "value": "Draft"}]},
    ])
    files["media/posts/202310/17933333333333333.jpg"] = jpeg((5, 6, 7))
    rep = import_json(vault_env, write_zip(tmp_path / "instagram-2025.zip", files))
    assert rep["added"] == {"post": N_POSTS + 1, "media": N_MEDIA + 1, "rating": 0}
    assert rep["warnings"] == ["your_instagram_activity/media/posts.json: 1 entry with neither caption nor media "
                               "not imported as posts"]
    posts = {p["text"]: p for p in posts_of(vault_env)}
    assert posts["Jen v posts.json 🆕"]["created_at"] == "2023-10-11T04:53:20Z"
    assert len(posts["Jen v posts.json 🆕"]["media"]) == 1
