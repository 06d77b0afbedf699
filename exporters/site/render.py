"""Rendering the static site: pages, feeds and sitemap, with Jinja2 autoescaping every piece of
user text (HTML and XML alike).  Pure: takes prepared data, returns ``{bundle path: bytes}``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any

from vault.plugin_api import parse_iso

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
            loader=PackageLoader("exporters.site", "templates"),
            autoescape=select_autoescape(["html", "xml", "svg"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            finalize=_finalize,
        )
        _ENV.policies["json.dumps_function"] = _dumps
        _ENV.globals["href"] = safe_href
        _ENV.globals["canonical"] = canonical
        _ENV.globals["tag_slug"] = tag_slug
        _ENV.globals["badge_value"] = badge_value
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
    title: str | None = None       # the source's own title; None for untitled posts (no heading is made up)
    excerpt: str = ""              # what a listing shows of an untitled post
    tags: list[str] = field(default_factory=list)
    attachments: list[dict] = field(default_factory=list)  # JSON Feed attachments: [{"path", "mime"}]


@dataclass
class GalleryItem:
    """A public photo or video that belongs to no post."""
    id: str
    created_at: str
    date: str
    media: Any                     # exporters.site.media.PublishedMedia


def paragraphs(text: str | None) -> list[list[str]]:
    if not text:
        return []
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return [b.strip("\n").split("\n") for b in blocks]


def clip(text: str | None, n: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= n else flat[: n - 1].rstrip() + "…"


def canonical(path: str | None) -> str:
    """A bundle path as its public address: ``posts/x/index.html`` is ``posts/x/``."""
    path = path or ""
    return path[: -len("index.html")] if path == "index.html" or path.endswith("/index.html") else path


def tag_slug(name: str) -> str:
    """The path segment of a tag's page: the tag itself when it is already lower-case ASCII
    words joined by dashes, else its ASCII letters and digits plus a short hash of the name (so
    "Café", "cafe" and "CAFE" keep separate pages, and a tag of symbols still has one)."""
    import hashlib
    import unicodedata

    if re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", name) and len(name) <= 60:
        return name
    flat = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    stem = re.sub(r"[^a-z0-9]+", "-", flat).strip("-")[:50]
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{stem}-{digest}" if stem else digest


def rfc822(iso_time: str) -> str:
    dt = parse_iso(iso_time) or datetime(1970, 1, 1, tzinfo=timezone.utc)
    return format_datetime(dt.astimezone(timezone.utc), usegmt=True)


def archive_pages(posts: list[PostView], per: int) -> tuple[list[PostView], str | None, list[tuple[str, list[PostView], str, str | None]]]:
    """The home page's posts and its "older" link, then the archive pages.

    The home page holds the newest ``per`` posts; every other post is on exactly one archive
    page.  Archive pages are numbered from the OLDEST post (page 1 holds the oldest ``per``) and
    only the newest one may be short, so adding a post changes the home page and the newest
    archive page only, and a post that opens a new page changes the page before it too (its
    "newer" link): older pages keep their posts and their links (see ``page_links``).  Each
    page: (path, posts newest first, newer link, older link).
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
    """Numbered page links, newest first, ``None`` paths for gaps.  ``current`` is None on the
    home page, which links "Latest" (itself), the newest ``window`` archive pages and page 1.

    An archive page links "Latest", itself, the ``window`` pages before it and page 1: only
    older pages, which never change when a post is added, so neither does its list (the pages
    newer than it are one "Newer posts" link away, or on the home page)."""
    if count == 0:
        return []
    if current is None:
        shown = [k for k in range(count, 0, -1) if k in (1, count) or count + 1 - k <= window]
    else:
        shown = [k for k in range(current, 0, -1) if k == 1 or current - k <= window]
    items: list[dict] = [{"label": "Latest", "path": "index.html", "current": current is None}]
    above = count + 1
    for k in shown:
        if k < above - 1:
            items.append({"label": None, "path": None, "current": False})
        items.append({"label": str(k), "path": f"page/{k}/index.html", "current": k == current})
        above = k
    return items


def _first_image(posts) -> str | None:
    return next((p.og_image for p in posts if p.og_image), None)


