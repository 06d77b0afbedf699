"""The publish pipeline: select what is public, build a deterministic bundle, deploy it.

Only ``public`` records are published, plus ``premium`` posts as a teaser with their content
and media age-encrypted for subscribers.  Visibility comes from `vault mark` first, then from the
rules in vault.yaml; the default is private.  A media record takes the strictest visibility of its
own mark and of every post that uses it, so a photo of a private or followers-only post never
appears anywhere, and a premium post's photos only inside its encrypted file.

The same vault and settings produce a byte-identical bundle: no wall-clock time enters it (the
as-of time is ``SOURCE_DATE_EPOCH`` or the newest import), file order is sorted, image sizes come
from the decoded files, signatures are deterministic Ed25519 and premium ciphertexts are cached in
the vault.  The caller holds the vault's exclusive lock (the first build stores the signing key).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .. import crypto
from .. import settings as settings_mod
from ..errors import Interrupted, UsageError
from ..ids import keyed
from ..models import parse_iso
from ..repository import Vault

BUNDLE_MARKER = "manifest.json"


@dataclass
class BuildResult:
    out: Path
    files: dict[str, str]                  # bundle path -> sha256
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    did: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"out": str(self.out), "files": len(self.files), "written": len(self.written), "removed": len(self.removed),
                "published": self.counts, "did": self.did, "warnings": self.warnings}


# --- selection --------------------------------------------------------------------------------


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
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    cat = vault.catalog()
    row = cat.db.execute("SELECT MAX(at) FROM imports").fetchone()
    moment = parse_iso(row[0]) if row and row[0] else None
    return moment or parse_iso(vault.header.created) or datetime(2000, 1, 1, tzinfo=timezone.utc)


class _RatingsView:
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


# --- building ---------------------------------------------------------------------------------


def _check_out_dir(out: Path) -> None:
    from exporters.site.output import IN_PROGRESS

    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is not a folder")
    if out.exists() and any(out.iterdir()) and not (out / BUNDLE_MARKER).exists() and not (out / IN_PROGRESS).exists():
        raise UsageError(f"{out} is not empty and holds no earlier bundle", hint="build into a new folder, or one vault publish made")


def _state_path(out: Path) -> Path:
    import platformdirs

    key = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]
    return platformdirs.user_cache_path("vault") / "build-state" / f"{key}.json"


def _media_memo_key(keys, rec: dict) -> str:
    from exporters.site import media as media_mod

    return "pubmedia:" + keyed(keys.writer_key, "pubmedia", str(media_mod.RENDER_VERSION), rec["id"])


def _render_media(vault: Vault, records: list[dict], out: Path, w, progress: Callable[..., None] | None) -> dict[str, Any]:
    """Published forms of media records, made in parallel: Pillow and age release the GIL, and
    each output file is named by its media id, so the result does not depend on the order.

    What each render produced (hashes, real size) is remembered in the catalog, so the next build
    keeps outputs that still hold those bytes and makes any damaged or missing one again."""
    from concurrent.futures import ThreadPoolExecutor

    from exporters.site import media as media_mod

    keys = vault.keys or vault.unlock()
    cat = vault.catalog()
    memos = {}
    for rec in records:
        raw = cat.hint(_media_memo_key(keys, rec))
        try:
            memos[rec["id"]] = json.loads(raw) if raw else None
        except ValueError:
            memos[rec["id"]] = None

    def one(rec: dict):
        def read_plain() -> bytes:
            return vault.objects.read_bytes(rec["object"], keys.identity, keys.writer_key)

        def write_video(target: Path) -> None:
            tmp = target.with_name(f".{target.name}.tmp")
            with open(tmp, "wb") as fh:
                vault.objects.read_verified(rec["object"], keys.identity, keys.writer_key, fh)
                os.fchmod(fh.fileno(), 0o644)
            os.replace(tmp, target)

        return media_mod.render(rec, out, read_plain, write_video, memos[rec["id"]], w.intact)

    results: dict[str, Any] = {}
    if progress:
        progress(0, total=len(records))
    pool = ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1)))
    try:
        for rec, pm in zip(records, pool.map(one, records)):
            results[rec["id"]] = pm
            if pm is not None and pm.memo() != memos[rec["id"]]:
                cat.stage({"op": "hint", "k": _media_memo_key(keys, rec), "v": json.dumps(pm.memo(), sort_keys=True)})
            if progress:
                progress(1)
    finally:
        # On an interruption, renders not yet started are dropped rather than waited for.
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def build(vault: Vault, out: Path, progress: Callable[[int], None] | None = None) -> BuildResult:
    """Build the bundle into ``out``, finishing an earlier build of it that was interrupted.

    Every file is written under a temporary name and renamed, so each file in ``out`` is whole at
    any moment; until the build ends, files may be missing or from the previous build.  An
    interruption (Ctrl-C, SIGTERM) raises ``Interrupted`` saying so; the next build completes it.
    """
    try:
        return _build(vault, out, progress)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {out} holds an unfinished build (every file in it is whole, but some are missing "
                          "or from the previous build, and its manifest does not cover them yet)",
                          hint="run the same `vault publish` again: it finishes the build") from None


def _build(vault: Vault, out: Path, progress: Callable[[int], None] | None) -> BuildResult:
    from dataclasses import asdict

    from exporters.site import claims
    from exporters.site import render as site_mod
    from exporters.site.output import BundleWriter

    from . import signing

    conf = settings_mod.load(vault.settings_path).publish
    if not conf.base_url:
        raise UsageError("publish.base_url is not set in vault.yaml",
                         hint=f"set it to the address the site will live at, e.g. https://jana.example.org/ (edit {vault.settings_path})")
    did = signing.did_web(conf.site_url)
    _check_out_dir(out)
    cat = vault.catalog()
    explicit = cat.explicit_ids()
    as_of = as_of_time(vault)
    result = BuildResult(out=out, files={}, did=did)
    w = BundleWriter(out, _state_path(out))
    w.begin()

    records = list(cat.query(oldest_first=False))
    vis = {r["id"]: effective_visibility(r, conf.public, explicit) for r in records}
    mvis = media_visibility(records, vis, explicit)
    by_id = {r["id"]: r for r in records}
    posts = [r for r in records if r["kind"] == "post" and vis[r["id"]] in ("public", "premium")]
    # The gallery: public photos and videos that belong to no post (a post's photos show in it).
    in_posts = {m for r in records if r["kind"] == "post" for m in r.get("media") or []}
    standalone = [r for r in records if r["kind"] == "media" and r["id"] not in in_posts
                  and vis[r["id"]] == "public" and mvis[r["id"]] == "public"]
    ratings = [r for r in records if r["kind"] == "rating" and vis[r["id"]] == "public"]

    wanted: dict[str, dict] = {}
    for rec in posts:
        if vis[rec["id"]] == "public":
            wanted.update({m: by_id[m] for m in rec.get("media") or [] if m in by_id and mvis[m] == "public"})
    wanted.update({r["id"]: r for r in standalone})
    published_media = _render_media(vault, list(wanted.values()), out, w, progress)
    for mid, pm in published_media.items():
        if pm is None:
            result.warnings.append(f"{mid}: {wanted[mid].get('mime') or 'this media type'} cannot be published (not an image or video the site can show)")
        else:
            for f in pm.files:
                w.keep(f, pm.hashes.get(f), pm.written)

    views = []
    premium_skipped: list[str] = []
    access = _premium_access(vault, conf.premium, result.warnings) if any(vis[r["id"]] == "premium" for r in posts) else None
    for rec in posts:
        premium = vis[rec["id"]] == "premium"
        if premium:
            sealed = [by_id[m] for m in rec.get("media") or [] if m in by_id and mvis[m] == "premium"]
            views.append(_premium_view(rec, sealed, conf, vault, w, premium_skipped, result.warnings, access))
        else:
            images = [published_media[m] for m in rec.get("media") or [] if published_media.get(m)]
            views.append(_post_view(rec, images, conf))
    if premium_skipped:
        result.warnings.append(_premium_warning(conf.premium, premium_skipped))
    gallery = _gallery(standalone, published_media)
    views = [v for v in views if v is not None]
    views.sort(key=lambda v: (v.created_at, v.id), reverse=True)

    markets: list[dict] = []
    if ratings:
        from ..ratings import reputation

        markets = _markets(reputation.summarize(_RatingsView(ratings), now=as_of), ratings)
        for m in markets:
            m["monthly"] = _monthly(ratings, m["source"])
    updated = views[0].created_at if views else as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    profile = {"@context": "https://schema.org", "@type": "ProfilePage",
               "mainEntity": {"@type": "Person", "name": conf.author or conf.title, "url": conf.site_url, "sameAs": conf.same_as}}
    rep_ld = _reputation_jsonld(profile, markets)
    has_premium = any(v.premium for v in views)

    # Post pages: a page whose inputs (the post, the settings, the templates) are unchanged is
    # neither rendered nor written again.
    nav = site_mod.navigation(views, gallery)
    site_key = hashlib.sha256(json.dumps([repr(conf), site_mod.template_digest(), bool(markets), has_premium, nav]).encode()).hexdigest()
    for view in views:
        key = hashlib.sha256((site_key + json.dumps(asdict(view), sort_keys=True, default=str)).encode()).hexdigest()
        if not w.unchanged(view.path, key):
            w.write(view.path, site_mod.render_post(conf, view, bool(markets), has_premium, nav), key)
    for rel, data in site_mod.render_site(conf, views, markets, has_premium, profile, rep_ld, updated, gallery).items():
        w.write(rel, data)
    w.write("style.css", _static("style.css"))
    if has_premium and access is not None:
        _write_premium_files(w, access)

    lightning = _lightning(conf)
    result.warnings += lightning.warnings
    if lightning.path:
        w.write(lightning.path, claims.dumps(conf.monetization.lnurlp))

    # Verifiable claims.
    key = signing.load_or_create_key(vault)
    w.write(claims.did_document_path(conf.site_url), claims.dumps(claims.did_document(did, signing.public_bytes(key))))
    w.write(claims.CONTEXT_PATH, claims.dumps(claims.context_document(conf.site_url)))
    cred_index = []
    for m in markets:
        cred = claims.credential(did, m, as_of, conf.credential_validity_days, key, conf.site_url)
        w.write(f"credentials/{m['source']}.json", claims.dumps(cred))
        cred_index.append(f"credentials/{m['source']}.json")
    if markets:
        w.write("credentials/index.json", claims.dumps(claims.credential_index(did, cred_index, conf.site_url)))

    # The manifest last: it covers every other file.
    files = {rel: sha for rel, sha in w.hashes().items() if rel != BUNDLE_MARKER}
    w.write(BUNDLE_MARKER, claims.dumps(claims.manifest(did, files, as_of, key, conf.site_url)))
    result.removed = w.prune()
    w.save()
    w.finish()
    result.files = w.hashes()
    result.written = w.written
    result.counts = {"post": sum(1 for v in views if not v.premium), "premium": sum(1 for v in views if v.premium),
                     "media": sum(1 for p in published_media.values() if p), "rating": len(ratings)}
    vault.commit()
    return result


def _reputation_jsonld(profile: dict, markets: list[dict]) -> dict:
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


def _static(name: str) -> bytes:
    from importlib.resources import files

    return files("exporters.site").joinpath("static", name).read_bytes()


PREMIUM_TEASER = "A post for supporters."


def own_title(rec: dict) -> str | None:
    """The title the author gave a post, if any.  Facebook's ``title`` is its own activity line
    ("Jana updated her status."), never the author's: only a note's title counts there."""
    if rec.get("source") == "facebook":
        title = (rec.get("extra") or {}).get("note_title")
    else:
        title = rec.get("title")
    return " ".join(title.split()) or None if isinstance(title, str) else None


def _heading(rec: dict, text: str) -> str:
    """What names a post where a name is needed (the page title, og:title, feed titles): its own
    title, else the start of its text, else its date.  Pages show a heading only for a title."""
    from exporters.site import render as site_mod

    return own_title(rec) or site_mod.clip(text, 70) or (rec.get("created_at") or "")[:10] or rec["id"]


def _gallery(standalone: list[dict], published: dict) -> list:
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


def _monthly(ratings: list[dict], source: str, months: int = 24) -> list[dict]:
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


def _jsonld(conf, view) -> dict:
    ld = {"@context": "https://schema.org", "@type": "BlogPosting", "headline": view.heading, "datePublished": view.created_at,
          "url": f"{conf.site_url}{view.path}", "author": {"@type": "Person", "name": conf.author or conf.title}}
    if view.og_image:
        ld["image"] = f"{conf.site_url}{view.og_image}"
    if view.premium:
        ld["isAccessibleForFree"] = False
    return ld


def _post_view(rec: dict, images: list, conf):
    import mimetypes

    from exporters.site import render as site_mod

    text = rec.get("text") or ""
    heading = _heading(rec, text)
    created = rec.get("created_at") or "1970-01-01T00:00:00Z"
    view = site_mod.PostView(
        id=rec["id"], path=f"posts/{rec['id']}/index.html", heading=heading, created_at=created, date=created[:10],
        rfc822=site_mod.rfc822(created), source=rec.get("source", ""), paragraphs=site_mod.paragraphs(text),
        summary=site_mod.clip(text or heading, 200), feed_text=text, links=list(rec.get("links") or []), images=images,
        place=rec.get("place"), url=rec.get("url"), text=text, title=own_title(rec),
        excerpt=site_mod.clip(text, 280), tags=sorted({str(t) for t in rec.get("tags") or []}),
        attachments=[{"path": im.src, "mime": mimetypes.guess_type(im.src)[0] or "application/octet-stream"} for im in images],
    )
    first_image = next((im for im in images if im.kind == "image"), None)
    if first_image:
        view.og_image = first_image.src
    view.jsonld = _jsonld(conf, view)
    return view


def premium_teaser(text: str, chars: int) -> str:
    """The part of a premium post shown to everyone: its first ``chars`` characters, cut at a word,
    and only when the post is more than twice that long; a shorter post shows none of its text
    (the fixed ``PREMIUM_TEASER`` stands in), so a teaser never gives most of a post away."""
    flat = " ".join(text.split())
    if chars < 1 or len(flat) <= 2 * chars:
        return ""
    cut = flat[: chars + 1]
    cut = cut.rsplit(" ", 1)[0] if " " in cut else flat[:chars]
    return cut.rstrip(" ,.;:") + "…"


def _premium_view(rec: dict, media: list[dict], conf, vault: Vault, w, skipped: list[str], warnings: list[str], access):
    """A premium post as everyone sees it: a teaser, a date and a link to its age file.  Nothing
    else of the post (its text beyond the teaser, title, links, place, media, captions, alt text)
    enters the view, so no page, feed or JSON-LD can show it."""
    from exporters.site import render as site_mod

    text = rec.get("text") or ""
    teaser = premium_teaser(text, conf.premium.teaser_chars)
    heading = site_mod.clip(teaser, 80) if teaser else PREMIUM_TEASER
    created = rec.get("created_at") or "1970-01-01T00:00:00Z"
    summary = teaser or PREMIUM_TEASER
    view = site_mod.PostView(
        id=rec["id"], path=f"posts/{rec['id']}/index.html", heading=heading, created_at=created, date=created[:10],
        rfc822=site_mod.rfc822(created), source=rec.get("source", ""), paragraphs=[], summary=summary,
        feed_text=f"{summary} (supporters only)", premium=True, premium_path=f"premium/{rec['id']}.age",
        teaser_paragraphs=site_mod.paragraphs(teaser or PREMIUM_TEASER), premium_media=len(media),
    )
    cipher = _premium_cipher(vault, rec, media, access.recipients if access else [], warnings)
    if cipher is None:
        skipped.append(rec["id"])
        return None
    w.write(view.premium_path, cipher)
    view.jsonld = _jsonld(conf, view)
    return view


def _premium_warning(premium, skipped: list[str]) -> str:
    what = f"{len(skipped)} premium post(s) left out ({', '.join(skipped[:3])}{', ...' if len(skipped) > 3 else ''})"
    if premium.passphrase_env:
        return (f"{what}: nobody could open them; publish.premium.passphrase_env names the variable {premium.passphrase_env}, "
                f"which is not set (or empty) here; add readers with `vault readers add NAME age1...` or "
                "`vault readers add NAME --passphrase`")
    return (f"{what}: nobody could open them; add readers with `vault readers add NAME age1...` or "
            "`vault readers add NAME --passphrase`")


PREMIUM_SCRIPTS = ("vendor/age-encryption.min.js", "premium.js")
KEY_INDEX = "premium/keys/index.json"


def _premium_access(vault: Vault, premium, warnings: list[str]):
    """Who premium posts are encrypted to this build: `vault readers`, plus the keys listed in
    publish.premium.recipients, plus (kept from earlier releases) the passphrase in the variable
    named by publish.premium.passphrase_env, which now opens a key file like a passphrase reader's."""
    from . import readers

    access = readers.premium_access(vault, premium.recipients)
    passphrase = os.environ.get(premium.passphrase_env) if premium.passphrase_env else None
    if passphrase:
        site = readers.site_identity_for(vault)
        recipient = crypto.recipient_of(site)
        if recipient not in access.recipients:
            access.recipients = sorted([*access.recipients, recipient])
        access.key_files[f"{readers.KEY_DIR}/{_env_key_file_name(vault, passphrase, recipient)}.age"] = \
            _env_key_file(vault, passphrase, site)
        warnings.append(f"publish.premium.passphrase_env ({premium.passphrase_env}) still opens premium posts, now through a key file; "
                        "move that passphrase to `vault readers add NAME --passphrase-file F` and drop passphrase_env from vault.yaml")
    return access


