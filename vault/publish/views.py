"""Records as the site's templates see them: post views, the gallery, reputation figures and the
JSON-LD that describes the author.  Nothing here reads the vault or writes the bundle."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from datetime import datetime

# Every record field ``post_view`` and ``premium.premium_view`` read.  A post page's cache key is
# made of these, its media and the site's settings and templates (``page_inputs``), so a field a
# view starts reading must be added here (tests/vault/publish/test_publish_cache.py perturbs every field).
PAGE_FIELDS = ("id", "source", "created_at", "title", "text", "links", "place", "url", "tags")


def own_title(rec: dict) -> str | None:
    """The title the author gave a post, if any.  For Facebook only a note's title counts: the
    importer keeps Facebook's own activity line ("Jana updated her status.") in
    ``extra["activity"]``, and records its version 1 wrote still carry that line in ``title``."""
    if rec.get("source") == "facebook":
        title = (rec.get("extra") or {}).get("note_title")
    else:
        title = rec.get("title")
    return " ".join(title.split()) or None if isinstance(title, str) else None


def heading(rec: dict, text: str) -> str:
    """What names a post where a name is needed (the page title, og:title, feed titles): its own
    title, else the start of its text, else its date.  Pages show a heading only for a title."""
    from exporters.site import render as site_mod

    return own_title(rec) or site_mod.clip(text, 70) or (rec.get("created_at") or "")[:10] or rec["id"]


def jsonld(conf, view) -> dict:
    ld = {"@context": "https://schema.org", "@type": "BlogPosting", "headline": view.heading, "datePublished": view.created_at,
          "url": f"{conf.site_url}{view.path}", "author": {"@type": "Person", "name": conf.author or conf.title}}
    if view.og_image:
        ld["image"] = f"{conf.site_url}{view.og_image}"
    if view.premium:
        ld["isAccessibleForFree"] = False
    return ld


def post_view(rec: dict, images: list, conf):
    """A public post with its published media (``exporters.site.media.PublishedMedia``)."""
    import mimetypes

    from exporters.site import render as site_mod

    text = rec.get("text") or ""
    title = heading(rec, text)
    created = rec.get("created_at") or "1970-01-01T00:00:00Z"
    view = site_mod.PostView(
        id=rec["id"], path=f"posts/{rec['id']}/index.html", heading=title, created_at=created, date=created[:10],
        rfc822=site_mod.rfc822(created), source=rec.get("source", ""), paragraphs=site_mod.paragraphs(text),
        summary=site_mod.clip(text or title, 200), feed_text=text, links=list(rec.get("links") or []), images=images,
        place=rec.get("place"), url=rec.get("url"), text=text, title=own_title(rec),
        excerpt=site_mod.clip(text, 280), tags=sorted({str(t) for t in rec.get("tags") or []}),
        attachments=[{"path": im.src, "mime": mimetypes.guess_type(im.src)[0] or "application/octet-stream"} for im in images],
    )
    first_image = next((im for im in images if im.kind == "image"), None)
    if first_image:
        view.og_image = first_image.src
    view.jsonld = jsonld(conf, view)
    return view


def page_inputs(rec: dict, images: list, *more: object) -> str:
    """A digest of everything a post's view is made from besides the settings: the record's
    ``PAGE_FIELDS`` (and a Facebook note's title), each published media with every field it
    shows, and ``more`` (what a premium view adds).  Cheap next to hashing the view itself."""
    own: list = [rec.get(k) for k in PAGE_FIELDS]
    if rec.get("source") == "facebook":
        own.append((rec.get("extra") or {}).get("note_title"))
    shown = [[getattr(im, f.name) for f in fields(im)] for im in images]
    return hashlib.sha256(json.dumps([own, shown, more], sort_keys=True, default=str).encode()).hexdigest()


def gallery(standalone: list[dict], published: dict) -> list:
    """Public photos and videos that belong to no post, newest first (by capture time)."""
    from exporters.site import render as site_mod

    items = []
    for rec in standalone:
        pm = published.get(rec["id"])
        if pm:
            when = rec.get("taken_at") or rec.get("created_at") or "1970-01-01T00:00:00Z"
            items.append(site_mod.GalleryItem(id=rec["id"], created_at=when, date=when[:10], media=pm))
    items.sort(key=lambda g: (g.created_at, g.id), reverse=True)
    return items


# --- reputation -------------------------------------------------------------------------------


class RatingsView:
    """The part of the catalog API `reputation.summarize` reads, limited to public ratings."""

    def __init__(self, ratings: list[dict]) -> None:
        self._ratings = ratings

    def query(self, **filters) -> list[dict]:
        out = self._ratings
        if filters.get("kind") not in (None, "rating"):
            return []
        if filters.get("source"):
            out = [r for r in out if r["source"] == filters["source"]]
        return out


def markets_of(ratings: list[dict], as_of: datetime) -> list[dict]:
    """Reputation figures per marketplace of the public ``ratings``, with their monthly counts."""
    if not ratings:
        return []
    from ..ratings import reputation

    markets = _markets(reputation.summarize(RatingsView(ratings), now=as_of), ratings)
    for m in markets:
        m["monthly"] = monthly(ratings, m["source"])
    return markets


def _markets(summary: dict, ratings: list[dict]) -> list[dict]:
    """Reputation figures per marketplace for the page and the credentials, from the shape
    `reputation.summarize` documents (one SCOPE per marketplace)."""
    labels = {"ebay": "eBay", "etsy": "Etsy", "amazon": "Amazon"}
    polarities = ("positive", "neutral", "negative")
    out = []
    for source, m in sorted(summary["marketplaces"].items()):
        prov = m["provenance"]
        stars = m.get("stars") or {}
        described = [f"export {e['export']} (captured {(e.get('captured_at') or '')[:10]})" for e in prov["exports"]]
        described += [f"page {c['url']} (captured {(c.get('captured_at') or '')[:10]}, sha256 {(c.get('sha256') or '')[:12]}…)"
                      for c in prov["captures"]]
        comments = [{"comment": r["comment"], "counterparty": r.get("counterparty"), "date": (r.get("created_at") or "")[:10],
                     "stars": r.get("stars")}
                    for r in ratings if r["source"] == source and r.get("direction") == "received" and r.get("comment")][:10]
        out.append({
            "source": source, "label": labels.get(source, source.title()),
            "received": {k: m["received"][k] for k in polarities},
            "left": {k: m["left"][k] for k in polarities},
            "percent_positive_all": m["percent_positive"]["all_time"],
            "percent_positive_12m": m["percent_positive"]["last_12_months"],
            "histogram": dict(stars.get("histogram") or {}), "stars_mean": stars.get("mean"),
            "first": m["date_range"]["oldest"], "last": m["date_range"]["newest"],
            "provenance": described or ["ratings imported into the vault"],
            "evidence": [{"type": "CaptureSha256", "value": c["sha256"], "url": c.get("url")} for c in prov["captures"] if c.get("sha256")],
            "comments": comments,
        })
    return out


def monthly(ratings: list[dict], source: str, months: int = 24) -> list[dict]:
    """Ratings received on one marketplace per calendar month, from the first month with a rating
    to the last (at most the last ``months``), empty months included."""
    counts: dict[str, dict[str, int]] = {}
    for r in ratings:
        month = (r.get("created_at") or "")[:7]
        if r["source"] != source or r.get("direction") != "received" or len(month) != 7:
            continue
        c = counts.setdefault(month, {"positive": 0, "neutral": 0, "negative": 0})
        if r.get("polarity") in c:
            c[r["polarity"]] += 1
    if not counts:
        return []
    first, last = min(counts), max(counts)
    y, m = int(last[:4]), int(last[5:7])
    out: list[dict] = []
    while len(out) < months:
        key = f"{y:04d}-{m:02d}"
        out.append(dict(month=key, **counts.get(key, {"positive": 0, "neutral": 0, "negative": 0})))
        if key <= first:
            break
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def profile_jsonld(conf) -> dict:
    return {"@context": "https://schema.org", "@type": "ProfilePage",
            "mainEntity": {"@type": "Person", "name": conf.author or conf.title, "url": conf.site_url, "sameAs": conf.same_as}}


def reputation_jsonld(profile: dict, markets: list[dict]) -> dict:
    """The profile with the ratings received on every marketplace as one AggregateRating."""
    received = [m["received"] for m in markets]
    pos = sum(r["positive"] for r in received)
    neg = sum(r["negative"] for r in received)
    if not pos + neg:
        return profile
    rep = json.loads(json.dumps(profile))
    rep["mainEntity"]["aggregateRating"] = {
        "@type": "AggregateRating", "ratingValue": round(100 * pos / (pos + neg), 1), "bestRating": 100, "worstRating": 0,
        "ratingCount": sum(r["positive"] + r["neutral"] + r["negative"] for r in received)}
    return rep
