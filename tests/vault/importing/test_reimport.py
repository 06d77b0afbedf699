"""Re-imports that read only what changed, member by member.

A newer export whose posts file is byte-for-byte the one imported before must not parse that file
again: its posts count as unchanged, the problems its reading gave are repeated, and what else the
export brings (a new photo) is imported.  A posts file whose outcome depended on something outside
it (a media file it names was missing) is read again; a dry run or an import that did not commit
remembers nothing.  ``unchanged_files`` in the report counts the members not read.
"""

from __future__ import annotations

import pytest

from tests.support.meta_fixtures import MEDIA_FILES, TRIP_TEXT, fb_export, fb_posts, jpeg, meta_json, split, write_zip
from tests.support.social_fixtures import x_export, x_tweets, ytd

FB_POSTS = "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json"
FB_MEDIA = "your_facebook_activity/posts/media"
NEW_PHOTO = f"{FB_MEDIA}/Mobileuploads_LvJWqglAvA/353101234_10160000000000099_9999999999999999999_n.jpg"
THUMBNAIL = f"{FB_MEDIA}/videos/thumb_353101234_5.jpg"


def import_json(env, *args, expect: int = 0) -> dict:
    res = env.run("import", *args, "--json")
    assert res.code == expect, (res.code, res.out, res.err)
    return res.json()


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """The members the Facebook and X importers start to parse, in order."""
    import importers.meta.facebook as facebook
    import importers.x.importer as x

    seen: list[str] = []
    real_posts, real_stream = facebook._posts_stream, x.RecordStream

    def posts_stream(entry):
        seen.append(entry.rel)
        return real_posts(entry)

    def record_stream(entry, *args, **kwargs):
        seen.append(entry.rel)
        return real_stream(entry, *args, **kwargs)

    monkeypatch.setattr(facebook, "_posts_stream", posts_stream)
    monkeypatch.setattr(x, "RecordStream", record_stream)
    return seen


def fb_files() -> dict[str, bytes]:
    """The Facebook fixture with a local video thumbnail (named by the posts file, not media of
    its own), an entry that is not a post and one without a time (a warning and a skipped item
    to repeat)."""
    files = fb_export("2024")
    posts = fb_posts("2024")
    posts[3]["attachments"][0]["data"][0]["media"]["thumbnail"] = {"uri": THUMBNAIL}
    posts.append({"timestamp": 1680000000, "attachments": [{"data": [{"name": "a poll"}]}],
                  "title": "Jana created a poll."})
    posts.append({"timestamp": "yesterday", "data": [{"post": "a post without a usable time"}]})
    files[FB_POSTS] = meta_json(posts)
    files[THUMBNAIL] = jpeg((1, 2, 3))
    return files


def counts(env) -> tuple[int, int]:
    return len(env.records("--kind", "post")), len(env.records("--kind", "media"))