def _env_key_file_name(vault: Vault, passphrase: str, recipient: str) -> str:
    keys = vault.keys or vault.unlock()
    return keyed(keys.writer_key, "premium-env-key", hashlib.sha256(passphrase.encode()).hexdigest(), recipient)[:32]


def _env_key_file(vault: Vault, passphrase: str, site) -> bytes:
    """The site identity sealed with the legacy passphrase; cached in the vault so rebuilds are
    byte-identical."""
    from ..keys.secret import Secret

    keys = vault.keys or vault.unlock()
    hint_key = "premium:env-key:" + _env_key_file_name(vault, passphrase, crypto.recipient_of(site))
    cat = vault.catalog()
    oid = cat.hint(hint_key)
    if oid and vault.objects.exists(oid):
        return vault.objects.read_bytes(oid, keys.identity, keys.writer_key)
    cipher = crypto.passphrase_encrypt((str(site.reveal()) + "\n").encode(), Secret(passphrase), crypto.KEY_FILE_LOG_N)
    res = vault.objects.put_bytes(cipher, keys.writer_key, vault.recipients)
    if res.new and res.cipher_sha256:
        vault.checksums.add(vault.objects.relpath(res.object_id), res.cipher_sha256)
    cat.stage({"op": "hint", "k": hint_key, "v": res.object_id})
    return cipher


