"""What a published bundle MUST NOT give away: premium content, private media, script links and
image metadata; and how a bundle stays well-formed, complete and readable (XML-legal text,
pagination, byte-identical rebuilds, world-readable files)."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.support.builders import jpeg
from tests.support.env import requires_age
from tests.support.post_fixtures import inject, post
from tests.support.publish_fixtures import bundle_bytes
from vault.errors import ExitCode
from vault.models import MediaItem

PHOTO = (700, 500)  # large enough for every thumbnail width
PHOTO_COLOR = (10, 120, 200)

SETTINGS = """\
publish:
  title: Safety test
  base_url: https://jana.example.org/
  per_page: {per_page}
{extra}
"""


def configure(env, extra: str = "", per_page: int = 20) -> None:
    (env.path / "vault.yaml").write_text(SETTINGS.format(extra=extra, per_page=per_page))


def photo(ref: str, data: bytes, caption=None, alt=None, width=None, height=None) -> MediaItem:
    return MediaItem(ref=ref, open=lambda: io.BytesIO(data), size=len(data), filename=ref, caption=caption, alt=alt,
                     width=width, height=height)


def build(env, out: Path, *args) -> dict:
    res = env.run("publish", "--out", out, "--json", *args)
    assert res.code == 0, res.err
    return res.json()


def assert_nowhere(out: Path, *canaries: str, skip_suffix: str | None = None) -> None:
    for rel, data in bundle_bytes(out).items():
        if skip_suffix and rel.endswith(skip_suffix):
            continue
        for canary in canaries:
            assert canary.encode() not in data, (canary, rel)


def rid_of(env, text: str) -> str:
    return env.run("search", text, "--json").jsonl()[0]["id"]


# --- premium ------------------------------------------------------------------------------------


@requires_age
def test_premium_text_media_caption_and_alt_never_leak(vault_env, tmp_path):
    key = tmp_path / "subscriber.txt"
    recipient = subprocess.run(["age-keygen", "-o", str(key)], capture_output=True, text=True, check=True).stderr.split()[-1]
    secret_photo = jpeg((200, 10, 10), PHOTO, quality=90, comment=b"Photobytescanary")
    long_text = "Opening words for everyone to read. " * 12 + "Longpremiumcanary closes the story."
    inject(vault_env.path, [
        photo("secret.jpg", secret_photo, caption="Captioncanary sunset", alt="Altcanary description"),
        post("short", 3, "Shortpremiumcanary in a few words", media_refs=["secret.jpg"], links=["https://linkcanary.example/"]),
        post("long", 4, long_text),
        post("open", 5, "An ordinary public post"),
    ])
    configure(vault_env, f"  premium:\n    recipients: [{recipient}]\n    teaser_chars: 100\n")
    short, long_ = rid_of(vault_env, "Shortpremiumcanary"), rid_of(vault_env, "Longpremiumcanary")
    assert vault_env.run("mark", short, long_, "--premium").code == 0
    assert vault_env.run("mark", rid_of(vault_env, "ordinary"), "--public").code == 0
    # Marking the photo itself public does not take it out of its premium post.
    media_id = vault_env.records("--kind", "media")[0]["id"]
    assert vault_env.run("mark", media_id, "--public").code == 0
    out = tmp_path / "site"
    result = build(vault_env, out)
    assert result["build"]["published"] == {"post": 1, "premium": 2, "media": 0, "rating": 0}

    assert_nowhere(out, "Shortpremiumcanary", "Longpremiumcanary", "Captioncanary", "Altcanary", "Photobytescanary",
                   "linkcanary")
    assert not (out / "media").exists()  # the photo is not published in the clear, under any name
    short_page = (out / "posts" / short / "index.html").read_text()
    assert "A post for supporters." in short_page and "Shortpremiumcanary" not in short_page
    long_page = (out / "posts" / long_ / "index.html").read_text()
    assert "Opening words for everyone" in long_page  # a long post keeps a teaser of its beginning
    assert "and media are in" in short_page

    # Subscribers get the text and the photo (without its metadata) from the stock age CLI.
    plain = json.loads(subprocess.run(["age", "-d", "-i", str(key), str(out / "premium" / f"{short}.age")],
                                      capture_output=True, check=True).stdout)
    assert plain["text"] == "Shortpremiumcanary in a few words"
    (item,) = plain["media"]
    assert item["alt"] == "Altcanary description" and item["caption"] == "Captioncanary sunset"
    image = base64.b64decode(item["data_base64"])
    assert image[:2] == b"\xff\xd8" and b"Photobytescanary" not in image
    from PIL import Image

    with Image.open(io.BytesIO(image)) as im:
        assert im.size == (700, 500) and (item["width"], item["height"]) == (700, 500)
    long_plain = subprocess.run(["age", "-d", "-i", str(key), str(out / "premium" / f"{long_}.age")], capture_output=True, check=True).stdout
    assert json.loads(long_plain)["text"] == long_text


@requires_age
def test_by_default_no_premium_text_is_public_however_long(vault_env, tmp_path):
    """Without a `teaser_chars` setting a long premium post shows only the fixed line, so a word
    at its very start stays sealed too."""
    key = tmp_path / "subscriber.txt"
    recipient = subprocess.run(["age-keygen", "-o", str(key)], capture_output=True, text=True, check=True).stderr.split()[-1]
    inject(vault_env.path, [post("long", 4, "Firstwordcanary opens it. " + "More of the story for supporters. " * 40),
                            post("short", 3, "Shortcanary")])
    configure(vault_env, f"  premium:\n    recipients: [{recipient}]\n")
    ids = [rid_of(vault_env, "Firstwordcanary"), rid_of(vault_env, "Shortcanary")]
    assert vault_env.run("mark", *ids, "--premium").code == 0
    out = tmp_path / "site"
    build(vault_env, out)
    assert_nowhere(out, "Firstwordcanary", "Shortcanary", "More of the story")
    for rid in ids:
        assert "A post for supporters." in (out / "posts" / rid / "index.html").read_text()


def test_premium_hint_names_the_unset_passphrase_variable(vault_env, tmp_path, monkeypatch):
    monkeypatch.delenv("SUPPORTERS_PASS", raising=False)
    inject(vault_env.path, [post("p", 2, "Premiumcanary text")])
    configure(vault_env, "  premium:\n    passphrase_env: SUPPORTERS_PASS\n")
    assert vault_env.run("mark", vault_env.records()[0]["id"], "--premium").code == 0
    warnings = build(vault_env, tmp_path / "site")["warnings"]
    assert any("passphrase_env" in w and "SUPPORTERS_PASS" in w and "not set" in w for w in warnings), warnings
    assert_nowhere(tmp_path / "site", "Premiumcanary")


# --- private media and bulk marking --------------------------------------------------------------


def test_media_take_the_strictest_visibility_of_their_posts(vault_env, tmp_path):
    inject(vault_env.path, [
        photo("fo.jpg", jpeg((1, 2, 3), PHOTO, quality=90), alt="Followersaltcanary"),
        photo("dm.jpg", jpeg((4, 5, 6), PHOTO, quality=90), caption="Directcaptioncanary"),
        photo("priv.jpg", jpeg((7, 8, 9), PHOTO, quality=90), alt="Privatephotocanary"),
        photo("ok.jpg", jpeg((9, 9, 9), PHOTO, quality=90), alt="Publicphoto alt"),
        post("f", 2, "Followerscanary post", media_refs=["fo.jpg"], source_visibility="private"),
        post("d", 3, "Directcanary post", media_refs=["dm.jpg"], source_visibility="direct"),
        post("p", 4, "A public post with two photos", media_refs=["ok.jpg", "priv.jpg"], source_visibility="public"),
    ])
    configure(vault_env, "  public:\n    sources: [mastodon]\n")
    media = {r["filename"]: r["id"] for r in vault_env.records("--kind", "media")}
    assert vault_env.run("mark", media["priv.jpg"], "--private").code == 0
    out = tmp_path / "site"
    result = build(vault_env, out)
    assert_nowhere(out, "Followersaltcanary", "Directcaptioncanary", "Privatephotocanary", "Followerscanary", "Directcanary")
    files = bundle_bytes(out)
    published = {rel.split("/")[1].split(".")[0].split("-")[0] for rel in files if rel.startswith("media/")}
    assert published == {media["ok.jpg"]}
    assert not any(f"posts/{media[n]}/" in rel for rel in files for n in ("fo.jpg", "dm.jpg", "priv.jpg"))
    sitemap = files["sitemap.xml"].decode()
    assert all(media[n] not in sitemap for n in ("fo.jpg", "dm.jpg", "priv.jpg"))
    assert result["build"]["published"]["post"] == 1  # the public post; its photo shows in it, not in the gallery
    assert "gallery/index.html" not in files

    # A bulk --public would publish the followers-only and direct posts: refused without --force.
    res = vault_env.run("mark", "--source", "mastodon", "--kind", "post", "--public")
    assert res.code == ExitCode.USAGE
    assert "2 of the selected records were not public on their network" in res.err and "--force" in res.err
    assert "direct" in res.err and "private" in res.err
    assert vault_env.records("--visibility", "public") == []  # nothing changed
    assert vault_env.run("mark", "--source", "mastodon", "--kind", "post", "--public", "--force").code == 0
    build(vault_env, out)
    assert b"Followersaltcanary" in (out / "posts" / rid_of(vault_env, "Followerscanary") / "index.html").read_bytes()
    assert b"Privatephotocanary" not in b"".join(bundle_bytes(out).values())  # its own --private still holds


# --- links -----------------------------------------------------------------------------------------

BAD_LINKS = ["javascript:alert('jscanary')", "JaVaScRiPt:alert(1)", "java\tscript:alert(2)", "data:text/html,<b>datacanary</b>",
             "vbscript:msgbox(1)", "//evil.example/protocol-relative", "/relative/oddity", " javascript:alert(3)"]


def test_only_http_https_and_mailto_become_links(vault_env, tmp_path):
    inject(vault_env.path, [post("l", 2, "Links test", links=BAD_LINKS + ["https://good.example/a?b=1&c=2", "mailto:jana@example.org"],
                                 url="javascript:alert('urlcanary')")])
    configure(vault_env, """  monetization:
    web_monetization: "javascript:alert('wm')"
    links:
      - {name: Evil, url: "javascript:alert('fund')"}
      - {name: Ko-fi, url: "https://ko-fi.com/jana"}
