"""The Bluesky importer and its DAG-CBOR / CAR reader, on real CAR files built at test time.

tests/social_fixtures.py encodes DAG-CBOR itself (an encoder independent of the importer's
decoder), makes CIDv1 (dag-cbor, sha2-256) and writes a commit, a two-level MST with
prefix-compressed keys, 5 post records (text with "&amp;" and "<script>", a reply, links in a
facet and an external embed, a quote, an image-only post without createdAt), a like and a
profile.  By default the blocks are written in reverse order, with an unrelated extra block and
a duplicate.
"""

from __future__ import annotations

import pytest

from importers.bluesky import dagcbor
from tests.support.social_fixtures import B_EXTERNAL, B_LINK, B_QUOTED, B_TEXT, BSKY_DID, Link, b_records, b_rkey, build_repo, cbor, cid_of, varint, write_zip

POST = "app.bsky.feed.post"
N_POSTS = 5


def uri(day: int) -> str:
    return f"at://{BSKY_DID}/{POST}/{b_rkey(day)}"


def import_json(env, *paths, expect: int = 0) -> dict:
    res = env.run("import", *paths, "--json")
    assert res.code == expect, (res.code, res.out, res.err)
    return res.json()


def posts(env) -> dict[str, dict]:
    return {p["source_id"]: p for p in env.records("--kind", "post", "--source", "bluesky")}


def write_car(tmp_path, data: bytes, name: str = "repo.car"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------------
# End to end
# ---------------------------------------------------------------------------------------------


def test_golden_fields_out_of_order_blocks(vault_env, tmp_path):
    extra = [cbor({"unrelated": True, "n": 1})]
    repo = build_repo(b_records(), extra_blocks=extra)
    # Name says nothing: detected by the CAR header.
    rep = import_json(vault_env, write_car(tmp_path, repo.car, "download (3)"))
    assert rep["source"] == "bluesky"
    assert rep["added"] == {"post": N_POSTS, "media": 0, "rating": 0}
    assert rep["skipped"] == [] and rep["warnings"] == []
    got = posts(vault_env)
    assert set(got) == {uri(day) for day in range(1, 6)}        # like and profile are not posts

    first = got[uri(1)]
    assert first["text"] == B_TEXT                               # verbatim: "&amp;" stays, "<script>" stays
    assert first["created_at"] == "2024-02-01T10:00:00Z"
    assert first["url"] == f"https://bsky.app/profile/{BSKY_DID}/post/{b_rkey(1)}"
    assert first["links"] == [] and first["reply_to"] is None and first["repost_of"] is None
    assert first["extra"] == {"langs": ["cs"]}
    assert first["provenance"]["member"] == "download (3)"

    reply = got[uri(2)]
    assert reply["reply_to"] == uri(1) and reply["text"] == "Odpověď 🙂"
    assert reply["created_at"] == "2024-02-02T10:00:00Z"

    links = got[uri(3)]
    assert links["links"] == [B_LINK, B_EXTERNAL]                 # facet link, then the external embed
    assert links["text"] == f"Čtěte {B_LINK} 📖"

    quote = got[uri(4)]
    assert quote["repost_of"] is None                            # a quote is the owner's own text
    assert quote["links"] == ["https://bsky.app/profile/did:plc:other000000000000/post/3kquotedpost2"]
    assert quote["extra"]["quote"] == B_QUOTED

    images = got[uri(5)]
    assert images["text"] is None and images["media"] == []      # blobs are not in the CAR
    assert images["created_at"] == "2024-02-05T10:00:00Z"        # from the TID record key
    assert images["extra"]["images"] == [{"alt": "Sněžka", "mime": "image/jpeg",
                                          "cid": str(dagcbor.CID(cid_of(b"img")))}]


def test_zipped_with_chat_file(vault_env, tmp_path):
    repo = build_repo(b_records())
    export = write_zip(tmp_path / "bluesky.zip", {"repo.car": repo.car, "chat.jsonl": b'{"text": "dm"}\n'})
    rep = import_json(vault_env, export)
    assert rep["source"] == "bluesky" and rep["added"]["post"] == N_POSTS


def test_reimport_unchanged(vault_env, tmp_path):
    path = write_car(tmp_path, build_repo(b_records()).car)
    import_json(vault_env, path)
    rep = import_json(vault_env, path)
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["updated"] == {"post": 0, "media": 0, "rating": 0}
    assert rep["unchanged"] == {"post": N_POSTS, "media": 0, "rating": 0}


def test_truncated_car_keeps_earlier_posts(vault_env, tmp_path):
    repo = build_repo(b_records(), order="commit-first")
    cut = repo.car[:-10]                                         # inside the last record's block
    rep = import_json(vault_env, write_car(tmp_path, cut), expect=3)
    reasons = [s["reason"] for s in rep["skipped"]]
    assert any(r.startswith("truncated or damaged after byte") for r in reasons), reasons
    assert any("the record's block is missing" in r for r in reasons), reasons
    # Keys sort as app.bsky.actor.profile < app.bsky.feed.like < app.bsky.feed.post/...: the last
    # block written is the newest post's.
    assert rep["added"]["post"] == N_POSTS - 1


def test_block_with_wrong_hash_is_ignored(vault_env, tmp_path):
    repo = build_repo(b_records(), order="commit-first")
    post_block = cbor(b_records()[f"{POST}/{b_rkey(1)}"])
    at = repo.car.index(post_block)
    tampered = repo.car[:at] + post_block.replace("Ahoj".encode(), "Hoja".encode()) + repo.car[at + len(post_block):]
    rep = import_json(vault_env, write_car(tmp_path, tampered), expect=3)
    reasons = " ".join(s["reason"] for s in rep["skipped"])
    assert "does not match its hash" in reasons and "the record's block is missing" in reasons
    assert uri(1) not in posts(vault_env) and len(posts(vault_env)) == N_POSTS - 1


def test_missing_mst_node_reported(vault_env, tmp_path):
    repo = build_repo(b_records(), order="commit-first")
    # Rewrite the CAR without the third block (an MST subtree node).
    header_len, pos = dagcbor.read_varint(repo.car, 0)
    out = bytearray(repo.car[: pos + header_len])
    for i, (cid, block) in enumerate(repo.blocks):
        if i != 2:
            out += varint(len(cid) + len(block)) + cid + block
    rep = import_json(vault_env, write_car(tmp_path, bytes(out)), expect=3)
    assert any("repository tree node" in s["reason"] for s in rep["skipped"])
    assert rep["added"]["post"] == N_POSTS - 1          # the left subtree held one post


def test_not_a_car_not_recognised(vault_env, tmp_path):
    res = vault_env.run("import", write_car(tmp_path, b"\x0anot a car at all"), "--json")
    assert res.code == 20


# ---------------------------------------------------------------------------------------------
# DAG-CBOR decoder and CAR reader
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    0, 23, 24, 255, 256, 65535, 65536, 2**32, 2**64 - 1, -1, -24, -25, -2**64,
    "", "ahoj 👋 Příliš", b"", b"\x00\xff", [], [1, [2, [3]]], {}, {"a": 1, "bb": [True, False, None]},
    1.5, -0.0, {"nested": {"list": ["x", {"y": b"z"}]}},
])
def test_decode_round_trip(value):
    assert dagcbor.decode(cbor(value)) == value