def render_post(site, post: PostView, has_reputation: bool, has_premium: bool, nav: dict | None = None) -> bytes:
    return env().get_template("post.html").render(
        site=site, has_reputation=has_reputation, has_premium=has_premium, nav=nav or {}, root="../../", post=post,
        self_path=post.path, page_image=post.og_image, site_heading=not post.title).encode("utf-8")


GALLERY_PER_PAGE = 60


def gallery_pages(items: list[GalleryItem], per: int = GALLERY_PER_PAGE) -> list[tuple[str, list[GalleryItem]]]:
    """The gallery, newest first: ``gallery/index.html`` then ``gallery/page/2/index.html``..."""
    chunks = [items[i : i + per] for i in range(0, len(items), per)]
    return [("gallery/index.html" if k == 1 else f"gallery/page/{k}/index.html", chunk) for k, chunk in enumerate(chunks, start=1)]


def years_of(posts: list[PostView]) -> dict[str, list[PostView]]:
    """Public posts by year of publication, newest year first (premium posts show only on the
    home and archive pages, as teasers)."""
    out: dict[str, list[PostView]] = {}
    for p in posts:
        if not p.premium and p.created_at[:4].isdigit():
            out.setdefault(p.created_at[:4], []).append(p)
    return dict(sorted(out.items(), reverse=True))


def tags_of(posts: list[PostView]) -> list[dict]:
    """Tags of public posts, each with its slug and its posts (newest first), sorted by name."""
    by_tag: dict[str, list[PostView]] = {}
    for p in posts:
        if not p.premium:
            for t in p.tags:
                by_tag.setdefault(t, []).append(p)
    return [{"name": t, "path": f"tags/{tag_slug(t)}/index.html", "posts": by_tag[t]}
            for t in sorted(by_tag, key=lambda n: (n.lower(), n))]


def navigation(posts: list[PostView], gallery: list[GalleryItem]) -> dict:
    """Which site-wide sections exist (the header links to them on every page)."""
    return {"gallery": bool(gallery), "archive": bool(years_of(posts)), "tags": bool(tags_of(posts))}


def render_site(site, posts: list[PostView], markets: list[dict], has_premium: bool, profile_jsonld: dict,
                reputation_jsonld: dict, updated: str, gallery: list[GalleryItem] | None = None) -> dict[str, bytes]:
    """Every page but the post pages (see ``render_post``), the feeds, badges and the sitemap."""
    gallery = gallery or []
    common = {"site": site, "has_reputation": bool(markets), "has_premium": has_premium, "profile_jsonld": profile_jsonld,
              "nav": navigation(posts, gallery)}
    out: dict[str, bytes] = {}
    _home_and_archive(out, common, posts, gallery)
    listed = _gallery_pages(out, common, gallery)
    listed += _year_pages(out, common, posts, updated)
    listed += _tag_pages(out, common, posts, updated)
    if markets:
        _reputation_pages(out, common, markets, reputation_jsonld)
    if site.monetization.enabled:
        out["support/index.html"] = _page("support.html", common, root="../", self_path="support/index.html", page_image=None)
    _feeds(out, site, posts[:50], updated)
    _sitemap(out, site, posts, listed, updated, bool(markets))
    return out


def _page(template: str, common: dict, **values: Any) -> bytes:
    return env().get_template(template).render(**common, **values).encode("utf-8")


def _home_and_archive(out: dict[str, bytes], common: dict, posts: list[PostView], gallery: list[GalleryItem]) -> None:
    home, older, pages = archive_pages(posts, common["site"].per_page)
    count = len(pages)
    home_image = _first_image(home) or (gallery[0].media.src if gallery and gallery[0].media.kind == "image" else None)
    out["index.html"] = _page("index.html", common, root="", posts=home, archive_page=None, self_path="index.html",
                              page_image=home_image, gallery=gallery[:8],
                              newer_path=None, older_path=older, page_links=page_links(count, None))
    for k, (path, chunk, newer, older_link) in enumerate(pages, start=1):
        out[path] = _page("index.html", common, root="../../", posts=chunk, archive_page=k, self_path=path,
                          page_image=_first_image(chunk), gallery=[], newer_path=newer, older_path=older_link,
                          page_links=page_links(count, k))


