"""Building the bundle: a resumable, atomic, incremental run of the site exporter.

The same vault and settings produce a byte-identical bundle: no wall-clock time enters it (the
as-of time is ``SOURCE_DATE_EPOCH`` or the newest import), file order is sorted, image sizes come
from the decoded files, signatures are deterministic Ed25519 and premium ciphertexts are cached in
the vault.  Only files whose bytes change are written, and a post page whose inputs are unchanged is
not even rendered again.  The caller holds the vault's exclusive lock (the first build stores the
signing key).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import settings as settings_mod
from ..errors import Interrupted, UsageError
from ..ids import keyed
from ..repository import Vault
from . import premium, selection, signing
from . import views as views_mod

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


@dataclass
class _Site:
    """What the pages are made from."""

    views: list                    # exporters.site.render.PostView, newest first
    gallery: list                  # exporters.site.render.GalleryItem, newest first
    markets: list[dict]
    updated: str
    profile: dict
    reputation: dict
    has_premium: bool


def _build(vault: Vault, out: Path, progress: Callable[[int], None] | None) -> BuildResult:
    from exporters.site.output import BundleWriter

    conf = _publish_settings(vault)
    did = signing.did_web(conf.site_url)
    _check_out_dir(out)
    chosen = selection.select(vault.catalog(), conf.public)
    as_of = selection.as_of_time(vault)
    result = BuildResult(out=out, files={}, did=did)
    w = BundleWriter(out, _state_path(out))
    w.begin()
    media = _publish_media(vault, chosen, out, w, progress, result.warnings)
    access = premium.premium_access(vault, conf.premium, result.warnings) if chosen.any_premium else None
    views, inputs = _post_views(vault, conf, chosen, media, w, access, result.warnings)
    site = _site(conf, chosen, views, media, as_of)
    _write_pages(w, conf, site, inputs)
    _write_assets(w, conf, access if site.has_premium else None, result.warnings)
    key = signing.load_or_create_key(vault)
    _write_claims(w, conf, did, key, site.markets, as_of)
    _seal(w, conf, did, key, as_of, result)
    result.counts = {"post": sum(1 for v in views if not v.premium), "premium": sum(1 for v in views if v.premium),
                     "media": sum(1 for p in media.values() if p), "rating": len(chosen.ratings)}
    vault.commit()
    return result


def _publish_settings(vault: Vault):
    conf = settings_mod.load(vault.settings_path).publish
    if not conf.base_url:
        raise UsageError("publish.base_url is not set in vault.yaml",
                         hint=f"set it to the address the site will live at, e.g. https://jana.example.org/ (edit {vault.settings_path})")
    return conf


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


# --- media ------------------------------------------------------------------------------------


def _publish_media(vault: Vault, chosen: selection.Selection, out: Path, w, progress, warnings: list[str]) -> dict[str, Any]:
    """Every media shown in the clear, rendered and recorded in the bundle: media id ->
    PublishedMedia, or None (with a warning) for a type the site cannot show."""
    published = _render_media(vault, list(chosen.media.values()), out, w, progress)
    for mid, pm in published.items():
        if pm is None:
            warnings.append(f"{mid}: {chosen.media[mid].get('mime') or 'this media type'} cannot be published "
                            "(not an image or video the site can show)")
        else:
            for f in pm.files:
                w.keep(f, pm.hashes.get(f), pm.written)
    return published


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


# --- pages ------------------------------------------------------------------------------------


def _post_views(vault: Vault, conf, chosen: selection.Selection, media: dict[str, Any], w, access,
                warnings: list[str]) -> tuple[list, dict[str, str]]:
    """The views of the published posts, newest first, and what each is made from (post id ->
    ``views.page_inputs``).  Premium posts' age files are written here; a premium post nobody
    could open is left out (with one warning for all of them)."""
    views = []
    inputs: dict[str, str] = {}
    skipped: list[str] = []
    for rec in chosen.posts:
        if chosen.is_premium(rec):
            sealed = chosen.sealed_media(rec)
            view = premium.premium_view(rec, sealed, conf, vault, w, skipped, warnings, access)
            made_of = views_mod.page_inputs(rec, [], "premium", len(sealed))
        else:
            images = [media[m] for m in rec.get("media") or [] if media.get(m)]
            view = views_mod.post_view(rec, images, conf)
            made_of = views_mod.page_inputs(rec, images)
        if view is not None:
            views.append(view)
            inputs[view.id] = made_of
    if skipped:
        warnings.append(premium.premium_warning(conf.premium, skipped))
    views.sort(key=lambda v: (v.created_at, v.id), reverse=True)
    return views, inputs


def _site(conf, chosen: selection.Selection, views: list, media: dict[str, Any], as_of) -> _Site:
    markets = views_mod.markets_of(chosen.ratings, as_of)
    profile = views_mod.profile_jsonld(conf)
    return _Site(views=views, gallery=views_mod.gallery(chosen.standalone, media), markets=markets,
                 updated=views[0].created_at if views else as_of.strftime("%Y-%m-%dT%H:%M:%SZ"), profile=profile,
                 reputation=views_mod.reputation_jsonld(profile, markets), has_premium=any(v.premium for v in views))


def _write_pages(w, conf, site: _Site, inputs: dict[str, str]) -> None:
    """Post pages, then every other page, the feeds and the sitemap.

    A post page whose inputs are unchanged is neither rendered nor written again.  Its key covers
    what its bytes depend on: the post's ``inputs`` (its fields and media, see
    ``views.page_inputs``) and what every post page shares (the settings, the templates, the code
    that makes views, and the header's links to the site's sections).  A post page shows no
    other post, so a neighbour's change leaves it alone."""
    from exporters.site import render as site_mod

    nav = site_mod.navigation(site.views, site.gallery)
    has_reputation = bool(site.markets)
    shared = [repr(conf), site_mod.template_digest(), _code_digest(), has_reputation, site.has_premium, nav]
    site_key = hashlib.sha256(json.dumps(shared).encode()).hexdigest()
    for view in site.views:
        key = hashlib.sha256((site_key + inputs[view.id]).encode()).hexdigest()
        if not w.unchanged(view.path, key):
            w.write(view.path, site_mod.render_post(conf, view, has_reputation, site.has_premium, nav), key)
    pages = site_mod.render_site(conf, site.views, site.markets, site.has_premium, site.profile, site.reputation,
                                 site.updated, site.gallery)
    for rel, data in pages.items():
        w.write(rel, data)


