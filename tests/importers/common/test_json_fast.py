"""The fast path of the streaming JSON reader (ijson's C builder) against the exact reader: on
ordinary, damaged and hostile members they must yield the same elements and problems, and the
fast path must really read the ordinary ones alone."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from importers.common import jsonfast
from importers.common.members import JsonLimits, RecordStream
from vault.importing.archive import ExportSource

pytestmark = pytest.mark.skipif(not jsonfast.available(), reason="ijson without its C backend")


def _read(path: Path, exact: bool, monkeypatch, **kwargs) -> tuple[list, int, set, bool]:
    with monkeypatch.context() as m:
        if exact:
            m.setattr(jsonfast, "available", lambda: False)
        with ExportSource([path]) as src:
            stream = RecordStream(src.entries[0], **kwargs)
            got = list(stream)
    return got, stream.count, stream.arrays, stream.empty


def _value(rng: random.Random, depth: int) -> object:
    roll = rng.random()
    if depth > 0 and roll < 0.25:
        return {rng.choice(["a", "b", "text", "x.y", "é"]): _value(rng, depth - 1) for _ in range(rng.randint(0, 4))}
    if depth > 0 and roll < 0.45:
        return [_value(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    return rng.choice([1, -2.5, 1e300, True, None, "plain", 'q"uo\\te', "[{brackets}]", "\u4e00\U0001f600",
                       "x" * rng.randint(0, 3000), "\\u00e9"])


def _document(rng: random.Random) -> bytes:
    elements = [_value(rng, rng.randint(0, 9)) for _ in range(rng.randint(0, 300))]
    shape = rng.randrange(4)
    if shape == 0:
        doc: object = elements
    else:
        before = {f"k{i}": _value(rng, 3) for i in range(rng.randint(0, 3))}
        after = {"tail": _value(rng, 2)} if shape == 2 else {}
        key = rng.choice(["orderedItems", "things_v2"])
        doc = {**before, key: elements, **after}
        if shape == 3 and rng.random() < 0.5:
            doc = {**before, key: elements, "again_v2": elements[:3]}
    data = json.dumps(doc, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1])).encode()
    return data + rng.choice([b"", b"\n", b"  \r\n", b" x", b"}"]) if rng.random() < 0.3 else data


def _damage(rng: random.Random, data: bytes) -> bytes:
    if not data or rng.random() < 0.4:
        return data
    at = rng.randrange(len(data))
    return rng.choice([
        data[:at],
        data[:at] + b"@" + data[at:],
        data[:at] + "\ufdd0".encode() + data[at:],
        data[:at] + b"[" * 120 + b"]" * 120 + data[at:],
        data[:at] + b'"\\uFDD0"' + data[at:],
    ])


def test_the_fast_path_yields_what_the_exact_reader_yields(tmp_path, monkeypatch):
    rng = random.Random(12)
    path = tmp_path / "posts.json"
    limits = [JsonLimits(), JsonLimits(max_depth=5), JsonLimits(max_item=2**19)]
    for case in range(250):
        data = _damage(rng, _document(rng))
        path.write_bytes(data)
        kwargs = {"keys": ("orderedItems",), "limits": rng.choice(limits)}
        if rng.random() < 0.3:
            kwargs["fallback"] = lambda root: [root]
        fast = _read(path, False, monkeypatch, **kwargs)
        exact = _read(path, True, monkeypatch, **kwargs)
        assert fast == exact, (case, data[:300])


def _outbox(path: Path, n: int) -> Path:
    items = [{"type": "Create", "object": {"id": f"s/{i}", "content": f"<p>post {i} [x] {{y}}</p>", "tag": [],
                                           "deep": [[[[{"a": [1, 2.5, None]}]]]]}} for i in range(n)]
    path.write_text(json.dumps({"@context": ["a", {"b": "c"}], "type": "OrderedCollection",
                                "totalItems": n, "orderedItems": items}) + "\n")
    return path


def test_an_ordinary_outbox_is_read_by_the_fast_path_alone(tmp_path, monkeypatch):
    path = _outbox(tmp_path / "outbox.json", 3000)
    monkeypatch.setattr(RecordStream, "_parse", lambda *a: pytest.fail("the exact reader was used"))
    with ExportSource([path]) as src:
        stream = RecordStream(src.entries[0], ("orderedItems",))
        got = list(stream)
    assert [i for i, _ in got] == list(range(1, 3001)) and stream.count == 3000
    assert got[2999][1]["object"]["content"] == "<p>post 2999 [x] {y}</p>"
    assert stream.arrays == {"orderedItems"} and not stream.empty


def test_a_deep_element_late_in_the_file_hands_over_to_the_exact_reader(tmp_path, monkeypatch):
    path = _outbox(tmp_path / "outbox.json", 3000)
    text = path.read_text()
    at = text.index('{"type": "Create", "object": {"id": "s/2500"')
    path.write_text(text[:at] + "[" * 150 + "]" * 150 + ", " + text[at:])
    fast = _read(path, False, monkeypatch, keys=("orderedItems",))
    assert fast == _read(path, True, monkeypatch, keys=("orderedItems",))
    assert fast[0][2500].reason == "element #2501 of 'orderedItems' is nested more than 100 levels deep; skipped"
    assert len(fast[0]) == 3001


def test_long_texts_with_little_structure_go_to_the_exact_reader(tmp_path, monkeypatch):
    # 20 KB strings: the exact reader's cost follows its few events, the fast path's the bytes.
    path = tmp_path / "posts.json"
    path.write_text(json.dumps([{"timestamp": i, "data": [{"post": f"post {i}"}], "tracking": "x" * 20_000}
                                for i in range(120)]))
    parsed = []
    exact_parse = RecordStream._parse
    monkeypatch.setattr(RecordStream, "_parse", lambda self, source, skip: parsed.append(skip) or exact_parse(self, source, skip))
    fast = _read(path, False, monkeypatch)
    assert parsed and parsed[0] > 0  # the fast path gave the first posts, then handed over
    assert fast == _read(path, True, monkeypatch)
    assert [i for i, _ in fast[0]] == list(range(1, 121))