def test_a_newer_facebook_export_with_one_new_photo_parses_no_posts_file(vault_env, tmp_path, parsed):
    first = import_json(vault_env, write_zip(tmp_path / "fb-1.zip", fb_files()), expect=3)
    assert first["added"] == {"post": 5, "media": 6, "rating": 0} and first["unchanged_files"] == 0
    assert first["warnings"] and first["skipped"], "the fixture should give per-item problems to repeat"
    assert parsed.count(FB_POSTS) == 2  # both passes

    parsed.clear()
    newer = dict(fb_files(), **{NEW_PHOTO: jpeg((99, 99, 99))})
    rep = import_json(vault_env, write_zip(tmp_path / "fb-2.zip", newer), expect=3)
    assert FB_POSTS not in parsed
    assert rep["unchanged_files"] == 1
    assert rep["added"] == {"post": 0, "media": 1, "rating": 0}
    assert rep["updated"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["unchanged"] == {"post": 5, "media": 6, "rating": 0}
    assert rep["warnings"] == first["warnings"] and rep["skipped"] == first["skipped"]
    assert counts(vault_env) == (5, 7)  # nothing twice, and the thumbnail is still not media
    media = {m["filename"]: m for m in vault_env.records("--kind", "media")}
    assert media[MEDIA_FILES["photo_a"][1]]["caption"] == TRIP_TEXT

    # The same newer export again: replayed whole, as before.
    again = import_json(vault_env, write_zip(tmp_path / "fb-3.zip", newer), expect=3)
    assert again["unchanged"] == {"post": 5, "media": 7, "rating": 0} and again["warnings"] == first["warnings"] and again["skipped"] == first["skipped"]


def test_a_changed_posts_file_is_parsed(vault_env, tmp_path, parsed):
    import_json(vault_env, write_zip(tmp_path / "fb-1.zip", fb_files()), expect=3)
    files = fb_files()
    posts = fb_posts("2024")
    posts.insert(0, {"timestamp": 1700000000, "data": [{"post": "a newer post"}]})
    posts[4]["attachments"][0]["data"][0]["media"]["thumbnail"] = {"uri": THUMBNAIL}
    files[FB_POSTS] = meta_json(posts)
    parsed.clear()
    rep = import_json(vault_env, write_zip(tmp_path / "fb-2.zip", files))
    assert parsed.count(FB_POSTS) == 2 and rep["unchanged_files"] == 0
    assert rep["added"] == {"post": 1, "media": 0, "rating": 0}
    assert rep["unchanged"] == {"post": 5, "media": 6, "rating": 0}
    assert counts(vault_env) == (6, 6)


def test_a_changed_check_ins_file_reads_the_posts_again(vault_env, tmp_path, parsed):
    import_json(vault_env, write_zip(tmp_path / "fb-1.zip", fb_files()), expect=3)
    files = fb_files()
    files["your_facebook_activity/posts/check-ins.json"] = meta_json([])
    parsed.clear()
    import_json(vault_env, write_zip(tmp_path / "fb-2.zip", files), expect=3)
    assert FB_POSTS in parsed


def test_a_new_importer_version_reads_everything_again(vault_env, tmp_path, parsed, monkeypatch):
    from importers.meta.facebook import FacebookImporter

    import_json(vault_env, write_zip(tmp_path / "fb-1.zip", fb_files()), expect=3)
    monkeypatch.setattr(FacebookImporter, "version", "1.1")
    parsed.clear()
    rep = import_json(vault_env, write_zip(tmp_path / "fb-2.zip", dict(fb_files(), **{NEW_PHOTO: jpeg((99, 99, 99))})), expect=3)
    assert FB_POSTS in parsed and rep["unchanged_files"] == 0
    assert rep["unchanged"]["post"] == 5


def test_a_dry_run_remembers_nothing(vault_env, tmp_path, parsed):
    rep = import_json(vault_env, write_zip(tmp_path / "fb-1.zip", fb_files()), "--dry-run", expect=3)
    assert rep["added"]["post"] == 5 and counts(vault_env) == (0, 0)
    parsed.clear()
    rep = import_json(vault_env, write_zip(tmp_path / "fb-2.zip", dict(fb_files(), **{NEW_PHOTO: jpeg((99, 99, 99))})), expect=3)
    assert FB_POSTS in parsed and rep["unchanged_files"] == 0
    assert rep["added"] == {"post": 5, "media": 7, "rating": 0}


def test_an_interrupted_import_remembers_nothing(vault_env, tmp_path, parsed, monkeypatch):
    from vault.importing import records

    files = fb_export("2024", split_posts=True)
    real_post = records.post
    calls = []

    def failing_post(run, item):
        calls.append(item)
        if len(calls) == 4:  # the first posts file is read to its end, the second is not
            raise OSError(28, "No space left on device")
        real_post(run, item)

    with monkeypatch.context() as m:
        m.setattr(records, "post", failing_post)
        res = vault_env.run("import", str(write_zip(tmp_path / "fb-1.zip", files)), "--json")
    assert res.code != 0 and counts(vault_env) == (0, 0)
    parsed.clear()
    rep = import_json(vault_env, write_zip(tmp_path / "fb-2.zip", dict(files, **{NEW_PHOTO: jpeg((99, 99, 99))})))
    assert rep["unchanged_files"] == 0 and len(set(parsed)) == 2
    assert rep["added"] == {"post": 5, "media": 7, "rating": 0}


def test_a_posts_file_whose_photos_were_missing_is_read_again(vault_env, tmp_path, parsed):
    """Part 1 alone names photos it does not hold; with part 2 beside it, the posts file is read
    again so the photos get the captions it gives them."""
    json_part, media_part = split(fb_export("2024"))
    part1 = write_zip(tmp_path / "fb-1.zip", json_part)
    first = import_json(vault_env, part1)
    assert any("media file missing" in w for w in first["warnings"])
    parsed.clear()
    rep = import_json(vault_env, part1, write_zip(tmp_path / "fb-2.zip", media_part))
    assert FB_POSTS in parsed and rep["warnings"] == []
    media = {m["filename"]: m for m in vault_env.records("--kind", "media")}
    assert media[MEDIA_FILES["photo_a"][1]]["caption"] == TRIP_TEXT


def x_files() -> dict[str, bytes]:
    """The X fixture without its retweet, whose media (another status's) no archive holds."""
    files = x_export(with_manifest=False)
    retweet, *part0 = x_tweets()[0]
    files["data/tweets.js"] = ytd("YTD.tweets.part0", [{"tweet": t} for t in part0])
    return files


def test_x_skips_the_unchanged_part_and_reads_the_one_with_a_missing_photo(vault_env, tmp_path, parsed):
    first = import_json(vault_env, write_zip(tmp_path / "x-1.zip", x_files(), wrapper="twitter-2023"))
    assert first["added"] == {"post": 5, "media": 3, "rating": 0}
    parsed.clear()
    newer = dict(x_files(), **{"data/tweets_media/1234-NeWpHoTo.jpg": jpeg((5, 6, 7))})
    rep = import_json(vault_env, write_zip(tmp_path / "x-2.zip", newer, wrapper="twitter-2023"))
    # tweets-part1.js names a photo the export does not hold: read again in case a later one does.
    assert parsed == ["data/tweets-part1.js"] and rep["unchanged_files"] == 1
    assert rep["added"] == {"post": 0, "media": 1, "rating": 0}
    assert rep["unchanged"] == {"post": 5, "media": 3, "rating": 0}
    assert rep["warnings"] == first["warnings"]
    assert counts(vault_env) == (5, 4)


@pytest.fixture
def outbox_parsed(monkeypatch) -> list[str]:
    import importers.mastodon.importer as mastodon

    seen: list[str] = []
    real = mastodon.RecordStream

    def record_stream(entry, *args, **kwargs):
        seen.append(entry.rel)
        return real(entry, *args, **kwargs)

    monkeypatch.setattr(mastodon, "RecordStream", record_stream)
    return seen


def m_files() -> dict[str, bytes]:
    """The Mastodon fixture with every file its statuses name (the fixture leaves one out)."""
    from tests.support.social_fixtures import M_MEDIA, M_MEDIA2, M_MISSING, m_export, png

    return m_export(media={M_MEDIA: jpeg((1, 2, 3)), M_MEDIA2: png((4, 5, 6)), M_MISSING: jpeg((8, 8, 8))})


def test_mastodon_skips_an_unchanged_outbox_and_still_checks_its_media(vault_env, tmp_path, outbox_parsed):
    from tests.support.social_fixtures import M_MEDIA

    first = import_json(vault_env, write_zip(tmp_path / "m-1.zip", m_files()))
    assert first["held"] and first["added"]["media"] == 3 and first["warnings"] == []
    outbox_parsed.clear()
    newer = dict(m_files(), **{"likes.json": b'{"orderedItems": []}'})
    rep = import_json(vault_env, write_zip(tmp_path / "m-2.zip", newer))
    assert outbox_parsed == [] and rep["unchanged_files"] == 1
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["unchanged"] == {k: first["added"][k] for k in ("post", "media", "rating")}
    assert rep["held"] == first["held"] and rep["warnings"] == []
    # A media file the outbox names changed: the outbox is read again, so the new bytes are stored.
    changed = dict(newer, **{M_MEDIA: jpeg((77, 77, 77))})
    rep = import_json(vault_env, write_zip(tmp_path / "m-3.zip", changed))
    assert outbox_parsed == ["outbox.json"] and rep["added"]["media"] == 1


def test_mastodon_reads_the_outbox_again_once_a_missing_file_is_there(vault_env, tmp_path, outbox_parsed):
    from tests.support.social_fixtures import M_MISSING

    partial = {path: data for path, data in m_files().items() if path != M_MISSING}
    first = import_json(vault_env, write_zip(tmp_path / "m-1.zip", partial))
    assert any("missing" in w for w in first["warnings"]) and first["added"]["media"] == 2
    outbox_parsed.clear()
    rep = import_json(vault_env, write_zip(tmp_path / "m-2.zip", m_files()))
    assert outbox_parsed == ["outbox.json"] and rep["added"]["media"] == 1 and rep["warnings"] == []
    assert M_MISSING in {m["provenance"]["member"] for m in vault_env.records("--kind", "media")}


def test_linkedin_and_etsy_skip_files_read_before(vault_env, tmp_path):
    from tests.support.market_fixtures import etsy_json, etsy_review
    from tests.support.social_fixtures import li_export

    first = import_json(vault_env, write_zip(tmp_path / "li-1.zip", li_export()))
    newer = dict(li_export(), **{"Profile.csv": "First Name,Last Name,Headline\r\nJana,Nováková,Architect\r\n".encode()})
    rep = import_json(vault_env, write_zip(tmp_path / "li-2.zip", newer))
    assert rep["unchanged_files"] == 1 and rep["unchanged"]["post"] == first["added"]["post"] > 0
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0}

    pages = {"reviews-1.json": etsy_json([etsy_review(1, 5, "Krásné!"), etsy_review(2, 4, "Dobré")])}
    first = import_json(vault_env, write_zip(tmp_path / "etsy-1.zip", pages))
    assert first["added"]["rating"] == 2
    pages["reviews-2.json"] = etsy_json([etsy_review(3, 5, "Skvělé")])
    rep = import_json(vault_env, write_zip(tmp_path / "etsy-2.zip", pages))
    # A new page beside it changes what the first page's reviews may be counted with: both are read.
    assert rep["unchanged_files"] == 0 and rep["added"]["rating"] == 1 and rep["unchanged"]["rating"] == 2
    rep = import_json(vault_env, write_zip(tmp_path / "etsy-3.zip", dict(pages, **{"shop-banner.jpg": jpeg((3, 3, 3))})))
    assert rep["unchanged_files"] == 2 and rep["unchanged"]["rating"] == 3