""")
    assert vault_env.run("mark", "--all", "--public").code == 0
    out = tmp_path / "site"
    build(vault_env, out)
    hrefs = []
    for rel, data in bundle_bytes(out).items():
        if rel.endswith((".html", ".xml")):
            hrefs += re.findall(r'(?:href|url)="([^"]*)"', data.decode())
    for h in hrefs:
        scheme = h.split(":", 1)[0].lower() if ":" in h.split("/", 1)[0] else ""
        assert scheme in ("", "http", "https", "mailto"), h
        assert not h.startswith("//") and "script" not in h.lower(), h
    page = next(p for p in (out / "posts").glob("*/index.html")).read_text()
    assert 'href="https://good.example/a?b=1&amp;c=2"' in page and 'href="mailto:jana@example.org"' in page
    assert "javascript:alert(&#39;jscanary&#39;)" in page  # still shown, as text
    assert "urlcanary" not in page  # the "original" link is dropped, not made clickable
    assert 'href="https://ko-fi.com/jana"' in (out / "support/index.html").read_text()


def test_script_links_from_real_exports_are_text(vault_env, tmp_path):
    """Links as the Mastodon and LinkedIn importers read them from their exports."""
    from tests.support.social_fixtures import PUBLIC_IRI, li_export, m_export, m_status, write_tar, write_zip

    html = ('<p>Click <a href="javascript:alert(document.cookie)">here</a> or '
            '<a href="data:text/html;base64,PHNjcmlwdD4=">there</a> or <a href="https://safe.example/">safe</a></p>')
    mastodon = write_tar(tmp_path / "archive.tar.gz", m_export([m_status(1, "2023-03-01T10:00:00Z", html, to=[PUBLIC_IRI])], media={}))
    csv_text = ("Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\r\n"
                "2024-03-05 08:15:00,javascript:alert('li'),Shared a link,data:text/html;base64,PHNjcmlwdD4=,,PUBLIC\r\n")
    linkedin = write_zip(tmp_path / "Basic_LinkedInDataExport.zip", li_export(csv_text=csv_text))
    for export in (mastodon, linkedin):
        res = vault_env.run("import", export)
        assert res.code == 0, res.err
    configure(vault_env)
    assert vault_env.run("mark", "--all", "--public").code == 0
    out = tmp_path / "site"
    build(vault_env, out)
    pages = "".join(p.read_text() for p in out.rglob("*.html"))
    assert "Click here" in pages and "Shared a link" in pages
    assert 'href="https://safe.example/"' in pages
    assert not re.search(r'href="\s*(javascript|data|vbscript):', pages, re.I)


# --- image metadata --------------------------------------------------------------------------------


def _jpeg_segments(data: bytes) -> list[int]:
    assert data[:2] == b"\xff\xd8"
    markers, i = [], 2
    while i < len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            markers.append(marker)
            break
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        markers.append(marker)
        i += 2 + length
    return markers


def _png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, i = [], 8
    while i < len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        chunks.append(data[i + 4 : i + 8])
        i += 12 + length
    return chunks


def _gif_extensions(data: bytes) -> list[int]:
    """The labels of every extension block in a GIF (0xFE comment, 0xFF application...)."""
    assert data[:6] in (b"GIF87a", b"GIF89a")
    flags = data[10]
    i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    labels = []
    while i < len(data) and data[i] != 0x3B:
        if data[i] == 0x21:
            labels.append(data[i + 1])
            i += 2
            if labels[-1] == 0xFF:
                labels[-1] = (0xFF, data[i + 1 : i + 12])
        else:  # image descriptor
            fl = data[i + 9]
            i += 10 + (3 * 2 ** ((fl & 7) + 1) if fl & 0x80 else 0) + 1
        while data[i] != 0:
            i += data[i] + 1
        i += 1
    return labels


def _metadata_fixtures() -> dict[str, bytes]:
    from PIL import Image, ImageCms, PngImagePlugin

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010E] = "Exifcanary description"
    exif[0x8825] = {1: "N", 2: (50.0, 5.0, 0.0)}
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">Xmpcanary</x:xmpmeta>'
    out = {}
    base = jpeg((30, 60, 90), quality=90, size=(900, 600), comment=b"Comcanary", exif=exif.tobytes(), icc_profile=icc, xmp=xmp)
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0f\x1c\x02\x78\x00\x0bIptccanary!"
    app13 = b"\xff\xed" + (len(iptc) + 2).to_bytes(2, "big") + iptc
    out["meta.jpg"] = base[:2] + app13 + base[2:]
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Pngtextcanary")
    info.add_itxt("Description", "Pngitxtcanary")
    info.add_text("Author", "Pngztxtcanary", zip=True)
    buf = io.BytesIO()
    Image.new("RGBA", (400, 300), (5, 6, 7, 128)).save(buf, "PNG", pnginfo=info, exif=exif.tobytes(), icc_profile=icc)
    out["meta.png"] = buf.getvalue()
    frames = [Image.new("RGB", (64, 48), (i * 90, 255 - i * 90, 40)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=0, comment=b"Gifcanary")
    out["meta.gif"] = buf.getvalue()
    buf = io.BytesIO()
    Image.new("RGB", (500, 300), (70, 80, 90)).save(buf, "WEBP", exif=exif.tobytes(), xmp=xmp, icc_profile=icc)
    out["meta.webp"] = buf.getvalue()
    return out


def test_published_images_carry_no_metadata(vault_env, tmp_path):
    from PIL import Image

    fixtures = _metadata_fixtures()
    for name, data in fixtures.items():
        for canary in (b"canary",):
            assert canary in data.lower() or name == "meta.webp" and b"Xmpcanary" in data, name
    inject(vault_env.path, [photo(n, d) for n, d in fixtures.items()]
           + [post("m", 2, "Metadata", media_refs=list(fixtures))])
    configure(vault_env)
    assert vault_env.run("mark", "--all", "--public").code == 0
    out = tmp_path / "site"
    build(vault_env, out)
    files = bundle_bytes(out)
    media = {rel: data for rel, data in files.items() if rel.startswith("media/")}
    assert {rel.rsplit(".", 1)[1] for rel in media} == {"jpg", "png", "gif", "webp"}
    for rel, data in files.items():
        assert b"canary" not in data.lower(), rel
    for rel, data in media.items():
        ext = rel.rsplit(".", 1)[1]
        if ext == "jpg":
            # Only the JFIF header, tables and frame: no APP1 (EXIF/XMP), APP2 (ICC), APP13 (IPTC), COM.
            assert set(_jpeg_segments(data)) <= {0xE0, 0xDB, 0xC0, 0xC2, 0xC4, 0xDD, 0xDA}, (rel, _jpeg_segments(data))
        elif ext == "png":
            assert set(_png_chunks(data)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}, (rel, _png_chunks(data))
        elif ext == "gif":
            labels = _gif_extensions(data)
            assert 0xFE not in labels and all(lab in (0xF9, (0xFF, b"NETSCAPE2.0")) for lab in labels), labels
            with Image.open(io.BytesIO(data)) as im:
                assert im.n_frames == 3 and im.info.get("loop") == 0
                durations = []
                for k in range(3):
                    im.seek(k)
                    durations.append(im.info["duration"])
                assert durations == [100, 200, 300]
        elif ext == "webp":
            assert b"EXIF" not in data and b"XMP " not in data and b"ICCP" not in data
        with Image.open(io.BytesIO(data)) as im:
            assert not im.getexif() and "icc_profile" not in im.info and "comment" not in im.info


# --- resumable, atomic builds ----------------------------------------------------------------------


def _slow_site(env, n: int = 16) -> None:
    """Enough large (but cheap to import) photos that rendering them takes a while."""
    from PIL import Image, ImageDraw

    items = []
    for i in range(n):
        img = Image.new("RGB", (2400, 1800), (i * 15 % 256, 90, 200))
        ImageDraw.Draw(img).ellipse((100 + i * 20, 100, 1900, 1500), fill=(250, 200 - i * 10, 20))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        items.append(photo(f"n{i}.jpg", buf.getvalue()))
    items += [post(f"p{i}", 1 + i % 28, f"Post {i}", media_refs=[f"n{i}.jpg"]) for i in range(n)]
    inject(env.path, items)
    configure(env)
    assert env.run("mark", "--all", "--public").code == 0


def _start_publish(env, out: Path) -> subprocess.Popen:
    import os
    import sys

    from tests.support.env import REPO

    return subprocess.Popen([sys.executable, "-m", "vault", "publish", "--out", str(out)], cwd=REPO, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _interrupt_mid_build(env, out: Path, sig) -> tuple[int, str]:
    import time

    proc = _start_publish(env, out)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        made = list((out / "media").glob("*.jpg")) if (out / "media").exists() else []
        if len(made) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the build ended before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert not (out / "manifest.json").exists()
    return proc.returncode, err.decode()


def test_interrupted_first_build_is_finished_by_the_next(vault_env, tmp_path):
    import signal

    _slow_site(vault_env)
    killed = tmp_path / "killed"
    code, _ = _interrupt_mid_build(vault_env, killed, signal.SIGKILL)
    assert code == -signal.SIGKILL
    stopped = tmp_path / "stopped"
    code, err = _interrupt_mid_build(vault_env, stopped, signal.SIGTERM)
    assert code == ExitCode.INTERRUPTED
    assert "nothing half-written is visible" not in err
    assert "unfinished build" in err and "run the same `vault publish` again" in err
    for out in (killed, stopped):
        build(vault_env, out)
        assert vault_env.run("verify", out).code == 0
    assert bundle_bytes(killed) == bundle_bytes(stopped)
    assert len(list((killed / "media").glob("*.jpg"))) == 16 * 4


def test_dir_target_finishes_a_first_deploy_that_was_killed(vault_env, tmp_path):
    from exporters.targets.directory import IN_PROGRESS

    inject(vault_env.path, [photo("a.jpg", jpeg(PHOTO_COLOR, PHOTO, quality=90)), post("a", 2, "Deployed", media_refs=["a.jpg"])])
    configure(vault_env)
    assert vault_env.run("mark", "--all", "--public").code == 0
    built = tmp_path / "built"
    build(vault_env, built)
    # What a first deploy killed after its first files leaves: its marker, whole files renamed
    # into place, a temporary copy, and no manifest yet.
    dest = tmp_path / "www"
    (dest / "media").mkdir(parents=True)
    (dest / IN_PROGRESS).write_bytes(b"")
    first = next((built / "media").glob("*.jpg"))
    (dest / "media" / first.name).write_bytes(first.read_bytes())
    (dest / "media" / f".{first.name}.vault-tmp").write_bytes(first.read_bytes()[:100])
    res = vault_env.run("publish", "--to", f"dir:{dest}")
    assert res.code == 0, res.err
    assert vault_env.run("verify", dest).code == 0
    assert not (dest / IN_PROGRESS).exists() and not list(dest.rglob("*.vault-tmp"))
    # A folder holding someone else's files is still refused.
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.html").write_text("not ours")
    res = vault_env.run("publish", "--to", f"dir:{other}")
    assert res.code == ExitCode.USAGE and "holds no published bundle" in res.err


def test_damaged_output_file_is_rebuilt(vault_env, tmp_path):
    from PIL import Image

    inject(vault_env.path, [photo("a.jpg", jpeg(PHOTO_COLOR, quality=90, size=(900, 700))), post("a", 2, "A photo", media_refs=["a.jpg"])])
    configure(vault_env)
    assert vault_env.run("mark", "--all", "--public").code == 0
    out = tmp_path / "site"
    build(vault_env, out)
    before = bundle_bytes(out)
    main = next(p for p in (out / "media").glob("*.jpg") if "-" not in p.name)
    main.write_bytes(main.read_bytes()[:500])  # truncated by a failed copy
    thumb = next((out / "media").glob("*-320.jpg"))
    thumb.unlink()
    assert vault_env.run("verify", out).code == ExitCode.INTEGRITY
    again = build(vault_env, out)
    assert bundle_bytes(out) == before and again["build"]["written"] >= 2
    assert vault_env.run("verify", out).code == 0
    with Image.open(main) as im:
        im.load()


# --- pagination, dimensions, XML-legal text, file modes -------------------------------------------


def test_pagination_shows_every_post_once_with_numbered_pages(vault_env, tmp_path):
    from datetime import datetime, timezone

    items = [post(f"n{i}", 1, f"Numbered post {i:02d}") for i in range(33)]
    for i, item in enumerate(items):
        item.created_at = datetime(2024, 1, 1, tzinfo=timezone.utc).replace(hour=i % 24, day=1 + i // 24)
    inject(vault_env.path, items)
    configure(vault_env, per_page=8)
    assert vault_env.run("mark", "--all", "--public").code == 0
    out = tmp_path / "site"
    build(vault_env, out)
    newest_first = [f"Numbered post {i:02d}" for i in range(32, -1, -1)]

    def posts_on(page: Path) -> list[str]:
        return re.findall(r'<p class="excerpt">(Numbered post \d\d)</p>', page.read_text())

    pages = [out / "index.html"] + sorted((out / "page").glob("*/index.html"), key=lambda p: -int(p.parent.name))
    seen = [t for p in pages for t in posts_on(p)]
    assert seen == newest_first  # every post exactly once, newest to oldest
    home = (out / "index.html").read_text()
    assert posts_on(out / "index.html") == newest_first[:8]
    older = re.search(r'<a rel="next" href="([^"]+)">Older posts</a>', home).group(1)
    assert posts_on(out / older)[0] == newest_first[8]
    # Walking "Older posts" from the home page visits every post once.
    walked, page = [], out / "index.html"
    while True:
        walked += posts_on(page)
        link = re.search(r'<a rel="next" href="([^"]+)">Older posts</a>', page.read_text())
        if not link:
            break
        page = (page.parent / link.group(1)).resolve()
    assert walked == newest_first
    # Numbered links to every archive page, the current one marked.
    count = len(list((out / "page").glob("*/index.html")))
    assert count == 4
    for k in range(1, count + 1):
        assert f'href="page/{k}/index.html">{k}</a>' in home
    assert '<span aria-current="page">2</span>' in (out / "page/2/index.html").read_text()


def test_a_post_that_opens_a_new_archive_page_leaves_the_older_pages_alone(vault_env, tmp_path):
    inject(vault_env.path, [post(f"n{i}", 1 + i, f"Dated post {i:02d}") for i in range(12)])
    configure(vault_env, per_page=3)
    assert vault_env.run("mark", "--all", "--public").code == 0
    out = tmp_path / "site"
    build(vault_env, out)
    assert sorted(p.parent.name for p in (out / "page").glob("*/index.html")) == ["1", "2", "3"]
    shared = {"index.html", "atom.xml", "rss.xml", "feed.json", "sitemap.xml", "manifest.json", "2024/index.html",
              "archive/index.html"}

    def add(source_id: str, day: int, pages: set[str]) -> None:
        before = bundle_bytes(out)
        inject(vault_env.path, [post(source_id, day, f"Dated post {source_id}")])
        assert vault_env.run("mark", "--all", "--public").code == 0
        build(vault_env, out)
        after = bundle_bytes(out)
        changed = {rel for rel in before.keys() | after.keys() if before.get(rel) != after.get(rel)}
        new_page = {rel for rel in changed if rel.startswith("posts/")}
        assert len(new_page) == 1 and not new_page & before.keys()
        assert changed - new_page <= shared | pages and pages <= changed, sorted(changed)

    # A 13th post: the home page's oldest moves to a new page 4; page 3 only gains its "newer" link.
    add("n12", 20, {"page/3/index.html", "page/4/index.html"})
    page4 = (out / "page/4/index.html").read_text()
    assert 'href="../../index.html">Newer posts</a>' in page4 and 'href="../../page/3/index.html">Older posts</a>' in page4
    assert '<span aria-current="page">4</span>' in page4
    assert 'href="../../page/4/index.html">Newer posts</a>' in (out / "page/3/index.html").read_text()
    # A 14th: only the newest archive page takes it.
    add("n13", 21, {"page/4/index.html"})


def test_rebuilds_are_byte_identical_with_the_real_image_size(vault_env, tmp_path):
    inject(vault_env.path, [photo("a.jpg", jpeg(PHOTO_COLOR, quality=90, size=(1600, 1200)), width=4, height=3),
                            post("a", 2, "Declared four by three", media_refs=["a.jpg"])])
    configure(vault_env)
    assert vault_env.run("mark", "--all", "--public").code == 0
    a, b = tmp_path / "a", tmp_path / "b"
    build(vault_env, a)
    first = bundle_bytes(a)
    again = build(vault_env, a)
    assert again["build"]["written"] == 0 and bundle_bytes(a) == first
    build(vault_env, b)
    assert bundle_bytes(b) == first
    page = next(p for p in (a / "posts").glob("*/index.html") if "Declared" in p.read_text()).read_text()
    assert 'width="1600" height="1200"' in page and 'width="4"' not in page
    assert " 1280w" in page and " 1600w" in page


def test_mastodon_export_rebuilds_byte_identical(vault_env, tmp_path):
    """Mastodon declares every attachment 4x3; its PNG fixture is really 5x2."""
    from tests.support.social_fixtures import m_export, write_tar

    assert vault_env.run("import", write_tar(tmp_path / "archive.tar.gz", m_export())).code in (0, 3)
    configure(vault_env)
    assert vault_env.run("mark", "--all", "--public", "--force").code == 0
    out = tmp_path / "site"
    build(vault_env, out)
    first = bundle_bytes(out)
    assert build(vault_env, out)["build"]["written"] == 0 and bundle_bytes(out) == first
    pages = "".join(p.read_text() for p in (out / "posts").glob("*/index.html"))
    assert 'width="5" height="2"' in pages


ILLEGAL = "\x1b\x0c\x00\x7f\ufffe\uffff"


def test_xml_illegal_characters_are_removed_everywhere(vault_env, tmp_path):
    inject(vault_env.path, [post("c", 2, f"Control{ILLEGAL}chars\x08 and tab\tkept", links=["https://ex.example/\x1bx"]),
                            photo("c.jpg", jpeg(PHOTO_COLOR, PHOTO, quality=90), caption="Cap\x1btion"), post("d", 3, "Photo", media_refs=["c.jpg"])])
    configure(vault_env)
    assert vault_env.run("mark", "--all", "--public").code == 0
    out = tmp_path / "site"
    build(vault_env, out)
    for name in ("atom.xml", "rss.xml", "sitemap.xml"):
        ET.parse(out / name)  # well-formed
    rss = ET.parse(out / "rss.xml").getroot()
    assert any(i.findtext("description") == "Controlchars and tab\tkept" for i in rss.iter("item"))
    json.loads((out / "feed.json").read_text())
    bad = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
    for rel, data in bundle_bytes(out).items():
        if rel.endswith((".html", ".xml", ".json")):
            assert not bad.search(data.decode("utf-8")), rel


def test_xml_text_drops_lone_surrogates_and_noncharacters():
    from exporters.site.render import clean_deep, xml_text

    assert xml_text("a\ud800b\udfffc\U0001fffe\U0010ffffd\x85e") == "abcde"
    assert xml_text("tab\tnl\ncr\r ok é 😀") == "tab\tnl\ncr\r ok é 😀"
    assert clean_deep({"k\x1b": ["v\x0c", 1, None]}) == {"k": ["v", 1, None]}


def test_published_files_are_world_readable_and_the_vault_is_not(vault_env, tmp_path):
    import os
    import stat

    inject(vault_env.path, [photo("a.jpg", jpeg(PHOTO_COLOR, PHOTO, quality=90)), post("a", 2, "Readable", media_refs=["a.jpg"])])
    configure(vault_env)
    assert vault_env.run("mark", "--all", "--public").code == 0
    old = os.umask(0o077)
    try:
        dest = tmp_path / "www" / "site"
        out = tmp_path / "built" / "out"
        assert vault_env.run("publish", "--to", f"dir:{dest}").code == 0
        build(vault_env, out)
    finally:
        os.umask(old)
    for root in (dest, out):
        for p in [root, *root.rglob("*")]:
            mode = stat.S_IMODE(p.stat().st_mode)
            assert mode == (0o755 if p.is_dir() else 0o644), (p, oct(mode))
    assert stat.S_IMODE((tmp_path / "www").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "built").stat().st_mode) == 0o755
    for p in vault_env.path.rglob("*"):
        if p.is_file() and p.name != "vault.yaml":
            assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, p


def test_rclone_copy_of_the_site_is_world_readable(vault_env, tmp_path):
    import os
    import stat

    inject(vault_env.path, [photo("a.jpg", jpeg(PHOTO_COLOR, PHOTO, quality=90)), post("a", 2, "Readable over rclone", media_refs=["a.jpg"])])
    configure(vault_env)
    assert vault_env.run("mark", "--all", "--public").code == 0
    dest = tmp_path / "rclone-site"
    old = os.umask(0o077)
    try:
        res = vault_env.run("publish", "--to", f"rclone::local:{dest}")
    finally:
        os.umask(old)
    assert res.code == 0, res.err
    files = [p for p in dest.rglob("*") if p.is_file()]
    assert any(p.suffix == ".jpg" for p in files) and (dest / "index.html").exists()
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p
    for p in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o755, p


# --- warnings --------------------------------------------------------------------------------------


def test_lightning_address_warnings(vault_env, tmp_path):
    inject(vault_env.path, [post("a", 2, "Hello")])
    configure(vault_env, "  monetization:\n    lightning_address: jana@jana.example.org\n")
    res = vault_env.run("publish", "--out", tmp_path / "a")
    assert res.code == 0
    assert "https://jana.example.org/.well-known/lnurlp/jana" in res.err and "lnurlp is not set" in res.err
    assert not (tmp_path / "a/.well-known/lnurlp").exists()

    lnurlp = '    lnurlp: {tag: payRequest, callback: "https://ln.example/cb", minSendable: 1000, maxSendable: 2000, metadata: "[]"}\n'
    (vault_env.path / "vault.yaml").write_text(
        "publish:\n  base_url: https://jana.example.org/blog/\n  monetization:\n    lightning_address: jana@jana.example.org\n" + lnurlp)
    res = vault_env.run("publish", "--out", tmp_path / "b", "--json")
    assert res.code == 0
    warnings = res.json()["warnings"]
    assert any("/blog/" in w and "root" in w and "/.well-known/lnurlp/jana" in w for w in warnings), warnings
    assert json.loads((tmp_path / "b/.well-known/lnurlp/jana").read_text())["tag"] == "payRequest"
