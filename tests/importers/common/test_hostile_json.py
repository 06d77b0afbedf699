"""Large and hostile JSON inside exports: posts files are read as streams, so memory follows the
largest accepted post, and one oversized or absurdly nested post is skipped with its position
while every other post is imported."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.support.hostile_files import MiB, run_measured

FB_POSTS = "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json"
FB_REL = "posts/your_posts__check_ins__photos_and_videos_1.json"  # as reported: the lone top folder is stripped
T0 = 1_600_000_000


def _post(i: int, text: str | None = None, **extra) -> dict:
    return {"timestamp": T0 + i, "data": [{"post": text or f"post number {i}"}], **extra}


def _zip_stream(path: Path, member: str, pieces, method: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip whose ``member`` is written piece by piece (never whole in memory).

    Big repetitive members are stored, not deflated: deflated they would compress about
    1000:1 and be refused as zip bombs before any JSON is read."""
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(member, (2024, 5, 14, 12, 0, 0))
        info.compress_type = method
        with zf.open(info, "w", force_zip64=True) as out:
            for piece in pieces:
                out.write(piece)
    return path


def _array(elements) -> list[bytes]:
    out = [b"["]
    for n, element in enumerate(elements):
        out.append((b",\n" if n else b"") + (element if isinstance(element, bytes) else json.dumps(element).encode()))
    out.append(b"]")
    return out


def _posts(vault_env) -> list[dict]:
    return [r for r in vault_env.records("--kind", "post")]


def test_ijson_uses_its_c_backend_when_built():
    import ijson

    try:
        import ijson.backends.yajl2_c  # noqa: F401
    except ImportError:
        pytest.skip("ijson was installed without its C extension")
    assert ijson.backend == "yajl2_c"


def test_a_large_posts_file_is_read_in_bounded_memory(vault_env, tmp_path):
    # 100 MB of posts; parsed whole this needs several times that (an 892 MB file took 4.4 GB).
    filler = "x" * 25_000
    elements = (_post(i % 40, tracking=filler) for i in range(4000))  # 40 distinct posts, repeated
    export = _zip_stream(tmp_path / "facebook.zip", FB_POSTS, _array(elements), zipfile.ZIP_STORED)
    res = run_measured(["--json", "import", export])
    assert res.code == 0, res.err
    assert json.loads(res.out)["added"]["post"] == 40
    assert res.peak_mib < 120, f"peak {res.peak_mib:.0f} MiB"


def test_a_120_mb_string_skips_only_its_post(vault_env, tmp_path):
    def pieces():
        yield b'[' + json.dumps(_post(1)).encode() + b',\n{"timestamp": %d, "data": [{"post": "' % (T0 + 2)
        block = b"A" * MiB
        for _ in range(120):
            yield block
        yield b'"}]},\n' + json.dumps(_post(3)).encode() + b']'

    export = _zip_stream(tmp_path / "facebook.zip", FB_POSTS, pieces(), zipfile.ZIP_STORED)
    res = run_measured(["--json", "import", export])
    assert res.code == 3, res.err
    report = json.loads(res.out)
    assert report["added"]["post"] == 2
    assert report["skipped"] == [{"path": FB_REL, "reason": "element #2 holds a text longer than 8 MiB; skipped"}]
    assert res.peak_mib < 120, f"peak {res.peak_mib:.0f} MiB"
    assert sorted(p["text"] for p in _posts(vault_env)) == ["post number 1", "post number 3"]


def test_a_post_nested_600_levels_deep_is_skipped(vault_env, tmp_path):
    deep = b'{"timestamp": %d, "data": [{"post": "deep"}], "attachments": ' % (T0 + 2) + b"[" * 600 + b"]" * 600 + b"}"
    export = _zip_stream(tmp_path / "facebook.zip", FB_POSTS, _array([_post(1), deep, _post(3)]))
    res = vault_env.run("--json", "import", export)
    assert res.code == 3, res.err
    assert res.json()["skipped"] == [{"path": FB_REL, "reason": "element #2 is nested more than 100 levels deep; skipped"}]
    assert sorted(p["text"] for p in _posts(vault_env)) == ["post number 1", "post number 3"]