def test_a_member_that_could_not_be_read_is_read_again(vault_env, tmp_path):
    """Damaged bytes (here a CRC-32 mismatch) may be a bad disk as well as a bad export: the
    member's problem is not remembered, and the next import tries it again."""
    import zipfile

    from tests.support.market_fixtures import etsy_json, etsy_review

    reviews = [etsy_review(i, 5, f"review number {i}") for i in range(1, 1200)]
    path = write_zip(tmp_path / "etsy.zip", {"reviews.json": etsy_json(reviews)}, compression=zipfile.ZIP_STORED)
    data = path.read_bytes()
    assert data.count(b"review number 1198") == 1
    path.write_bytes(data.replace(b"review number 1198", b"review number 1197"))
    first = import_json(vault_env, path, expect=3)
    assert [s["path"] for s in first["skipped"]] == ["reviews.json"]
    rep = import_json(vault_env, path, expect=3)
    assert rep["unchanged_files"] == 0 and rep["skipped"] == first["skipped"]


def test_instagram_skips_posts_files_read_before(vault_env, tmp_path):
    from tests.support.meta_fixtures import ig_export

    first = import_json(vault_env, write_zip(tmp_path / "ig-1.zip", ig_export()))
    newer = dict(ig_export(), **{"media/posts/202401/new_photo_1.jpg": jpeg((40, 50, 60))})
    rep = import_json(vault_env, write_zip(tmp_path / "ig-2.zip", newer))
    assert rep["unchanged_files"] >= 1
    assert rep["added"] == {"post": 0, "media": 1, "rating": 0}
    assert rep["unchanged"] == {k: first["added"][k] for k in ("post", "media", "rating")}
    assert rep["warnings"] == first["warnings"]
    captions = {m["filename"]: m["caption"] for m in vault_env.records("--kind", "media")}
    assert len(captions) == first["added"]["media"] + 1 and sum(1 for c in captions.values() if c) >= 1


