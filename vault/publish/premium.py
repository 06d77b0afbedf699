"""Premium posts: the teaser everyone sees, and the age file only subscribers can open.

A premium post's page shows a teaser, its date and a link to ``premium/ID.age``: the post as JSON
with its media inside, encrypted to the readers of `vault readers` (and publish.premium's keys).
Nothing else of the post enters a view, so no page, feed or JSON-LD can show it.  Ciphertexts and
key files are cached in the vault, so a rebuild gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os

from .. import crypto
from ..ids import keyed
from ..repository import Vault
from .views import jsonld

PREMIUM_TEASER = "A post for supporters."
PREMIUM_SCRIPTS = ("vendor/age-encryption.min.js", "premium.js")
KEY_INDEX = "premium/keys/index.json"


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


def premium_view(rec: dict, media: list[dict], conf, vault: Vault, w, skipped: list[str], warnings: list[str], access):
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
    view.jsonld = jsonld(conf, view)
    return view


def premium_warning(premium, skipped: list[str]) -> str:
    what = f"{len(skipped)} premium post(s) left out ({', '.join(skipped[:3])}{', ...' if len(skipped) > 3 else ''})"
    if premium.passphrase_env:
        return (f"{what}: nobody could open them; publish.premium.passphrase_env names the variable {premium.passphrase_env}, "
                f"which is not set (or empty) here; add readers with `vault readers add NAME age1...` or "
                "`vault readers add NAME --passphrase`")
    return (f"{what}: nobody could open them; add readers with `vault readers add NAME age1...` or "
            "`vault readers add NAME --passphrase`")


def premium_access(vault: Vault, premium, warnings: list[str]):
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


def write_premium_files(w, access) -> None:
    """The unlock scripts (premium pages only load them), the vendored library's licence, and
    the passphrase key files with their index (random names: no reader's name shows)."""
    from exporters.site import render as site_mod

    for rel in PREMIUM_SCRIPTS:
        w.write(rel, site_mod.static_file(rel))
    w.write("vendor/age-encryption.LICENSE.txt", site_mod.static_file("vendor/LICENSE"))
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
