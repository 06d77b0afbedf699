"""A richer published site for the site and browser tests: untitled and titled posts over two years,
tags, photos in and out of posts at every visibility, and ratings."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

from tests.support.post_fixtures import inject, post, rating
from vault.models import MediaItem

SITE = "https://jana.example.org/"


def jpeg(color, size=(640, 480)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def photo(ref: str, color, when: datetime, caption=None, alt=None) -> MediaItem:
    data = jpeg(color)
    return MediaItem(ref=ref, open=lambda: io.BytesIO(data), size=len(data), filename=ref, caption=caption, alt=alt,
                     created_at=when)


def configure(env, extra: str = "") -> None:
    (env.path / "vault.yaml").write_text(f"publish:\n  title: Site test\n  base_url: {SITE}\n{extra}")


def build(env, out: Path) -> dict:
    res = env.run("publish", "--out", out, "--json")
    assert res.code == 0, res.err
    return res.json()


def rid(env, text: str) -> str:
    return env.run("search", text, "--json").jsonl()[0]["id"]


def media_ids(env) -> dict[str, str]:
    return {r["filename"]: r["id"] for r in env.records("--kind", "media")}


def month(m: int, d: int = 5, y: int = 2024) -> datetime:
    return datetime(y, m, d, 12, tzinfo=timezone.utc)


def rich_site(env, tmp_path: Path) -> Path:
    """Public untitled and titled posts over two years with tags, a post with a photo, four
    photos of no post (two public, one private, one premium), a private tagged post, ratings."""
    old = post("old", 1, "An untitled note from last year about the river at dawn.")
    old.created_at = datetime(2023, 6, 2, 8, tzinfo=timezone.utc)
    inject(env.path, [
        photo("DSC_1.jpg", (200, 60, 30), month(3), caption="Harbour at noon", alt="Boats moored in a harbour"),
        photo("DSC_2.jpg", (30, 60, 200), month(4), caption="Blue hour", alt="A blue evening sky"),
        photo("DSC_3.jpg", (10, 10, 10), month(5), caption="Privgallerycanary", alt="Privaltcanary"),
        photo("DSC_4.jpg", (90, 90, 10), month(6), caption="Premgallerycanary", alt="Premaltcanary"),
        photo("inpost.jpg", (10, 160, 90), month(1), alt="A green field"),
        old,
        post("plain", 3, "Just a quick thought with no title at all. " * 3 + "\n\nSecond paragraph of the thought."),
        post("titled", 4, "Body of the titled article.", title="A proper title"),
        post("withphoto", 5, "A post with a photo of a field", media_refs=["inpost.jpg"]),
        post("hidden", 6, "Hiddenpostcanary text"),
    ])
    inject(env.path, [rating("r1", "positive", month(1), "Great"), rating("r2", "positive", month(1, 20), "Fast"),
                      rating("r3", "neutral", month(3), "Fine"), rating("r4", "negative", month(4), "Late"),
                      rating("r5", "positive", month(4, 9), "Good")], source="ebay")
    configure(env, "  image: images/me.jpg\n")
    assert env.run("mark", "--all", "--public").code == 0
    media = media_ids(env)
    assert env.run("mark", media["DSC_3.jpg"], rid(env, "Hiddenpostcanary"), "--private").code == 0
    assert env.run("mark", media["DSC_4.jpg"], "--premium").code == 0
    assert env.run("mark", rid(env, "quick thought"), rid(env, "river at dawn"), "--add-tag", "walks").code == 0
    assert env.run("mark", rid(env, "titled article"), "--add-tag", "Café Life").code == 0
    assert env.run("mark", rid(env, "Hiddenpostcanary"), "--add-tag", "secrettagcanary").code == 0
    out = tmp_path / "site"
    build(env, out)
    return out