@pytest.mark.parametrize("python", ["/bin/false", "/nonexistent/python"])
def test_the_export_hash_is_right_when_the_hashing_child_fails(vault_env, tmp_path, monkeypatch, python):
    import hashlib

    import vault.importing.provenance as provenance

    monkeypatch.setattr(provenance.sys, "executable", python)
    path = write_zip(tmp_path / "x.zip", x_files())
    import_json(vault_env, path)
    shas = {p["provenance"]["export_sha256"] for p in vault_env.records("--kind", "post")}
    assert shas == {hashlib.sha256(path.read_bytes()).hexdigest()}


def test_the_same_export_again_is_not_recognised_again(vault_env, tmp_path, monkeypatch):
    """Which importer recognised an export is remembered with it: a re-import of the very same
    export asks no importer to look at its members again.  Any change to the export, or another
    set of installed importers, asks them all again."""
    from vault import plugins

    path = write_zip(tmp_path / "fb.zip", fb_files())
    first = import_json(vault_env, path, expect=3)
    asked: list[str] = []
    for name, imp in plugins.importers.load_all().items():
        real = imp.recognize
        monkeypatch.setattr(imp, "recognize", lambda src, _n=name, _r=real: asked.append(_n) or _r(src))
    again = import_json(vault_env, path, expect=3)
    assert asked == []
    assert again["source"] == "facebook" and sum(again["unchanged"].values()) == sum(first["added"].values())

    newer = write_zip(tmp_path / "fb-newer.zip", {**fb_files(), NEW_PHOTO: jpeg((1, 2, 3))})
    assert import_json(vault_env, newer, expect=3)["added"]["media"] == 1
    assert "facebook" in asked and len(asked) == len(plugins.importers.load_all())

    asked.clear()
    monkeypatch.setattr(plugins.importers, "fingerprint", lambda: "another set of importers")
    assert import_json(vault_env, path, expect=3)["source"] == "facebook"
    assert "facebook" in asked


