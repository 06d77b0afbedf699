"""The publish pipeline: select what is public, build a deterministic bundle, deploy it.

Only ``public`` records are published, plus ``premium`` posts as a teaser with their content
age-encrypted for subscribers.  Visibility comes from `vault mark` first, then from the rules in
vault.yaml; the default is private.  The same vault and settings produce a byte-identical bundle:
no wall-clock time enters it (the as-of time is ``SOURCE_DATE_EPOCH`` or the newest import), file
order is sorted, signatures are deterministic Ed25519 and premium ciphertexts are cached in the
vault.  The caller holds the vault's exclusive lock (the first build stores the signing key).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import crypto, settings as settings_mod
from .errors import UsageError
from .importing import keyed
from .models import parse_iso
from .repository import Vault

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


def effective_visibility(rec: dict, rules, explicit: set[str]) -> str:
    if rec["id"] in explicit:
        return rec["visibility"]
    if rules.matches(rec):
        return "public"
    return rec["visibility"]


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
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is not a folder")
    if out.exists() and any(out.iterdir()) and not (out / BUNDLE_MARKER).exists():
        raise UsageError(f"{out} is not empty and holds no earlier bundle", hint="build into a new folder, or one vault publish made")


def _state_path(out: Path) -> Path:
    import platformdirs

    key = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]
    return platformdirs.user_cache_path("vault") / "build-state" / f"{key}.json"


def _render_media(vault: Vault, records: list[dict], out: Path, progress: Callable[..., None] | None) -> dict[str, Any]:
    """Published forms of media records, made in parallel: Pillow and age release the GIL, and
    each output file is named by its media id, so the result does not depend on the order."""
    from concurrent.futures import ThreadPoolExecutor

    from exporters import media as media_mod

    keys = vault.keys or vault.unlock()

    def one(rec: dict):
        def read_plain() -> bytes:
            return vault.objects.read_bytes(rec["object"], keys.identity, keys.writer_key)

        def write_video(target: Path) -> None:
            tmp = target.with_name(f".{target.name}.tmp")
            with open(tmp, "wb") as fh:
                vault.objects.read_verified(rec["object"], keys.identity, keys.writer_key, fh)
            os.replace(tmp, target)

        return media_mod.render(rec, out, read_plain, write_video)

    results: dict[str, Any] = {}
    if progress:
        progress(0, total=len(records))
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        for rec, pm in zip(records, pool.map(one, records)):
            results[rec["id"]] = pm
            if progress:
                progress(1)
    return results


def build(vault: Vault, out: Path, progress: Callable[[int], None] | None = None) -> BuildResult:
    from dataclasses import asdict

    from exporters import claims, site as site_mod
    from exporters.output import BundleWriter

    from . import signing

    conf = settings_mod.load(vault.settings_path).publish
    if not conf.base_url:
        raise UsageError("publish.base_url is not set in vault.yaml",
                         hint=f"set it to the address the site will live at, e.g. https://jana.example.org/ (edit {vault.settings_path})")
    did = signing.did_web(conf.site_url)
    _check_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    cat = vault.catalog()
    explicit = cat.explicit_ids()
    as_of = as_of_time(vault)
    result = BuildResult(out=out, files={}, did=did)
    w = BundleWriter(out, _state_path(out))

    records = list(cat.query(oldest_first=False))
    vis = {r["id"]: effective_visibility(r, conf.public, explicit) for r in records}
    by_id = {r["id"]: r for r in records}
    posts = [r for r in records if r["kind"] == "post" and vis[r["id"]] in ("public", "premium")]
    standalone = [r for r in records if r["kind"] == "media" and vis[r["id"]] == "public"]
    ratings = [r for r in records if r["kind"] == "rating" and vis[r["id"]] == "public"]

    wanted: dict[str, dict] = {}
    for rec in posts:
        if vis[rec["id"]] == "public":
            wanted.update({m: by_id[m] for m in rec.get("media") or [] if m in by_id})
    wanted.update({r["id"]: r for r in standalone})
    published_media = _render_media(vault, list(wanted.values()), out, progress)
    for mid, pm in published_media.items():
        if pm is None:
            result.warnings.append(f"{mid}: {wanted[mid].get('mime') or 'this media type'} cannot be published (not an image or video the site can show)")
        else:
            for f in pm.files:
                w.keep(f)

    views = []
    for rec in posts:
        premium = vis[rec["id"]] == "premium"
        images = [] if premium else [published_media[m] for m in rec.get("media") or [] if published_media.get(m)]
        views.append(_post_view(rec, images, premium, conf, vault, w, result))
    for rec in standalone:
        pm = published_media.get(rec["id"])
        if pm:
            fake = dict(rec, text=rec.get("caption"), title=rec.get("filename"), links=[], url=None, place=None)
            views.append(_post_view(fake, [pm], False, conf, vault, w, result))
    views = [v for v in views if v is not None]
    views.sort(key=lambda v: (v.created_at, v.id), reverse=True)

    markets: list[dict] = []
    if ratings:
        from . import reputation

        markets = _markets(reputation.summarize(_RatingsView(ratings), now=as_of), ratings)
    updated = views[0].created_at if views else as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    profile = {"@context": "https://schema.org", "@type": "ProfilePage",
               "mainEntity": {"@type": "Person", "name": conf.author or conf.title, "url": conf.site_url, "sameAs": conf.same_as}}
    rep_ld = _reputation_jsonld(profile, markets)
    has_premium = any(v.premium for v in views)

    # Post pages: a page whose inputs (the post, the settings, the templates) are unchanged is
    # neither rendered nor written again.
    site_key = hashlib.sha256(json.dumps([repr(conf), site_mod.template_digest(), bool(markets), has_premium]).encode()).hexdigest()
    for view in views:
        key = hashlib.sha256((site_key + json.dumps(asdict(view), sort_keys=True, default=str)).encode()).hexdigest()
        if not w.unchanged(view.path, key):
            w.write(view.path, site_mod.render_post(conf, view, bool(markets), has_premium), key)
    for rel, data in site_mod.render_site(conf, views, markets, has_premium, profile, rep_ld, updated).items():
        w.write(rel, data)
    w.write("style.css", _static("style.css"))

    money = conf.monetization
    if money.lightning_address and money.lnurlp:
        user = money.lightning_address.split("@", 1)[0]
        w.write(f".well-known/lnurlp/{user}", claims.dumps(money.lnurlp))

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

    return files("exporters").joinpath("static", name).read_bytes()


def _post_view(rec: dict, images: list, premium: bool, conf, vault: Vault, w, result: BuildResult):
    from exporters import site as site_mod

    text = rec.get("text") or ""
    first_line = text.strip().split("\n", 1)[0] if text.strip() else ""
    heading = site_mod.clip(first_line, 80) or rec.get("title") or (rec.get("created_at") or "")[:10] or rec["id"]
    created = rec.get("created_at") or "1970-01-01T00:00:00Z"
    path = f"posts/{rec['id']}/index.html"
    view = site_mod.PostView(
        id=rec["id"], path=path, heading=heading, created_at=created, date=created[:10], rfc822=site_mod.rfc822(created),
        source=rec.get("source", ""), paragraphs=site_mod.paragraphs(text), summary=site_mod.clip(text or heading, 200),
        feed_text=text, links=list(rec.get("links") or []), images=images, place=rec.get("place"), url=rec.get("url"), text=text,
    )
    if images and images[0].kind == "image":
        view.og_image = images[0].src
    if premium:
        teaser = site_mod.clip(text, conf.premium.teaser_chars)
        view.premium = True
        view.teaser_paragraphs = site_mod.paragraphs(teaser)
        view.summary = teaser
        view.feed_text = teaser + " (supporters only)"
        cipher = _premium_cipher(vault, rec, conf.premium, result)
        if cipher is None:
            return None
        view.premium_path = f"premium/{rec['id']}.age"
        w.write(view.premium_path, cipher)
    view.jsonld = {
        "@context": "https://schema.org", "@type": "BlogPosting", "headline": heading, "datePublished": created,
        "url": f"{conf.site_url}{path}", "author": {"@type": "Person", "name": conf.author or conf.title},
    }
    if view.og_image:
        view.jsonld["image"] = f"{conf.site_url}{view.og_image}"
    if premium:
        view.jsonld["isAccessibleForFree"] = False
    return view


def _premium_cipher(vault: Vault, rec: dict, premium, result: BuildResult) -> bytes | None:
    """The age file subscribers decrypt; cached in the vault so rebuilds are byte-identical."""
    from .keys import Secret

    content = json.dumps({"id": rec["id"], "created_at": rec.get("created_at"), "title": rec.get("title"),
                          "text": rec.get("text"), "links": rec.get("links") or []}, ensure_ascii=False, sort_keys=True, indent=2).encode()
    passphrase = os.environ.get(premium.passphrase_env) if premium.passphrase_env else None
    if not premium.recipients and not passphrase:
        result.warnings.append(f"{rec['id']}: premium post left out: set publish.premium.recipients (or passphrase_env) in vault.yaml")
        return None
    keys = vault.keys or vault.unlock()
    mode = "r:" + ",".join(sorted(premium.recipients)) if premium.recipients else "p:" + hashlib.sha256(passphrase.encode()).hexdigest()
    hint_key = "premium:" + keyed(keys.writer_key, "premium", mode, hashlib.sha256(content).hexdigest())
    cat = vault.catalog()
    oid = cat.hint(hint_key)
    if oid and vault.objects.exists(oid):
        return vault.objects.read_bytes(oid, keys.identity, keys.writer_key)
    if premium.recipients:
        cipher = crypto.encrypt_bytes(content, [crypto.check_recipient(r) for r in premium.recipients])
    else:
        cipher = crypto.passphrase_encrypt(content, Secret(passphrase))
    res = vault.objects.put_bytes(cipher, keys.writer_key, vault.recipients)
    if res.new and res.cipher_sha256:
        vault.checksums.add(vault.objects.relpath(res.object_id), res.cipher_sha256)
    cat.stage({"op": "hint", "k": hint_key, "v": res.object_id})
    return cipher


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
    if tgt is not None:
        from .rclone import display

        plan = tgt.plan(built.files)
        # Never echo credentials a spec may carry (URL user info, rclone connection strings).
        result["target"] = display(spec)
        result["plan"] = plan.to_json()
        if not dry_run and not plan.empty:
            result["deploy"] = tgt.apply(build_into, plan)
    # Targets add their warnings while planning and deploying (e.g. file types a host refuses).
    result["warnings"] = built.warnings + context["warnings"]
    return result


def publish_to_dir(vault: Vault, out: Path) -> dict[str, Any]:
    """Build into ``out`` (for the demo)."""
    return build(vault, out).to_json()