def test_a_damaged_posts_file_keeps_the_posts_before_the_damage(vault_env, tmp_path):
    body = b"".join(_array([_post(1), _post(2), _post(3)]))
    export = _zip_stream(tmp_path / "facebook.zip", FB_POSTS, [body[: body.rindex(b"{")] + b'{"timestamp": ,}'])
    res = vault_env.run("--json", "import", export)
    assert res.code == 3
    (skipped,) = res.json()["skipped"]
    assert skipped["path"] == FB_REL and skipped["reason"].startswith("invalid JSON after element #3")
    assert sorted(p["text"] for p in _posts(vault_env)) == ["post number 1", "post number 2"]


def _mastodon_export(tmp_path: Path, activities: list[bytes]) -> Path:
    def create(i: int, content: str) -> dict:
        return {"id": f"https://m.example/users/jana/statuses/{i}/activity", "type": "Create",
                "published": "2024-05-14T12:00:00Z", "object": {
                    "id": f"https://m.example/users/jana/statuses/{i}", "type": "Note",
                    "published": "2024-05-14T12:00:00Z", "content": content,
                    "to": ["https://www.w3.org/ns/activitystreams#Public"], "attachment": []}}
    items = [a if isinstance(a, bytes) else json.dumps(create(*a)).encode() for a in activities]
    outbox = (b'{"@context": "https://www.w3.org/ns/activitystreams", "type": "OrderedCollection", '
              b'"totalItems": %d, "orderedItems": [' % len(items) + b",".join(items) + b"]}")
    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:  # stored: see _zip_stream
        zf.writestr("outbox.json", outbox)
        zf.writestr("actor.json", json.dumps({"type": "Person", "preferredUsername": "jana"}))
    return path


def test_mastodon_skips_an_oversized_and_a_deep_activity(vault_env, tmp_path):
    huge = json.dumps({"type": "Create", "object": {"type": "Note", "content": "B" * (9 * MiB)}}).encode()
    deep = b'{"type": "Create", "object": ' + b"[" * 300 + b"]" * 300 + b"}"
    export = _mastodon_export(tmp_path, [(1, "<p>first</p>"), huge, deep, (4, "<p>fourth</p>")])
    res = vault_env.run("--json", "import", export)
    assert res.code == 3, res.err
    reasons = [s["reason"] for s in res.json()["skipped"]]
    assert reasons == ["element #2 of 'orderedItems' holds a text longer than 8 MiB; skipped",
                       "element #3 of 'orderedItems' is nested more than 100 levels deep; skipped"]
    assert sorted(p["text"] for p in _posts(vault_env)) == ["first", "fourth"]


def test_mastodon_html_nested_thousands_deep_still_imports(vault_env, tmp_path):
    content = "<p>" + "<span>" * 5000 + "deep text" + "</span>" * 5000 + "</p>"
    export = _mastodon_export(tmp_path, [(1, content), (2, "<p>second</p>")])
    res = vault_env.run("--json", "import", export)
    assert res.code == 0, res.err
    assert sorted(p["text"] for p in _posts(vault_env)) == ["deep text", "second"]


def test_x_skips_a_deep_tweet_and_keeps_the_others(vault_env, tmp_path):
    def tweet(i: int) -> bytes:
        return json.dumps({"tweet": {"id_str": str(1790000000000000000 + i), "full_text": f"tweet {i}",
                                     "created_at": "Tue May 14 12:00:00 +0000 2024", "entities": {}}}).encode()
    deep = b'{"tweet": {"id_str": "1", "entities": ' + b"[" * 700 + b"]" * 700 + b"}}"
    body = b"window.YTD.tweets.part0 = [" + b",".join([tweet(1), deep, tweet(3)]) + b"];\n"
    path = tmp_path / "twitter.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Your archive.html", b"<html></html>")
        zf.writestr("data/tweets.js", body)
        zf.writestr("data/manifest.js", b'window.__THAR_CONFIG = {"dataTypes": {"tweets": {"files": '
                                        b'[{"fileName": "data/tweets.js", "count": "3"}]}}};')
    res = vault_env.run("--json", "import", path)
    assert res.code == 3, res.err
    assert res.json()["skipped"] == [{"path": "data/tweets.js", "reason": "element #2 is nested more than 100 levels deep; skipped"}]
    assert sorted(p["text"] for p in _posts(vault_env)) == ["tweet 1", "tweet 3"]


# ---------------------------------------------------------------------------------------------
# The stream reader itself, over real members
# ---------------------------------------------------------------------------------------------