@pytest.mark.parametrize("extra", [10, 40])
def test_a_newer_export_looks_its_photos_up_in_shared_read_transactions(vault_env, tmp_path, monkeypatch, extra):
    """Each photo of a newer export is looked up (its record, its reference) before anything is
    written.  Those lookups share read transactions (``Catalog.batched_reads``): the lookups made
    outside one do not grow with the number of photos.  Alone, each lookup costs SQLite a lock,
    a look for a hot journal and a read of the first page, about six times the lookup."""
    import vault.store.catalog as catalog_module

    files = fb_files()
    for i in range(extra):
        files[f"{FB_MEDIA}/Mobileuploads_LvJWqglAvA/{10**15 + i}_n.jpg"] = jpeg((i * 5, 255 - i * 5, 7))
    import_json(vault_env, write_zip(tmp_path / "fb-1.zip", files), expect=3)

    alone: list[str] = []
    real_open = catalog_module.open_db

    def open_db(*args, **kwargs):
        db = real_open(*args, **kwargs)

        def trace(cursor, sql, bindings):
            if sql.lstrip().upper().startswith("SELECT") and not db.in_transaction:
                alone.append(sql)
            return True

        db.exec_trace = trace
        return db

    monkeypatch.setattr(catalog_module, "open_db", open_db)
    rep = import_json(vault_env, write_zip(tmp_path / "fb-2.zip", dict(files, **{NEW_PHOTO: jpeg((99, 99, 99))})), expect=3)
    assert rep["added"]["media"] == 1 and rep["unchanged"]["media"] == 6 + extra
    lookups = [sql for sql in alone if "FROM records WHERE id=" in sql or "FROM refs WHERE" in sql]
    assert lookups == [], f"{len(lookups)} lookups of records and references on their own"
    assert len(alone) < 30, alone