def _write_premium_files(w, access) -> None:
    """The unlock scripts (premium pages only load them), the vendored library's licence, and
    the passphrase key files with their index (random names: no reader's name shows)."""
    for rel in PREMIUM_SCRIPTS:
        w.write(rel, _static(rel))
    w.write("vendor/age-encryption.LICENSE.txt", _static("vendor/LICENSE"))
    for rel, data in access.key_files.items():
        w.write(rel, data)
    w.write(KEY_INDEX, (json.dumps({"key_files": [rel.rsplit("/", 1)[1] for rel in access.key_files]}, indent=1) + "\n").encode())


def _premium_payload(vault: Vault, keys, rec: dict, media: list[dict], warnings: list[str]) -> bytes:
    """What a subscriber decrypts: the post as JSON, its media inside (base64, images re-encoded
    without metadata like the public ones)."""
    import base64

    from exporters.site import media as media_mod

    items = []
    for m in media:
        planned = media_mod.plan_paths(m)
        if planned is None:
            warnings.append(f"{m['id']}: {m.get('mime') or 'this media type'} is left out of premium post {rec['id']} (not an image or video the site can show)")
            continue
        kind, path = planned
        data = vault.objects.read_bytes(m["object"], keys.identity, keys.writer_key)
        width = height = None  # known for images only: they are decoded
        if kind == "image":
            made = media_mod.reencode(data, media_mod.IMAGE_FORMATS[m["mime"]][0])
            if made is None:
                warnings.append(f"{m['id']}: left out of premium post {rec['id']} (the image cannot be decoded)")
                continue
            data, _, (width, height) = made
        items.append({"id": m["id"], "kind": kind, "mime": m["mime"], "filename": path.rsplit("/", 1)[1], "width": width,
                      "height": height, "alt": m.get("alt"), "caption": m.get("caption"),
                      "data_base64": base64.b64encode(data).decode("ascii")})
    return json.dumps({"id": rec["id"], "created_at": rec.get("created_at"), "title": rec.get("title"), "text": rec.get("text"),
                       "links": rec.get("links") or [], "place": rec.get("place"), "media": items},
                      ensure_ascii=False, sort_keys=True, indent=2).encode()


