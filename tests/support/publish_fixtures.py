"""A small published site: eight public posts (one with a GPS-tagged photo), one private canary,
the settings every publish test starts from, and a helper that builds it to a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.post_fixtures import inject, media_item, post
from vault.demo.samples import _jpeg

CANARY = "Zebracanary-private-7731"
SETTINGS = """\
publish:
  title: "Jana's <archive>"
  author: Jana Nováková
  base_url: https://jana.example.org/
  language: cs
  same_as: [https://mastodon.example/@jana]
  per_page: 5
{extra}
"""


def configure(vault_env, extra: str = "") -> None:
    (vault_env.path / "vault.yaml").write_text(SETTINGS.format(extra=extra))


@pytest.fixture
def site_vault(vault_env):
    """A vault with 8 public posts (one with a photo carrying GPS EXIF), one private canary."""
    photo = _jpeg((10, 100, 200), size=(1600, 1200), taken="2024:01:01 10:00:00")
    items = [media_item("a.jpg", photo, caption="Sunset <b>over</b> the river")]
    for i in range(1, 9):
        items.append(post(f"s{i}", i, f"Post number {i} <script>alert('x')</script>\n\nSecond paragraph & more",
                          media_refs=["a.jpg"] if i == 3 else [], links=["https://example.org/?a=1&b=2"]))
    items.append(post("secret", 20, f"{CANARY} my private thoughts"))
    inject(vault_env.path, items)
    configure(vault_env)
    assert vault_env.run("mark", "--source", "mastodon", "--public").code == 0
    rid = vault_env.run("search", CANARY, "--json").jsonl()[0]["id"]
    assert vault_env.run("mark", rid, "--private").code == 0
    vault_env.photo = photo
    return vault_env


def build(env, out: Path, *args) -> dict:
    res = env.run("publish", "--out", out, "--json", *args)
    assert res.code == 0, res.err
    return res.json()


def bundle_bytes(out: Path) -> dict[str, bytes]:
    """Every file of a built bundle by its path inside it."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def upload_rank(path: str) -> int:
    """The order a target must upload in: assets first, then pages, the manifest last."""
    return 2 if path == "manifest.json" else 1 if path.endswith(".html") else 0
