"""The post page cache: a page is rendered again exactly when its bytes would change.

A post page's key is built from what the page is made of (``vault.publish.views.page_inputs``
plus the settings, templates and code), not from the rendered view.  These tests change one input
at a time and check both sides: the pages it affects are rendered again, no other page is, and the
incremental bundle is byte for byte the one a build from scratch makes.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from exporters.site import render as site_mod
from exporters.site.media import PublishedMedia
from exporters.site.output import RACY_NS
from tests.support.post_fixtures import inject, media_item, post
from vault.demo.samples import _jpeg
from vault.publish import build as build_mod
from vault.publish import views

SETTINGS = """\
publish:
  title: {title}
  base_url: https://jana.example.org/
  per_page: 5
"""


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _rich_post() -> dict:
    return {"id": "p_1", "kind": "post", "source": "mastodon", "source_id": "1", "created_at": "2024-03-04T05:06:07Z",
            "title": "A walk", "text": "First line\n\nSecond paragraph", "links": ["https://example.org/"],
            "place": {"name": "Brno"}, "url": "https://mastodon.example/@jana/1", "tags": ["walk"],
            "extra": {"note_title": "A note"}, "media": ["m_1"], "visibility": "public", "raw": {"id": "1"}}


def _image() -> PublishedMedia:
    return PublishedMedia(id="m_1", kind="image", src="media/m_1.jpg", width=640, height=480,
                          srcset=[{"path": "media/m_1-320.jpg", "width": 320}], alt="Alt", caption="Caption",
                          files=["media/m_1.jpg"], hashes={"media/m_1.jpg": "0" * 64})


def _changed(value):
    if isinstance(value, str) and value[:4].isdigit():
        return "2025-06-07T08:09:10Z"
    if isinstance(value, str):
        return value + " changed"
    if isinstance(value, bool) or value is None:
        return "set"
    if isinstance(value, int):
        return value + 1
    if isinstance(value, list):
        return [*value, "more"]
    if isinstance(value, dict):
        return {**value, "more": "x"}
    raise AssertionError(f"no way to change {value!r}")


class _Conf:
    site_url = "https://jana.example.org/"
    author = "Jana"
    title = "Jana"


@pytest.mark.parametrize("source", ["mastodon", "facebook"])
def test_page_inputs_change_whenever_the_view_does(source):
    """Every field of the record and of its media: if changing it changes the view, it changes
    the page's inputs (a field a view starts reading cannot be forgotten in the key)."""
    rec = dict(_rich_post(), source=source)
    image = _image()

    def made(r: dict, im: PublishedMedia):
        return asdict(views.post_view(r, [im], _Conf())), views.page_inputs(r, [im])

    base_view, base_inputs = made(rec, image)
    assert made(copy.deepcopy(rec), copy.deepcopy(image)) == (base_view, base_inputs)
    perturbed = [({**rec, k: _changed(v)}, image) for k, v in rec.items()]
    perturbed += [({**rec, "extra": {"note_title": "Another note"}}, image), ({**rec, "title": None}, image)]
    perturbed += [(rec, PublishedMedia(**{**{f.name: getattr(image, f.name) for f in fields(image)},
                                          f.name: _changed(getattr(image, f.name))})) for f in fields(image)]
    view_changes = 0
    for r, im in perturbed:
        view, inputs = made(r, im)
        if view != base_view:
            view_changes += 1
            assert inputs != base_inputs, (r, im)
    assert view_changes >= 12  # the perturbations do reach the view
    # A premium post's key differs from the public one's, and with the number of sealed media.
    assert len({views.page_inputs(rec, []), views.page_inputs(rec, [], "premium", 0), views.page_inputs(rec, [], "premium", 1)}) == 3


def _as_if_saved_later(out: Path) -> None:
    """Date the build state a few seconds after the files it describes.  A file written within
    the last two seconds before the state was saved is "racy" (it could change again within the
    same clock tick, unseen) and is never trusted from the state; builds seconds apart in a test
    would otherwise re-render every page whatever their keys."""
    state_path = build_mod._state_path(out)
    state = json.loads(state_path.read_text())
    state["saved_at_ns"] = time.time_ns() + 5 * RACY_NS
    state_path.write_text(json.dumps(state))


@pytest.fixture
def renders(monkeypatch):
    """The ids of the posts whose page the builds render."""
    seen: list[str] = []
    real = site_mod.render_post

    def counting(site, view, *args, **kwargs):
        seen.append(view.id)
        return real(site, view, *args, **kwargs)

    monkeypatch.setattr(site_mod, "render_post", counting)
    return seen


def test_a_page_is_rebuilt_exactly_when_its_bytes_change(vault_env, tmp_path, renders, monkeypatch):
    photo = _jpeg((200, 30, 30), size=(400, 300))
    items = [media_item("a.jpg", photo, caption="Red square")]
    items += [post(f"s{i}", i, f"Post {i}", media_refs=["a.jpg"] if i == 1 else [], title=f"Title {i}") for i in range(1, 5)]
    inject(vault_env.path, items)
    (vault_env.path / "vault.yaml").write_text(SETTINGS.format(title="Jana"))
    assert vault_env.run("mark", "--all", "--public").code == 0
    ids = {r["source_id"]: r["id"] for r in vault_env.records("--kind", "post")}
    mid = vault_env.records("--kind", "media")[0]["id"]
    assert vault_env.run("mark", ids["s4"], "--add-tag", "walk").code == 0
    out = tmp_path / "site"
    fresh_builds = iter(range(100))

    def publish() -> tuple[set[str], dict]:
        renders.clear()
        res = vault_env.run("publish", "--out", out, "--json")
        assert res.code == 0, res.err
        _as_if_saved_later(out)
        rendered = set(renders)
        # What the cache kept is what a build from scratch makes.
        fresh = tmp_path / f"fresh{next(fresh_builds)}"
        assert vault_env.run("publish", "--out", fresh).code == 0
        assert _tree(out) == _tree(fresh)
        return rendered, res.json()["build"]

    everything = set(ids.values())
    assert publish()[0] == everything
    rendered, built = publish()
    assert rendered == set() and built["written"] == 0

    # The photo's caption: only the post showing it.
    inject(vault_env.path, [media_item("a.jpg", photo, caption="A red square at noon")])
    assert publish()[0] == {ids["s1"]}
    assert "A red square at noon" in (out / f"posts/{ids['s1']}/index.html").read_text()

    # A post's title and text: that post only (a page shows no other post, so its neighbours stay).
    inject(vault_env.path, [post("s2", 2, "Post 2, edited", title="Title 2, edited")])
    assert publish()[0] == {ids["s2"]}

    # A tag (the site already has tag pages): that post only.
    assert vault_env.run("mark", ids["s3"], "--add-tag", "walk").code == 0
    assert publish()[0] == {ids["s3"]}

    # The photo made private: it leaves the post that showed it.
    assert vault_env.run("mark", mid, "--private").code == 0
    assert publish()[0] == {ids["s1"]}
    assert "media/" not in (out / f"posts/{ids['s1']}/index.html").read_text()

    # A setting, then the program's (and so the templates') version: every page.
    (vault_env.path / "vault.yaml").write_text(SETTINGS.format(title="Jana N."))
    assert publish()[0] == everything
    monkeypatch.setattr("vault.plugin_api.__version__", "99.0.0-test")
    assert publish()[0] == everything
    assert publish()[0] == set()