def _gallery_pages(out: dict[str, bytes], common: dict, gallery: list[GalleryItem]) -> list[dict]:
    """The gallery's pages; returns their sitemap entries."""
    urls = []
    gpages = gallery_pages(gallery)
    for k, (path, gchunk) in enumerate(gpages, start=1):
        image = next((g.media.src for g in gchunk if g.media.kind == "image"), None)
        out[path] = _page("gallery.html", common, root="../" if k == 1 else "../../../", items=gchunk, page=k,
                          pages=[p for p, _ in gpages], self_path=path, page_image=image)
        urls.append({"path": canonical(path), "lastmod": gchunk[0].created_at[:10]})
    return urls


def _year_pages(out: dict[str, bytes], common: dict, posts: list[PostView], updated: str) -> list[dict]:
    """One page per year and the archive index; returns their sitemap entries."""
    urls = []
    years = years_of(posts)
    for year, items in years.items():
        path = f"{year}/index.html"
        out[path] = _page("list.html", common, root="../", heading=year, lead=f"{len(items)} post{'s' if len(items) != 1 else ''} from {year}.",
                          items=items, self_path=path, page_image=_first_image(items), kind="year")
        urls.append({"path": canonical(path), "lastmod": items[0].created_at[:10]})
    if years:
        out["archive/index.html"] = _page("archive.html", common, root="../", years=years, self_path="archive/index.html", page_image=None)
        urls.append({"path": "archive/", "lastmod": updated[:10]})
    return urls


def _tag_pages(out: dict[str, bytes], common: dict, posts: list[PostView], updated: str) -> list[dict]:
    """One page per tag and the tag index; returns their sitemap entries."""
    urls = []
    tags = tags_of(posts)
    for tag in tags:
        n = len(tag["posts"])
        out[tag["path"]] = _page("list.html", common, root="../../", heading=f"#{tag['name']}",
                                 lead=f"{n} post{'s' if n != 1 else ''} tagged {tag['name']}.",
                                 items=tag["posts"], self_path=tag["path"], page_image=_first_image(tag["posts"]), kind="tag")
        urls.append({"path": canonical(tag["path"]), "lastmod": tag["posts"][0].created_at[:10]})
    if tags:
        out["tags/index.html"] = _page("tags.html", common, root="../", tags=tags, self_path="tags/index.html", page_image=None)
        urls.append({"path": "tags/", "lastmod": updated[:10]})
    return urls


def _reputation_pages(out: dict[str, bytes], common: dict, markets: list[dict], reputation_jsonld: dict) -> None:
    charts = {m["source"]: rating_chart(m) for m in markets}
    out["reputation/index.html"] = _page("reputation.html", common, root="../", markets=markets, charts=charts,
                                         reputation_jsonld=reputation_jsonld, self_path="reputation/index.html", page_image=None)
    for m in markets:
        out[f"badges/{m['source']}.svg"] = render_badge(common["site"], m)


def _feeds(out: dict[str, bytes], site, feed_posts: list[PostView], updated: str) -> None:
    e = env()
    out["atom.xml"] = e.get_template("atom.xml").render(site=site, posts=feed_posts, updated=updated).encode("utf-8")
    out["rss.xml"] = e.get_template("rss.xml").render(site=site, posts=feed_posts, updated_rfc822=rfc822(updated)).encode("utf-8")
    out["feed.json"] = json_feed(site, feed_posts)


def _sitemap(out: dict[str, bytes], site, posts: list[PostView], listed: list[dict], updated: str, has_reputation: bool) -> None:
    urls: list[dict[str, Any]] = [{"path": "", "lastmod": updated[:10]}]
    urls += [{"path": p.path, "lastmod": p.created_at[:10]} for p in posts]
    urls += listed
    if has_reputation:
        urls.append({"path": "reputation/index.html", "lastmod": updated[:10]})
    if site.monetization.enabled:
        urls.append({"path": "support/index.html", "lastmod": None})
    out["sitemap.xml"] = env().get_template("sitemap.xml").render(site=site, urls=urls).encode("utf-8")
    out["robots.txt"] = f"User-agent: *\nAllow: /\nSitemap: {site.site_url}sitemap.xml\n".encode()


# --- reputation chart and badges ---------------------------------------------------------------