def _premium_cipher(vault: Vault, rec: dict, media: list[dict], recipients: list[str], warnings: list[str]) -> bytes | None:
    """The age file subscribers decrypt (the post with its media), encrypted to ``recipients``
    (X25519 only); cached in the vault so rebuilds are byte-identical.  None when nobody could
    open it."""
    from exporters.site import media as media_mod

    if not recipients:
        return None
    keys = vault.keys or vault.unlock()
    # Media ids name their content, so this describes the payload without reading any media.
    described = json.dumps({"v": media_mod.RENDER_VERSION, "id": rec["id"], "created_at": rec.get("created_at"),
                            "title": rec.get("title"), "text": rec.get("text"), "links": rec.get("links") or [],
                            "place": rec.get("place"),
                            "media": [[m["id"], m.get("alt"), m.get("caption")] for m in media]}, ensure_ascii=False, sort_keys=True)
    mode = "r:" + ",".join(sorted(recipients))
    hint_key = "premium:" + keyed(keys.writer_key, "premium", mode, hashlib.sha256(described.encode()).hexdigest())
    cat = vault.catalog()
    oid = cat.hint(hint_key)
    if oid and vault.objects.exists(oid):
        return vault.objects.read_bytes(oid, keys.identity, keys.writer_key)
    content = _premium_payload(vault, keys, rec, media, warnings)
    cipher = crypto.encrypt_bytes(content, sorted(recipients))
    res = vault.objects.put_bytes(cipher, keys.writer_key, vault.recipients)
    if res.new and res.cipher_sha256:
        vault.checksums.add(vault.objects.relpath(res.object_id), res.cipher_sha256)
    cat.stage({"op": "hint", "k": hint_key, "v": res.object_id})
    return cipher


