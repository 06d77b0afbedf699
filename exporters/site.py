"""Rendering the static site: pages, feeds and sitemap, with Jinja2 autoescaping every piece of
user text (HTML and XML alike).  Pure: takes prepared data, returns ``{bundle path: bytes}``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from vault.models import parse_iso

_ENV = None
LINK_SCHEMES = ("http", "https", "mailto")

# Characters no XML 1.0 document may hold (C0 controls but tab, LF and CR; lone surrogates;
# U+FFFE/U+FFFF) plus those HTML calls control or non-characters (DEL, C1, U+FDD0..U+FDEF and
# the last two code points of every plane).  Imported text can carry any of them.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
                      + "".join(f"\\U{p:04x}fffe\\U{p:04x}ffff" for p in range(0, 17)) + "]")


def xml_text(text: str) -> str:
    """``text`` without the characters that make XML ill-formed or HTML invalid."""
    return _ILLEGAL.sub("", text)


def clean_deep(value: Any) -> Any:
    """``xml_text`` applied to every string (keys included) of a JSON-like value."""
    if isinstance(value, str):
        return xml_text(value)
    if isinstance(value, dict):
        return {clean_deep(k): clean_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_deep(v) for v in value]
    return value


def safe_href(url: Any) -> str | None:
    """``url`` when it may become a link: an absolute http(s) URL with a host, or a mailto: address.
    Anything else (``javascript:``, ``data:``, ``vbscript:``, relative or protocol-relative
    paths, URLs with spaces or control characters that browsers would strip) is None: the
    templates show it as text."""
    if not isinstance(url, str):
        return None
    candidate = url.strip()
    if not candidate or any(c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in candidate):
        return None
    scheme, sep, rest = candidate.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in LINK_SCHEMES:
        return None
    if scheme == "mailto":
        return candidate if rest and not rest.startswith("/") else None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if not rest.startswith("//") or not parts.hostname:
        return None
    return candidate


def _finalize(value: Any) -> Any:
    # Every {{ ... }} passes through here: strings (escaped or already markup) lose the
    # characters XML and HTML forbid.
    if isinstance(value, str):
        from markupsafe import Markup

        cleaned = xml_text(value)
        return Markup(cleaned) if isinstance(value, Markup) else cleaned
    return value


def _dumps(obj: Any, **kwargs: Any) -> str:
    return json.dumps(clean_deep(obj), **kwargs)


def env():
    global _ENV
    if _ENV is None:
        from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

        _ENV = Environment(
            loader=PackageLoader("exporters", "templates"),
            autoescape=select_autoescape(["html", "xml"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            finalize=_finalize,
        )
        _ENV.policies["json.dumps_function"] = _dumps
        _ENV.globals["href"] = safe_href
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
    premium_media: int = 0         # media encrypted with a premium post (never shown in the clear)
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

    The home page holds the newest ``per`` posts; every other post is on exactly one archive
    page.  Archive pages are numbered from the OLDEST post (page 1 holds the oldest ``per``) and
    only the newest one may be short, so adding a post changes the home page and the newest
    archive page only: older pages keep their posts (their page list changes only when a page is
    added).  Each page: (path, posts newest first, newer link, older link).
    """
    home = posts[:per]
    rest = posts[per:]
    if not rest:
        return home, None, []
    oldest_first = rest[::-1]
    chunks = [oldest_first[i : i + per] for i in range(0, len(rest), per)]
    count = len(chunks)
    pages = []
    for k, chunk in enumerate(chunks, start=1):
        newer = f"page/{k + 1}/index.html" if k < count else "index.html"
        older = f"page/{k - 1}/index.html" if k > 1 else None
        pages.append((f"page/{k}/index.html", chunk[::-1], newer, older))
    return home, f"page/{count}/index.html", pages


def page_links(count: int, current: int | None, window: int = 3) -> list[dict]:
    """Numbered page links, newest first: the home page ("Latest"), then archive pages from
    ``count`` down to 1, keeping the first, the last and ``window`` pages either side of the
    current one (``None`` for gaps).  ``current`` is None on the home page."""
    if count == 0:
        return []
    here = count + 1 if current is None else current
    items: list[dict] = [{"label": "Latest", "path": "index.html", "current": current is None}]
    gap = False
    for k in range(count, 0, -1):
        if k in (1, count) or abs(k - here) <= window:
            items.append({"label": str(k), "path": f"page/{k}/index.html", "current": k == current})
            gap = False
        elif not gap:
            items.append({"label": None, "path": None, "current": False})
            gap = True
    return items


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
    count = len(pages)
    out["index.html"] = index.render(**common, root="", posts=home, archive_page=None, self_path="",
                                     newer_path=None, older_path=older, page_links=page_links(count, None)).encode("utf-8")
    for k, (path, chunk, newer, older_link) in enumerate(pages, start=1):
        out[path] = index.render(**common, root="../../", posts=chunk, archive_page=k, self_path=path,
                                 newer_path=newer, older_path=older_link, page_links=page_links(count, k)).encode("utf-8")
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
    return (json.dumps(clean_deep(feed), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