def _code_digest() -> str:
    """Changes with the code that turns records into post pages (so an edit to it, even without a
    new version number, rebuilds them)."""
    from exporters.site import render as site_mod

    h = hashlib.sha256()
    for module in (views_mod, premium, site_mod):
        h.update(Path(module.__file__ or "").read_bytes())
    return h.hexdigest()


def _write_assets(w, conf, access, warnings: list[str]) -> None:
    """The style sheet, the premium unlock files (``access`` is None without premium posts) and
    the Lightning Address's payRequest file."""
    from exporters.site import claims
    from exporters.site import render as site_mod

    w.write("style.css", site_mod.static_file("style.css"))
    if access is not None:
        premium.write_premium_files(w, access)
    lightning = _lightning(conf)
    warnings += lightning.warnings
    if lightning.path:
        w.write(lightning.path, claims.dumps(conf.monetization.lnurlp))


def _write_claims(w, conf, did: str, key, markets: list[dict], as_of) -> None:
    """The DID document, the credentials' JSON-LD context and one signed credential per marketplace."""
    from exporters.site import claims

    w.write(claims.did_document_path(conf.site_url), claims.dumps(claims.did_document(did, signing.public_bytes(key))))
    w.write(claims.CONTEXT_PATH, claims.dumps(claims.context_document(conf.site_url)))
    cred_index = []
    for m in markets:
        cred = claims.credential(did, m, as_of, conf.credential_validity_days, key, conf.site_url)
        w.write(f"credentials/{m['source']}.json", claims.dumps(cred))
        cred_index.append(f"credentials/{m['source']}.json")
    if markets:
        w.write("credentials/index.json", claims.dumps(claims.credential_index(did, cred_index, conf.site_url)))


def _seal(w, conf, did: str, key, as_of, result: BuildResult) -> None:
    """The signed manifest last (it covers every other file), then drop what this build did not
    make and mark the build finished."""
    from exporters.site import claims

    files = {rel: sha for rel, sha in w.hashes().items() if rel != BUNDLE_MARKER}
    w.write(BUNDLE_MARKER, claims.dumps(claims.manifest(did, files, as_of, key, conf.site_url)))
    result.removed = w.prune()
    w.save()
    w.finish()
    result.files = w.hashes()
    result.written = w.written


# --- the Lightning Address --------------------------------------------------------------------


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