@dataclass
class _Lightning:
    path: str | None = None
    warnings: list[str] = field(default_factory=list)


def _lightning(conf) -> _Lightning:
    """Where the Lightning Address's payRequest file goes (LUD-16: wallets fetch
    https://DOMAIN/.well-known/lnurlp/USER), or why it is not published."""
    from urllib.parse import urlsplit

    money = conf.monetization
    got = _Lightning()
    address = (money.lightning_address or "").strip()
    if not address:
        return got
    user, at, domain = address.partition("@")
    if not (user and at and domain):
        got.warnings.append(f"publish.monetization.lightning_address {address!r} is not of the form user@domain; nothing is published for it")
        return got
    site = urlsplit(conf.site_url)
    domain = domain.lower()
    if domain != (site.hostname or "").lower():
        if money.lnurlp:
            got.warnings.append(f"publish.monetization.lnurlp is not published: wallets ask {domain} for {address}, "
                                f"not this site ({site.hostname}); the payRequest file belongs on {domain}")
        return got
    wanted_url = f"https://{domain}/.well-known/lnurlp/{user}"
    if not money.lnurlp:
        got.warnings.append(f"the Lightning Address {address} will not work: wallets fetch {wanted_url}, but "
                            "publish.monetization.lnurlp is not set, so nothing is published there; paste your Lightning "
                            "provider's payRequest JSON (tag, callback, minSendable, maxSendable, metadata) under lnurlp")
        return got
    if not isinstance(money.lnurlp, dict):
        got.warnings.append("publish.monetization.lnurlp must be a mapping (the provider's payRequest JSON); nothing is published for the Lightning Address")
        return got
    got.path = f".well-known/lnurlp/{user}"
    if site.path.strip("/"):
        got.warnings.append(f"the Lightning Address {address} needs {wanted_url}, at the domain's root, but this site lives "
                            f"under {site.path} and a bundle cannot place files above it: the file is published at "
                            f"{conf.site_url}{got.path}; copy it to /.well-known/lnurlp/{user} on {domain}")
    return got


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


