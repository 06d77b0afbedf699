"""The X (Twitter) importer end to end, through the real CLI, on small synthetic archives.

The fixture (tests/social_fixtures.py) has 6 tweets over two part files named by the manifest:
two photos + a link + "&amp;", an escaped "<script>" with Czech text, a reply, a retweet carrying
the original's media, a video (three variants), and a photo whose file is missing; plus a like, a
DM and a deleted tweet, which are not posts.
"""

from __future__ import annotations

import pytest

from tests.support.social_fixtures import CZECH, SCRIPT, X_FILES, X_LINK_URL, X_MISSING_ID, X_PHOTOS_ID, X_PHOTOS_TEXT, X_REPLY_ID, X_RT_ID, X_SCRIPT_ID, X_VIDEO_ID, write_zip, x_export, x_export_2020

N_POSTS = 6
N_MEDIA = 3


def import_json(env, *paths, expect: int = 0) -> dict:
    res = env.run("import", *paths, "--json")
    assert res.code == expect, (res.code, res.out, res.err)
    return res.json()


def posts(env) -> dict[str, dict]:
    return {p["source_id"]: p for p in env.records("--kind", "post", "--source", "x")}


def test_golden_fields(vault_env, tmp_path):
    # Named like a Mastodon archive: detection must go by content.
    rep = import_json(vault_env, write_zip(tmp_path / "archive-20230102-mastodon.zip", x_export(), wrapper="twitter-2023"))
    assert rep["source"] == "x"
    assert rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    assert rep["skipped"] == []
    assert rep["warnings"] == [f"data/tweets-part1.js: media file missing from the export: "
                               f"{X_MISSING_ID}-GoneGone.jpg (tweet {X_MISSING_ID})"]
    got = posts(vault_env)
    assert set(got) == {X_PHOTOS_ID, X_SCRIPT_ID, X_REPLY_ID, X_RT_ID, X_VIDEO_ID, X_MISSING_ID}

    photos = got[X_PHOTOS_ID]
    assert photos["text"] == X_PHOTOS_TEXT                       # &amp; decoded, t.co expanded, media t.co dropped
    assert photos["links"] == [X_LINK_URL]
    assert photos["created_at"] == "2022-11-19T09:41:00Z"
    assert photos["url"] == f"https://x.com/i/status/{X_PHOTOS_ID}"
    assert photos["reply_to"] is None and photos["repost_of"] is None
    assert photos["media_refs"] == [f"x:media/{X_PHOTOS_ID}-FhOtO1aB.jpg", f"x:media/{X_PHOTOS_ID}-FhOtO2cD.jpg"]
    assert photos["provenance"]["member"] == "data/tweets.js"
    assert photos["provenance"]["importer"] == "x" and photos["provenance"]["importer_version"] == "1"
    assert photos["raw"]["id_str"] == X_PHOTOS_ID

    assert got[X_SCRIPT_ID]["text"] == f"{SCRIPT} &amp; {CZECH}"   # decoded exactly once

    reply = got[X_REPLY_ID]
    assert reply["reply_to"] == f"https://x.com/i/status/{X_PHOTOS_ID}"
    assert reply["text"] == "@jana_novakova Díky! 🙏"

    retweet = got[X_RT_ID]
    assert retweet["repost_of"] == "@nasa"
    assert retweet["text"] == "RT @nasa: Hello from orbit & beyond…"
    assert retweet["media_refs"] == [] and "missing_media" not in retweet   # the original's media: not in archives
    assert retweet["links"] == ["https://x.com/jana_novakova/status/1500000000000000000/photo/1"]

    video = got[X_VIDEO_ID]
    assert video["text"] == "Video z Krkonoš 🎥"
    assert video["media_refs"] == [f"x:media/{X_VIDEO_ID}-XyZhigh.mp4"]      # highest bitrate, no query

    missing = got[X_MISSING_ID]
    assert missing["text"] == "Ztracená fotka"
    assert missing["media"] == [] and missing["missing_media"] == [f"x:media/{X_MISSING_ID}-GoneGone.jpg"]


def test_media_linked(vault_env, tmp_path):
    import_json(vault_env, write_zip(tmp_path / "twitter.zip", x_export()))
    media = {m["id"]: m for m in vault_env.records("--kind", "media")}
    assert {m["filename"] for m in media.values()} == set(X_FILES)
    got = posts(vault_env)
    photos = got[X_PHOTOS_ID]
    assert len(photos["media"]) == 2 and "missing_media" not in photos
    assert [media[i]["filename"] for i in photos["media"]] == [f"{X_PHOTOS_ID}-FhOtO1aB.jpg", f"{X_PHOTOS_ID}-FhOtO2cD.jpg"]
    assert media[photos["media"][0]]["mime"] == "image/jpeg"
    assert media[photos["media"][0]]["created_at"] == "2022-11-19T09:41:00Z"
    video = media[got[X_VIDEO_ID]["media"][0]]
    assert video["mime"] == "video/mp4" and video["size"] == len(X_FILES[f"{X_VIDEO_ID}-XyZhigh.mp4"])