def test_decode_cid_link():
    raw = cid_of(b"block")
    got = dagcbor.decode(cbor({"link": Link(raw)}))
    assert got == {"link": dagcbor.CID(raw)}
    assert str(got["link"]).startswith("bafyrei")


@pytest.mark.parametrize("data,message", [
    (b"\x9f\x01\xff", "indefinite"),             # indefinite-length array
    (b"\xa1\x01\x02", "not a text string"),      # integer map key
    (b"\x01\x02", "trailing"),
    (b"\x62a", "data ends"),                     # text string cut short
    (b"\xc1\x01", "tag 1"),                      # only tag 42 is allowed
    (b"\xd8\x2a\x41\x00", "does not hold a CID"),
    (b"\x9a\xff\xff\xff\xff", "exceeds"),        # absurd array length
    (b"\x81" * 200 + b"\x01", "nested"),
    (b"\x62\xff\xfe", "UTF-8"),
])
def test_decode_errors(data, message):
    with pytest.raises(dagcbor.DagCborError, match=message):
        dagcbor.decode(data)


def test_read_car_tolerates_order_duplicates_and_extras():
    repo = build_repo(b_records(), extra_blocks=[cbor("extra")])
    car = dagcbor.read_car(repo.car)
    assert car.problems == []
    assert [r.raw for r in car.roots] == [repo.root]
    assert set(car.blocks) == {cid for cid, _ in repo.blocks}


def test_read_car_rejects_other_versions():
    header = cbor({"roots": [], "version": 2})
    with pytest.raises(dagcbor.DagCborError, match="version"):
        dagcbor.read_car(varint(len(header)) + header)


def test_tid_time():
    from importers.bluesky.importer import tid_time
    from vault.models import iso

    assert iso(tid_time(b_rkey(5))) == "2024-02-05T10:00:00Z"
    assert tid_time("self") is None


def test_repository_of_follows_only_is_an_empty_export_not_an_unknown_one(vault_env, tmp_path):
    # A real account that only followed people: a recognised export with nothing to import
    # succeeds (exit 0), adds nothing and says what it held.
    from datetime import datetime, timezone

    from tests.support.social_fixtures import tid

    follows = {f"app.bsky.graph.follow/{tid(datetime(2023, 8, day, tzinfo=timezone.utc))}":
               {"$type": "app.bsky.graph.follow", "subject": f"did:plc:friend{day:02d}", "createdAt": f"2023-08-{day:02d}T08:25:39.961Z"}
               for day in range(1, 13)}
    follows["app.bsky.actor.profile/self"] = {"$type": "app.bsky.actor.profile", "displayName": "Jana"}
    car = write_car(tmp_path, build_repo(follows).car)
    rep = import_json(vault_env, car)
    assert rep["source"] == "bluesky"
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0} and rep["skipped"] == []
    assert rep["held"] == {"profile records": 1, "follow records": 12}       # in the repository's key order
    assert rep["notes"] == ["nothing to import: 0 posts, 0 media, 0 ratings; it held 1 profile record, 12 follow records"]
    text = vault_env.run("import", car)
    assert text.code == 0 and "12 follow records" in text.out and "nothing to import" in text.out
    assert vault_env.records("--kind", "post") == []