def build_dir_for(vault: Vault) -> Path:
    import platformdirs

    return platformdirs.user_cache_path("vault") / "build" / vault.header.vault_id


def publish(vault: Vault, *, target: str | None, out: Path | None, to: str | None, dry_run: bool,
            progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Build the bundle and, when a target is given, deploy it (or only plan with ``dry_run``)."""
    from .deploy import open_target

    conf = settings_mod.load(vault.settings_path)
    if target and to:
        raise UsageError("give a target name or --to, not both")
    spec = to
    if target:
        spec = conf.targets.get(target)
        if spec is None:
            known = ", ".join(sorted(conf.targets)) or "none"
            raise UsageError(f"no target {target!r} in vault.yaml", hint=f"targets defined: {known}")
    if spec is None and out is None:
        raise UsageError("nothing to publish to", hint="give --out DIR, --to SPEC (dir:, git:, netlify:, neocities:, rclone:) or a target name from vault.yaml")
    context: dict[str, Any] = {"settings": conf.publish, "warnings": []}
    if spec is None and dry_run:
        # Plan a build into --out against what --out holds now.
        spec, out = f"dir:{out}", None
    build_into = out if (out is not None and not dry_run) else build_dir_for(vault)
    tgt = open_target(spec, context) if spec else None
    built = build(vault, build_into, progress)
    result: dict[str, Any] = {"dry_run": dry_run, "build": built.to_json()}
    if tgt is not None and spec is not None:
        from ..rclone import display

        plan = tgt.plan(built.files)
        # Never echo credentials a spec may carry (URL user info, rclone connection strings).
        result["target"] = display(spec)
        result["plan"] = plan.to_json()
        if not dry_run and not plan.empty:
            try:
                result["deploy"] = tgt.apply(build_into, plan)
            except KeyboardInterrupt:
                raise Interrupted(f"interrupted while deploying to {display(spec)}: the bundle is built, but the target holds "
                                  "a mix of new and previous files (each file whole)",
                                  hint="run the same `vault publish` again: it uploads what is still missing") from None
    # Targets add their warnings while planning and deploying (e.g. file types a host refuses).
    result["warnings"] = built.warnings + context["warnings"]
    return result


def publish_to_dir(vault: Vault, out: Path) -> dict[str, Any]:
    """Build into ``out`` (for the demo)."""
    return build(vault, out).to_json()