def test_not_posts(vault_env, tmp_path):
    import_json(vault_env, write_zip(tmp_path / "twitter.zip", x_export()))
    texts = " ".join(p["text"] or "" for p in posts(vault_env).values())
    assert "liked, not mine" not in texts and "private message" not in texts and "deleted" not in texts


def test_2020_archive_without_manifest_or_wrapper(vault_env, tmp_path):
    # data/tweet.js (YTD.tweet.part0), bare tweet objects, media in data/tweet_media/.
    rep = import_json(vault_env, write_zip(tmp_path / "export.zip", x_export_2020()))
    assert rep["source"] == "x" and rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    got = posts(vault_env)
    assert got[X_PHOTOS_ID]["text"] == X_PHOTOS_TEXT
    assert len(got[X_PHOTOS_ID]["media"]) == 2


def test_detected_by_content_not_names(vault_env, tmp_path):
    files = x_export(with_manifest=False)
    # Tweets part renamed: still found by its `window.YTD.tweets.part0 =` prefix.
    files["data/stuff.js"] = files.pop("data/tweets.js")
    rep = import_json(vault_env, write_zip(tmp_path / "linkedin-export.zip", files))
    assert rep["source"] == "x" and rep["added"]["post"] == N_POSTS


def test_folder_input(vault_env, tmp_path):
    folder = tmp_path / "unpacked"
    for name, data in x_export().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    rep = import_json(vault_env, folder)
    assert rep["source"] == "x" and rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}


