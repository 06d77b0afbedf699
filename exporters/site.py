"""Rendering the static site: pages, feeds and sitemap, with Jinja2 autoescaping every piece of
user text (HTML and XML alike).  Pure: takes prepared data, returns ``{bundle path: bytes}``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from vault.models import parse_iso

_ENV = None


def env():
    global _ENV
    if _ENV is None:
        from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

        _ENV = Environment(
            loader=PackageLoader("exporters", "templates"),
            autoescape=select_autoescape(["html", "xml"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
    return _ENV


@dataclass
class PostView:
    id: str
    path: str
    heading: str
    created_at: str
    date: str
    rfc822: str
    source: str
    paragraphs: list[list[str]]
    summary: str
    feed_text: str
    links: list[str] = field(default_factory=list)
    images: list[Any] = field(default_factory=list)
    place: dict | None = None
    url: str | None = None
    text: str | None = None
    premium: bool = False
    premium_path: str | None = None
    teaser_paragraphs: list[list[str]] = field(default_factory=list)
    og_image: str | None = None
    jsonld: dict = field(default_factory=dict)


def paragraphs(text: str | None) -> list[list[str]]:
    if not text:
        return []
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return [b.strip("\n").split("\n") for b in blocks]


def clip(text: str | None, n: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= n else flat[: n - 1].rstrip() + "…"


def rfc822(iso_time: str) -> str:
    dt = parse_iso(iso_time) or datetime(1970, 1, 1)
    return format_datetime(dt, usegmt=True)


def archive_pages(posts: list[PostView], per: int) -> tuple[list[PostView], str | None, list[tuple[str, list[PostView], str, str | None]]]:
    """The home page's posts and its "older" link, then the archive pages.

    Archive pages are numbered from the OLDEST post, so adding a post changes the home page and
    the newest archive page only: every older page stays byte-identical and is not re-uploaded.
    Each page: (path, posts newest first, newer link, older link).
    """
    n = len(posts)
    home = posts[:per]
    if n <= per:
        return home, None, []
    oldest_first = posts[::-1]
    chunks = [oldest_first[i : i + per] for i in range(0, n, per)]
    count = len(chunks)
    pages = []
    for k, chunk in enumerate(chunks, start=1):
        newer = f"page/{k + 1}/index.html" if k < count else "index.html"
        older = f"page/{k - 1}/index.html" if k > 1 else None
        pages.append((f"page/{k}/index.html", chunk[::-1], newer, older))
    first_off_home = (n - 1 - per) // per + 1
    return home, f"page/{first_off_home}/index.html", pages


def render_post(site, post: PostView, has_reputation: bool, has_premium: bool) -> bytes:
    return env().get_template("post.html").render(
        site=site, has_reputation=has_reputation, has_premium=has_premium, root="../../", post=post).encode("utf-8")


def render_site(site, posts: list[PostView], markets: list[dict], has_premium: bool, profile_jsonld: dict,
                reputation_jsonld: dict, updated: str) -> dict[str, bytes]:
    """Every page but the post pages (see ``render_post``), the feeds and the sitemap."""
    e = env()
    out: dict[str, bytes] = {}
    common = {"site": site, "has_reputation": bool(markets), "has_premium": has_premium, "profile_jsonld": profile_jsonld}
    home, older, pages = archive_pages(posts, site.per_page)
    index = e.get_template("index.html")
    out["index.html"] = index.render(**common, root="", posts=home, archive_page=None, self_path="",
                                     newer_path=None, older_path=older).encode("utf-8")
    for k, (path, chunk, newer, older_link) in enumerate(pages, start=1):
        out[path] = index.render(**common, root="../../", posts=chunk, archive_page=k, self_path=path,
                                 newer_path=newer, older_path=older_link).encode("utf-8")
    if markets:
        out["reputation/index.html"] = e.get_template("reputation.html").render(
            **common, root="../", markets=markets, reputation_jsonld=reputation_jsonld).encode("utf-8")
    if site.monetization.enabled:
        out["support/index.html"] = e.get_template("support.html").render(**common, root="../").encode("utf-8")
    feed_posts = posts[:50]
    out["atom.xml"] = e.get_template("atom.xml").render(site=site, posts=feed_posts, updated=updated).encode("utf-8")
    out["rss.xml"] = e.get_template("rss.xml").render(site=site, posts=feed_posts, updated_rfc822=rfc822(updated)).encode("utf-8")
    out["feed.json"] = json_feed(site, feed_posts)
    urls = [{"path": "", "lastmod": updated[:10]}]
    urls += [{"path": p.path, "lastmod": p.created_at[:10]} for p in posts]
    if markets:
        urls.append({"path": "reputation/index.html", "lastmod": updated[:10]})
    if site.monetization.enabled:
        urls.append({"path": "support/index.html", "lastmod": None})
    out["sitemap.xml"] = e.get_template("sitemap.xml").render(site=site, urls=urls).encode("utf-8")
    out["robots.txt"] = f"User-agent: *\nAllow: /\nSitemap: {site.site_url}sitemap.xml\n".encode()
    return out


def template_digest() -> str:
    """Changes whenever a template or this program's version changes (part of page keys)."""
    import hashlib
    from importlib.resources import files

    import vault

    h = hashlib.sha256(vault.__version__.encode())
    for item in sorted(files("exporters").joinpath("templates").iterdir(), key=lambda t: t.name):
        h.update(item.name.encode() + b"\0" + item.read_bytes())
    return h.hexdigest()


def json_feed(site, posts: list[PostView]) -> bytes:
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": site.title,
        "home_page_url": site.site_url,
        "feed_url": f"{site.site_url}feed.json",
        "language": site.language,
        "authors": [{"name": site.author or site.title}],
        "items": [
            {"id": f"{site.site_url}{p.path}", "url": f"{site.site_url}{p.path}", "title": p.heading,
             "content_text": p.feed_text, "date_published": p.created_at}
            for p in posts
        ],
    }
    if site.description:
        feed["description"] = site.description
    return (json.dumps(feed, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
