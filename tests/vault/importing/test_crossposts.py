"""Cross-posts: the same text on several networks within minutes stays one post per network,
and `vault show` lists the copies (text and --json ``cross_posts``)."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone

from tests.support.social_fixtures import BSKY_DID, PUBLIC_IRI, build_repo, m_export, m_status, tid, write_zip, x_tweet, ytd

UTC = timezone.utc
SHARED_URL = "https://example.cz/sdílej"
SHARED_TEXT = f"Stejný text na třech sítích 🌍 {SHARED_URL}"
X_SAME = "1785000000000000001"
X_SAME_AGAIN = "1785000000000000002"   # the same text on X again: same source, not a cross-post
X_LATE = "1785000000000000003"


def x_archive() -> dict[str, bytes]:
    tweets = [
        x_tweet(X_SAME, datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC),
                "Stejný text na třech sítích 🌍 https://t.co/SdIlEj0001", urls=[("https://t.co/SdIlEj0001", SHARED_URL)]),
        x_tweet(X_SAME_AGAIN, datetime(2024, 5, 1, 12, 1, 0, tzinfo=UTC),
                "Stejný text na třech sítích 🌍 https://t.co/SdIlEj0002", urls=[("https://t.co/SdIlEj0002", SHARED_URL)]),
        x_tweet(X_LATE, datetime(2024, 5, 1, 13, 0, 0, tzinfo=UTC), "Půl hodiny rozdíl"),
    ]
    return {"data/tweets.js": ytd("YTD.tweets.part0", [{"tweet": t} for t in tweets])}


def mastodon_archive() -> dict[str, bytes]:
    # Decomposed (NFD) diacritics, a double space and the link as Mastodon renders it.
    same_html = unicodedata.normalize("NFD", (
        "<p>Stejný  text na třech sítích 🌍 <a href=\"https://example.cz/s%C3%ADdlej\" rel=\"nofollow noopener\">"
        "<span class=\"invisible\">https://</span><span class=\"\">example.cz/sdílej</span>"
        "<span class=\"invisible\"></span></a></p>"))
    return m_export([
        m_status(1, "2024-05-01T12:03:00Z", same_html, to=[PUBLIC_IRI]),
        m_status(2, "2024-05-01T13:30:00Z", "<p>Půl hodiny rozdíl</p>", to=[PUBLIC_IRI]),
    ], media={})


def bluesky_repo() -> bytes:
    post = "app.bsky.feed.post"
    records = {
        f"{post}/{tid(datetime(2024, 5, 1, 12, 9, 59, tzinfo=UTC))}":
            {"$type": post, "text": SHARED_TEXT, "createdAt": "2024-05-01T12:09:59Z"},
        f"{post}/{tid(datetime(2024, 5, 1, 12, 10, 1, tzinfo=UTC))}":     # 10 min 1 s after X: outside
            {"$type": post, "text": SHARED_TEXT, "createdAt": "2024-05-01T12:10:01Z"},
    }
    return build_repo(records).car


def import_all(env, tmp_path) -> None:
    car = tmp_path / "repo.car"
    car.write_bytes(bluesky_repo())
    for path in (write_zip(tmp_path / "twitter.zip", x_archive()), write_zip(tmp_path / "mastodon.zip", mastodon_archive()), car):
        res = env.run("import", path, "--json")
        assert res.code == 0, res.err


def by_source_id(env) -> dict[str, dict]:
    return {p["source_id"]: p for p in env.records("--kind", "post")}


def test_copies_listed_not_merged(vault_env, tmp_path):
    import_all(vault_env, tmp_path)
    posts = by_source_id(vault_env)
    assert len(posts) == 3 + 2 + 2                         # one post per network and tweet: nothing merged
    x_post = posts[X_SAME]
    masto = next(p for p in posts.values() if p["source"] == "mastodon" and p["created_at"] == "2024-05-01T12:03:00Z")
    bsky = next(p for p in posts.values() if p["source"] == "bluesky" and p["created_at"] == "2024-05-01T12:09:59Z")

    shown = vault_env.run("show", x_post["id"], "--json")
    assert shown.code == 0
    assert shown.json()["cross_posts"] == [
        {"id": masto["id"], "source": "mastodon", "url": masto["url"], "created_at": "2024-05-01T12:03:00Z"},
        {"id": bsky["id"], "source": "bluesky", "url": f"https://bsky.app/profile/{BSKY_DID}/post/{bsky['source_id'].rsplit('/', 1)[1]}",
         "created_at": "2024-05-01T12:09:59Z"},
    ]
    # Symmetric: the Mastodon copy lists both X tweets (within 10 minutes) and the Bluesky one.
    from_masto = vault_env.run("show", masto["id"], "--json").json()["cross_posts"]
    assert [(c["source"], c["created_at"]) for c in from_masto] == [
        ("x", "2024-05-01T12:00:00Z"), ("x", "2024-05-01T12:01:00Z"), ("bluesky", "2024-05-01T12:09:59Z"),
        ("bluesky", "2024-05-01T12:10:01Z")]


def test_text_output_lists_copies(vault_env, tmp_path):
    import_all(vault_env, tmp_path)
    x_post = by_source_id(vault_env)[X_SAME]
    res = vault_env.run("show", x_post["id"])
    assert res.code == 0
    lines = [line for line in res.out.splitlines() if line.startswith("cross_post ")]
    assert len(lines) == 2
    assert lines[0].split()[1] == "mastodon" and "https://mastodon.social/@jana/110000000000000001" in lines[0]
    assert lines[1].split()[1] == "bluesky"


def test_thirty_minutes_apart_not_listed(vault_env, tmp_path):
    import_all(vault_env, tmp_path)
    late = by_source_id(vault_env)[X_LATE]
    assert vault_env.run("show", late["id"], "--json").json()["cross_posts"] == []


def test_only_posts_get_the_field(vault_env, tmp_path):
    import_all(vault_env, tmp_path)
    from tests.support.social_fixtures import jpeg

    folder = tmp_path / "roll"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg((1, 1, 1)))
    assert vault_env.run("import", folder, "--json").code == 0
    (media,) = vault_env.records("--kind", "media")
    assert "cross_posts" not in vault_env.run("show", media["id"], "--json").json()
    assert "cross_posts" not in by_source_id(vault_env)[X_SAME]     # list output is unchanged