@pytest.mark.parametrize("with_manifest", [True, False])
@pytest.mark.parametrize("as_zip", [False, True])
def test_data_folder_given_itself(vault_env, tmp_path, with_manifest, as_zip):
    # Someone unpacked the archive and named its data/ folder (or zipped what is in it): the
    # members sit at the top, without "data/", and the manifest still says "data/tweets.js".
    inside = {name.removeprefix("data/"): data for name, data in x_export(with_manifest=with_manifest).items()
              if name.startswith("data/")}
    folder = tmp_path / "data"
    for name, data in inside.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    rep = import_json(vault_env, write_zip(tmp_path / "data.zip", inside) if as_zip else folder)
    assert rep["source"] == "x" and rep["added"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    missing = [w for w in rep["warnings"] if "media file missing" in w]
    assert len(missing) == 1 and X_MISSING_ID in missing[0]  # only the fixture's missing photo
    assert len(posts(vault_env)[X_PHOTOS_ID]["media"]) == 2


def test_reimport_unchanged(vault_env, tmp_path):
    export = write_zip(tmp_path / "twitter.zip", x_export())
    import_json(vault_env, export)
    rep = import_json(vault_env, export)
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["updated"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["unchanged"] == {"post": N_POSTS, "media": N_MEDIA, "rating": 0}
    assert len(posts(vault_env)) == N_POSTS


def test_truncated_part_skipped_rest_imported(vault_env, tmp_path):
    files = x_export()
    files["data/tweets-part1.js"] = files["data/tweets-part1.js"][:300]
    rep = import_json(vault_env, write_zip(tmp_path / "twitter.zip", files), expect=3)
    assert [s["path"] for s in rep["skipped"]] == ["data/tweets-part1.js"]
    assert "invalid JSON" in rep["skipped"][0]["reason"]
    assert rep["added"]["post"] == 4                 # part 0 is whole
    assert X_VIDEO_ID not in posts(vault_env)
    # The video's file is still imported: it is in the tweets' media folder.
    assert rep["added"]["media"] == N_MEDIA


def test_truncated_part_named_in_text_output(vault_env, tmp_path):
    files = x_export()
    files["data/tweets.js"] = files["data/tweets.js"][:-40]
    res = vault_env.run("import", write_zip(tmp_path / "twitter.zip", files))
    assert res.code == 3
    assert "skipped:   data/tweets.js: invalid JSON" in res.out


def test_manifest_part_missing_is_skipped(vault_env, tmp_path):
    files = x_export()
    del files["data/tweets-part1.js"]
    rep = import_json(vault_env, write_zip(tmp_path / "twitter.zip", files), expect=3)
    assert rep["skipped"] == [{"path": "data/tweets-part1.js", "reason": "listed in data/manifest.js but missing from the export"}]
    assert rep["added"]["post"] == 4


def test_time_from_snowflake_when_created_at_is_missing(vault_env, tmp_path):
    from tests.support.social_fixtures import x_tweets, ytd

    part0, _ = x_tweets()
    for tweet in part0:
        del tweet["created_at"]
    files = {"data/tweets.js": ytd("YTD.tweets.part0", [{"tweet": t} for t in part0])}
    import_json(vault_env, write_zip(tmp_path / "twitter.zip", files))
    assert posts(vault_env)[X_PHOTOS_ID]["created_at"] == "2022-11-19T09:41:00Z"


def test_ids_stay_strings_beyond_2_53(vault_env, tmp_path):
    import_json(vault_env, write_zip(tmp_path / "twitter.zip", x_export()))
    for source_id, post in posts(vault_env).items():
        assert isinstance(source_id, str) and int(source_id) > 2**53
        assert post["url"].endswith(source_id)


@pytest.mark.parametrize("value,expected", [
    ("Sat Nov 19 09:41:00 +0000 2022", "2022-11-19T09:41:00Z"),
    ("Mon Jan 01 00:00:00 +0000 2024", "2024-01-01T00:00:00Z"),
    ("Mon Foo 01 00:00:00 +0000 2024", None),
    ("2022-11-19T09:41:00Z", None),
    (None, None),
])
def test_x_time(value, expected):
    from importers.x.fields import parse_x_time
    from vault.models import iso

    assert iso(parse_x_time(value)) == expected


def test_snowflake_time_matches_created_at():
    from importers.x.fields import snowflake_time
    from vault.models import iso

    # The id of a documented example tweet encodes exactly its created_at.
    assert iso(snowflake_time("1593902149044011015")) == "2022-11-19T09:41:00Z"
    assert snowflake_time("12345") is None


def test_tco_expansion_is_token_exact():
    from importers.x.fields import expand_tco, unescape

    expand = {"https://t.co/abc": "https://a.example/", "https://t.co/abcd": "https://b.example/"}
    assert expand_tco("x https://t.co/abcd y https://t.co/abc https://t.co/M1", expand, {"https://t.co/M1"}) == \
        "x https://b.example/ y https://a.example/"
    assert unescape("&amp;lt; &copy &amp; &#128512; &bogus;") == "&lt; &copy & 😀 &bogus;"


def test_media_of_retweets_and_other_statuses_attach_to_their_posts(vault_env, tmp_path):
    # Real 2022 archives hold the files of retweets' media too, named after the retweet's own id
    # (60 of 154 files in one real archive), and sometimes after the original status's id.
    from datetime import datetime, timezone

    from tests.support.social_fixtures import jpeg, x_photo, x_tweet, ytd

    files = x_export(media={**X_FILES, f"{X_RT_ID}-NaSa01.jpg": jpeg((1, 2, 250))})
    shown = x_tweet("1600000000000000006", datetime(2022, 12, 6, 7, 0, 0, tzinfo=timezone.utc),
                    "Podívejte https://t.co/ShOwN00001",
                    media=[x_photo("1600000000000000006", "ShOwN1", "https://t.co/ShOwN00001", 1,
                                   source_status="1400000000000000000")])
    files["data/tweets-part2.js"] = ytd("YTD.tweets.part2", [{"tweet": shown}])
    files["data/tweets_media/1400000000000000000-ShOwN1.jpg"] = jpeg((3, 250, 2))
    rep = import_json(vault_env, write_zip(tmp_path / "twitter.zip", files))
    assert rep["added"] == {"post": N_POSTS + 1, "media": N_MEDIA + 2, "rating": 0}
    got = posts(vault_env)
    media = {m["id"]: m for m in vault_env.records("--kind", "media")}

    retweet = got[X_RT_ID]
    assert retweet["repost_of"] == "@nasa" and retweet["links"] == []
    assert retweet["media_refs"] == [f"x:media/{X_RT_ID}-NaSa01.jpg"]
    (mid,) = retweet["media"]
    assert media[mid]["filename"] == f"{X_RT_ID}-NaSa01.jpg"

    other = got["1600000000000000006"]
    assert other["media_refs"] == ["x:media/1400000000000000000-ShOwN1.jpg"] and other["text"] == "Podívejte"
    # No media is left without its post.
    attached = {m for p in got.values() for m in p["media"]}
    assert set(media) == attached


def test_each_part_read_once_when_the_zip_holds_only_data(tmp_path, monkeypatch):
    # A zip of nothing but data/ has that folder taken off its members' rel as a wrapper, while
    # the manifest names "data/tweets.js": each part was read twice (the tweets deduplicated).
    import importers.x.importer as x_importer
    from vault.importing.archive import ExportSource

    read: list[str] = []

    class Counting(x_importer.RecordStream):
        def __init__(self, part, *args, **kwargs):
            read.append(part.rel)
            super().__init__(part, *args, **kwargs)

    monkeypatch.setattr(x_importer, "RecordStream", Counting)
    files = {name: data for name, data in x_export().items() if name.startswith("data/")}
    src = ExportSource([write_zip(tmp_path / "data-only.zip", files)])
    monkeypatch.setattr(src, "unchanged", lambda *args, **kwargs: False)
    items = list(x_importer.XImporter().read(src))
    assert sorted(read) == ["tweets-part1.js", "tweets.js"]
    assert sum(type(item).__name__ == "PostItem" for item in items) == N_POSTS