def _stream(tmp_path: Path, data: bytes, **kwargs) -> list:
    from importers.common.members import JsonLimits, RecordStream
    from vault.importing.archive import ExportSource

    path = tmp_path / "posts.json"
    path.write_bytes(data)
    with ExportSource([path]) as src:
        return list(RecordStream(src.entries[0], limits=JsonLimits(max_string=2**16, max_item=2**20), **kwargs))


def test_the_string_guard_passes_ordinary_json_unchanged(tmp_path):
    # Escapes of every kind, also where they straddle the reader's 64 KiB chunk boundaries.
    import random

    rng = random.Random(7)
    pieces = ['"', "\\", "é", "\n", "\u4e00", "\U0001f600", "x" * 40, "\\u00e9", '\\"']
    for _ in range(20):
        items = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 1500))) for _ in range(40)]
        data = json.dumps(items, ensure_ascii=rng.random() < 0.5).encode()
        got = _stream(tmp_path, data)
        assert [value for _, value in got] == items


def test_a_huge_number_token_stops_the_file_in_bounded_memory(tmp_path):
    got = _stream(tmp_path, b'[{"a": 1}, ' + b"7" * (3 * 2**20) + b"]")
    assert got[0] == (1, {"a": 1})
    assert got[1].reason == "invalid JSON after element #1: a number or literal longer than 65536 bytes"


def test_arrays_under_keys_a_single_post_and_an_empty_file(tmp_path):
    from importers.meta.reader import stream_records
    from vault.importing.archive import ExportSource

    cases = {
        b'{"status_updates": [{"timestamp": 1}, 5]}': [(1, {"timestamp": 1}), (2, 5)],
        b'{"timestamp": 1, "data": [{"post": "one"}]}': [(1, {"timestamp": 1, "data": [{"post": "one"}]})],
        b'{"other_v2": [{"timestamp": 2}]}': [(1, {"timestamp": 2})],
        b"[]": [],
    }
    for data, expected in cases.items():
        path = tmp_path / "p.json"
        path.write_bytes(data)
        with ExportSource([path]) as src:
            stream = stream_records(src.entries[0], "status_updates", record_keys=("timestamp",))
            assert list(stream) == expected, data
        assert stream.empty == (data == b"[]")


def _delimiters(doc: bytes) -> list[int]:
    """Offsets of the quotes that open or close a string, found the slow way."""
    found, in_string, escaped = [], False, False
    for at, byte in enumerate(doc):
        if escaped:
            escaped = False
        elif in_string and byte == 0x5C:  # a backslash: the next byte is escaped
            escaped = True
        elif byte == 0x22:
            found.append(at)
            in_string = not in_string
    return found


def test_blanked_escapes_leave_exactly_the_string_delimiters_as_quotes():
    import random

    from importers.common.jsonguard import blank_escapes

    rng = random.Random(3)
    pieces = ['"', "\\", '\\"', "\\\\", '\\\\"', "\\u00e9", "\\u005c", "\\u0022", "\n", "\t", "é", "x", "[", "}"]
    for _ in range(300):
        doc = json.dumps(["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(8)],
                         ensure_ascii=rng.random() < 0.5).encode()
        blanked = blank_escapes(doc)
        assert len(blanked) == len(doc)
        assert [at for at, byte in enumerate(blanked) if byte == 0x22] == _delimiters(doc)


def test_an_over_long_string_of_escapes_is_cut_and_the_next_posts_keep_their_text(tmp_path):
    # Escapes left as they are by the guard (\u00e9, \n) and escaped quotes and backslashes,
    # straddling every chunk boundary of a string four times the limit: only its post is skipped.
    long_text = ('\u00e9\\"\n\\\\' * 70_000)[:4 * 2**16]
    posts = [{"text": "before \u00e9"}, {"text": long_text, "n": 2}, {"text": 'after "quoted" \\ \u00e9\n', "n": 3},
             {"text": "\u0022 plain"}]
    got = _stream(tmp_path, json.dumps(posts).encode())
    assert [item[1] for item in got if isinstance(item, tuple)] == [posts[0], posts[2], posts[3]]
    skipped = [item for item in got if not isinstance(item, tuple)]
    assert len(skipped) == 1 and "#2" in skipped[0].reason, skipped