_POLARITIES = ("positive", "neutral", "negative")


def rating_chart(market: dict, width: int = 640, height: int = 190) -> dict:
    """Geometry of a stacked bar chart of ratings received per month (numbers only: the
    template draws it, escaping every label)."""
    months = market.get("monthly") or []
    left, right, top, bottom = 40, 8, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([sum(m[k] for k in _POLARITIES) for m in months] + [1])
    step = _nice_step(peak)
    ymax = step * -(-peak // step)
    slot = plot_w / max(1, len(months))
    bar_w = max(2.0, min(28.0, slot * 0.7))
    bars, labels = [], []
    every = max(1, -(-len(months) // 8))   # at most about 8 month labels
    for i, m in enumerate(months):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for k in _POLARITIES:
            h = plot_h * m[k] / ymax
            if m[k]:
                bars.append({"x": round(x, 1), "y": round(y - h, 1), "w": round(bar_w, 1), "h": round(h, 1), "kind": k,
                             "label": f"{m['month']}: {m[k]} {k}"})
            y -= h
        if i % every == 0 or i == len(months) - 1:
            labels.append({"x": round(x + bar_w / 2, 1), "text": m["month"]})
    ticks = [{"y": round(top + plot_h - plot_h * v / ymax, 1), "value": v} for v in range(0, ymax + 1, step)]
    totals = {k: sum(m[k] for m in months) for k in _POLARITIES}
    return {"width": width, "height": height, "left": left, "right": width - right, "bottom": top + plot_h,
            "bars": bars, "labels": labels, "ticks": ticks, "months": months, "totals": totals,
            "first": months[0]["month"] if months else None, "last": months[-1]["month"] if months else None}


def _nice_step(peak: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if peak / step <= 5:
            return step
    return 10 ** len(str(peak))


def render_badge(site, market: dict) -> bytes:
    """A standalone SVG badge: the marketplace, % positive and the number of ratings, linking to
    the marketplace's signed credential."""
    value = badge_value(market)
    label = market["label"]
    # Widths from a rough per-character advance of 11 px Verdana-like text.
    lw = 12 + round(6.6 * len(label))
    vw = 12 + round(6.6 * len(value))
    return env().get_template("badge.svg").render(
        site=site, m=market, label=label, value=value, lw=lw, vw=vw, width=lw + vw).encode("utf-8")


def badge_value(market: dict, sep: str = " · ") -> str:
    """What a badge says: % positive (all time) and the number of ratings received."""
    total = sum(market["received"][k] for k in _POLARITIES)
    pct = market.get("percent_positive_all")
    count = f"{total:,} rating{'s' if total != 1 else ''}"
    return f"{pct:g}% positive{sep}{count}" if pct is not None else count


def template_digest() -> str:
    """Changes whenever a template or this program's version changes (part of page keys)."""
    import hashlib
    from importlib.resources import files

    from vault.plugin_api import __version__

    h = hashlib.sha256(__version__.encode())
    for item in sorted(files("exporters.site").joinpath("templates").iterdir(), key=lambda t: t.name):
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
        "items": [_feed_item(site, p) for p in posts],
    }
    if site.description:
        feed["description"] = site.description
    return (json.dumps(clean_deep(feed), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _feed_item(site, p: PostView) -> dict:
    """One JSON Feed item; untitled posts have no title (as the format recommends for
    microblog posts), media are attachments (premium posts carry none: their media are sealed)."""
    item: dict[str, Any] = {"id": f"{site.site_url}{p.path}", "url": f"{site.site_url}{p.path}"}
    if p.premium or p.title:
        item["title"] = p.heading
    item["content_text"] = p.feed_text
    item["date_published"] = p.created_at
    if not p.premium:
        if p.og_image:
            item["image"] = f"{site.site_url}{p.og_image}"
        if p.attachments:
            item["attachments"] = [{"url": f"{site.site_url}{a['path']}", "mime_type": a["mime"]} for a in p.attachments]
        if p.tags:
            item["tags"] = list(p.tags)
    return item


def static_file(name: str) -> bytes:
    """A file of the site's static assets (``exporters/site/static/NAME``), copied as it is."""
    from importlib.resources import files

    return files("exporters.site").joinpath("static", name).read_bytes()
