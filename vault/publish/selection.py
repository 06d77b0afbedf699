"""Which records a build publishes, and how.

Only ``public`` records are published, plus ``premium`` posts as a teaser with their content and
media age-encrypted for subscribers.  Visibility comes from `vault mark` first, then from the
rules in vault.yaml; the default is private.  A media record takes the strictest visibility of its
own mark and of every post that uses it, so a photo of a private or followers-only post never
appears anywhere, and a premium post's photos only inside its encrypted file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone

from ..models import parse_iso
from ..repository import Vault

# Stricter is larger; an unknown value counts as private.
_STRICTNESS = {"public": 0, "premium": 1, "private": 2}


def effective_visibility(rec: dict, rules, explicit: set[str]) -> str:
    if rec["id"] in explicit:
        return rec["visibility"]
    if rules.matches(rec):
        return "public"
    return rec["visibility"]


def media_visibility(records: list[dict], vis: dict[str, str], explicit: set[str]) -> dict[str, str]:
    """Each media record's visibility once the posts that use it are counted: the strictest of
    those posts' visibilities and of the media's own mark (an explicit mark, or the visibility it
    has on its own when no post uses it).  A media used by posts and never marked follows them."""
    users: dict[str, list[str]] = {}
    for rec in records:
        if rec["kind"] == "post":
            for mid in rec.get("media") or []:
                users.setdefault(mid, []).append(vis[rec["id"]])
    out = {}
    for rec in records:
        if rec["kind"] != "media":
            continue
        levels = list(users.get(rec["id"], []))
        if rec["id"] in explicit or not levels:
            levels.append(vis[rec["id"]])
        out[rec["id"]] = max(levels, key=lambda v: _STRICTNESS.get(v, 2))
    return out


def as_of_time(vault: Vault) -> datetime:
    """The moment a build describes: ``SOURCE_DATE_EPOCH`` when set, else the newest import (never
    the wall clock, so the same vault builds the same bundle)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    cat = vault.catalog()
    row = cat.db.execute("SELECT MAX(at) FROM imports").fetchone()
    moment = parse_iso(row[0]) if row and row[0] else None
    return moment or parse_iso(vault.header.created) or datetime(2000, 1, 1, tzinfo=timezone.utc)


@dataclass
class Selection:
    """What one build publishes, as records (newest first)."""

    vis: dict[str, str]            # record id -> effective visibility
    mvis: dict[str, str]           # media id -> visibility once the posts using it are counted
    by_id: dict[str, dict]
    posts: list[dict]              # public and premium posts
    standalone: list[dict]         # the gallery: public photos and videos that belong to no post
    ratings: list[dict]            # public ratings
    media: dict[str, dict]         # media shown in the clear (of public posts, and the gallery), by id

    def is_premium(self, rec: dict) -> bool:
        return self.vis[rec["id"]] == "premium"

    @property
    def any_premium(self) -> bool:
        return any(self.is_premium(r) for r in self.posts)

    def sealed_media(self, rec: dict) -> list[dict]:
        """The media a premium post carries inside its encrypted file."""
        return [self.by_id[m] for m in rec.get("media") or [] if m in self.by_id and self.mvis[m] == "premium"]


def select(cat, rules) -> Selection:
    """Read every record of the catalog ``cat`` and choose what is published (``rules``: the
    publish.public rules of vault.yaml)."""
    explicit = cat.explicit_ids()
    records = list(cat.query(oldest_first=False))
    vis = {r["id"]: effective_visibility(r, rules, explicit) for r in records}
    mvis = media_visibility(records, vis, explicit)
    by_id = {r["id"]: r for r in records}
    posts = [r for r in records if r["kind"] == "post" and vis[r["id"]] in ("public", "premium")]
    # A post's photos show in the post, so the gallery holds only those of no post.
    in_posts = {m for r in records if r["kind"] == "post" for m in r.get("media") or []}
    standalone = [r for r in records if r["kind"] == "media" and r["id"] not in in_posts
                  and vis[r["id"]] == "public" and mvis[r["id"]] == "public"]
    ratings = [r for r in records if r["kind"] == "rating" and vis[r["id"]] == "public"]
    media: dict[str, dict] = {}
    for rec in posts:
        if vis[rec["id"]] == "public":
            media.update({m: by_id[m] for m in rec.get("media") or [] if m in by_id and mvis[m] == "public"})
    media.update({r["id"]: r for r in standalone})
    return Selection(vis, mvis, by_id, posts, standalone, ratings, media)
