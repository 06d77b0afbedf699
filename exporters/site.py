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


def render_site(site, posts: list[PostView], markets: list[dict], has_premium: bool, profile_jsonld: dict,
                reputation_jsonld: dict, updated: str) -> dict[str, bytes]:
    """Every HTML page, feed and the sitemap."""
    e = env()
    out: dict[str, bytes] = {}
    common = {"site": site, "has_reputation": bool(markets), "has_premium": has_premium}
    per = site.per_page
    pages = max(1, (len(posts) + per - 1) // per)
    for n in range(1, pages + 1):
        path = "index.html" if n == 1 else f"page/{n}/index.html"
        root = "" if n == 1 else "../../"
        chunk = posts[(n - 1) * per : n * per]
        out[path] = e.get_template("index.html").render(
            **common, root=root, posts=chunk, page_number=n, pages=pages, self_path=path if n > 1 else "",
            prev_path="index.html" if n == 2 else f"page/{n - 1}/index.html", next_path=f"page/{n + 1}/index.html",
            profile_jsonld=profile_jsonld,
        ).encode("utf-8")
    for post in posts:
        out[post.path] = e.get_template("post.html").render(**common, root="../../", post=post).encode("utf-8")
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
