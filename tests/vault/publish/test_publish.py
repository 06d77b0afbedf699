"""`vault publish` and `vault verify`: the bundle, its safety, its signatures, its targets."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

from tests.support.env import requires_age
from tests.support.post_fixtures import inject, post
from tests.support.publish_fixtures import CANARY, SETTINGS, build, configure, site_vault  # noqa: F401  (site_vault is a fixture)
from vault.errors import ExitCode


def test_bundle_contents_escaping_and_privacy(site_vault, tmp_path):
    out = tmp_path / "site"
    result = build(site_vault, out)
    assert result["build"]["published"]["post"] == 8
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for needed in ("index.html", "page/1/index.html", "atom.xml", "rss.xml", "feed.json", "sitemap.xml", "robots.txt",
                   "style.css", ".well-known/did.json", "manifest.json"):
        assert needed in files, needed
    # Private canary: nowhere in any file, feed, sitemap or JSON-LD.
    for p in out.rglob("*"):
        if p.is_file():
            assert CANARY.encode() not in p.read_bytes(), p
    index = (out / "index.html").read_text()
    assert '<html lang="cs">' in index
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in index and "<script>alert" not in index
    assert "Jana&#39;s &lt;archive&gt;" in index
    assert 'rel="alternate" type="application/atom+xml"' in index and 'application/feed+json' in index
    ld = json.loads(index.split('<script type="application/ld+json">')[1].split("</script>")[0])
    assert ld["@type"] == "ProfilePage" and ld["mainEntity"]["sameAs"] == ["https://mastodon.example/@jana"]
    assert 'property="og:title"' in index


def test_feeds_sitemap_and_post_pages_are_valid(site_vault, tmp_path):
    out = tmp_path / "site"
    build(site_vault, out)
    atom = ET.parse(out / "atom.xml").getroot()
    entries = atom.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 8
    assert entries[0].find("{http://www.w3.org/2005/Atom}id").text.startswith("https://jana.example.org/posts/")
    rss = ET.parse(out / "rss.xml").getroot()
    assert len(rss.findall("channel/item")) == 8
    assert "<script>alert('x')</script>" in "".join(i.findtext("description") for i in rss.findall("channel/item"))
    feed = json.loads((out / "feed.json").read_text())
    assert feed["version"] == "https://jsonfeed.org/version/1.1" and len(feed["items"]) == 8
    urls = [u.text for u in ET.parse(out / "sitemap.xml").getroot().iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert "https://jana.example.org/" in urls and "https://jana.example.org/2024/" in urls
    assert len(urls) == 11  # home, 8 posts, one year and the archive
    page = next(p for p in (out / "posts").glob("p_*/index.html") if "Post number 3" in p.read_text())
    html = page.read_text()
    blog = json.loads(html.split('<script type="application/ld+json">')[1].split("</script>")[0])
    assert blog["@type"] == "BlogPosting" and blog["image"].startswith("https://jana.example.org/media/")
    assert "srcset=" in html and " 320w" in html and 'alt="Sunset &lt;b&gt;over&lt;/b&gt; the river"' in html
    assert 'href="https://example.org/?a=1&amp;b=2"' in html


def test_published_images_have_no_exif_or_gps(site_vault, tmp_path):
    from PIL import Image

    out = tmp_path / "site"
    build(site_vault, out)
    images = list((out / "media").glob("*.jpg"))
    assert len(images) == 4  # full size + 320/640/1280
    for img in images:
        data = img.read_bytes()
        assert b"Exif" not in data
        with Image.open(img) as im:
            assert not im.getexif()
    # The original in the vault keeps its EXIF.
    mid = next(r["id"] for r in site_vault.records("--kind", "media"))
    got = tmp_path / "orig.jpg"
    assert site_vault.run("get", mid, "-o", got).code == 0
    assert got.read_bytes() == site_vault.photo


def test_build_is_deterministic_and_incremental(site_vault, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build(site_vault, a)
    build(site_vault, b)
    fa = {p.relative_to(a): p.read_bytes() for p in a.rglob("*") if p.is_file()}
    fb = {p.relative_to(b): p.read_bytes() for p in b.rglob("*") if p.is_file()}
    assert fa == fb
    again = build(site_vault, a)
    assert again["build"]["written"] == 0 and again["build"]["removed"] == 0
    inject(site_vault.path, [post("new", 28, "A brand new post")])
    assert site_vault.run("mark", "--source", "mastodon", "--since", "2024-01-28", "--public").code == 0
    third = build(site_vault, a)
    assert 0 < third["build"]["written"] < 12  # new page, index pages, feeds, sitemap, manifest


def test_verify_passes_then_detects_tampering(site_vault, tmp_path):
    out = tmp_path / "site"
    build(site_vault, out)
    res = site_vault.run("verify", out, "--json")
    assert res.code == 0 and res.json()["ok"] and res.json()["did"] == "did:web:jana.example.org"
    victim = next(p for p in (out / "posts").glob("p_*/index.html") if "Post number" in p.read_text())
    victim.write_text(victim.read_text().replace("Post number", "Post NUMBER"))
    res = site_vault.run("verify", out, "--json")
    assert res.code == ExitCode.INTEGRITY
    assert any("content differs" in p for p in res.json()["problems"])
    build(site_vault, out)  # repairs it
    (out / "extra.html").write_text("<p>injected</p>")
    res = site_vault.run("verify", out)
    assert res.code == ExitCode.INTEGRITY and "extra.html" in res.out
    (out / "extra.html").unlink()
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["index.html"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    res = site_vault.run("verify", out)
    assert res.code == ExitCode.INTEGRITY and "signature does not verify" in res.out


def test_verify_over_http(site_vault, tmp_path):
    import functools
    import http.server
    import threading

    out = tmp_path / "site"
    build(site_vault, out)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        # The site stands in for jana.example.org, where its DID document is resolved from.
        assert site_vault.run("verify", url, "--resolve", f"jana.example.org={url}").code == 0
        (out / "style.css").write_text("body{}")
        assert site_vault.run("verify", url, "--resolve", f"jana.example.org={url}").code == ExitCode.INTEGRITY
    finally:
        server.shutdown()


def test_rules_in_vault_yaml_and_explicit_private(vault_env, tmp_path):
    inject(vault_env.path, [post("a", 1, "rule-public post"), post("b", 2, "followers only", source_visibility="followers-only"),
                            post("c", 3, f"{CANARY} explicitly private")])
    configure(vault_env, "  public:\n    sources: [mastodon]\n    kinds: [post]\n")
    rid = vault_env.run("search", CANARY, "--json").jsonl()[0]["id"]
    assert vault_env.run("mark", rid, "--private").code == 0
    out = tmp_path / "site"
    result = build(vault_env, out)
    assert result["build"]["published"]["post"] == 1
    text = "".join(p.read_text(errors="replace") for p in out.rglob("*.html"))
    assert "rule-public post" in text and "followers only" not in text and CANARY not in text


def test_nothing_is_public_by_default(vault_env, tmp_path):
    inject(vault_env.path, [post("a", 1, f"{CANARY} default private")])
    configure(vault_env)
    out = tmp_path / "site"
    assert build(vault_env, out)["build"]["published"]["post"] == 0
    assert all(CANARY.encode() not in p.read_bytes() for p in out.rglob("*") if p.is_file())


@requires_age
def test_premium_post_is_a_teaser_with_an_age_file(vault_env, tmp_path):
    key = tmp_path / "subscriber.txt"
    proc = subprocess.run(["age-keygen", "-o", str(key)], capture_output=True, text=True, check=True)
    recipient = proc.stderr.strip().split()[-1]
    body = "Members only: " + "the long story of the repair café. " * 20 + "SECRETENDING"
    inject(vault_env.path, [post("p", 5, body)])
    configure(vault_env, f"  premium:\n    recipients: [{recipient}]\n    teaser_chars: 40\n")
    rid = vault_env.records()[0]["id"]
    assert vault_env.run("mark", rid, "--premium").code == 0
    out = tmp_path / "site"
    result = build(vault_env, out)
    assert result["build"]["published"]["premium"] == 1
    for p in out.rglob("*"):
        if p.is_file() and p.suffix != ".age":
            assert b"SECRETENDING" not in p.read_bytes(), p
    page = (out / "posts" / rid / "index.html").read_text()
    assert "Members only" in page and "supporters" in page
    plain = subprocess.run(["age", "-d", "-i", str(key), str(out / "premium" / f"{rid}.age")], capture_output=True, check=True).stdout
    assert json.loads(plain)["text"] == body
    before = (out / "premium" / f"{rid}.age").read_bytes()
    build(vault_env, out)
    assert (out / "premium" / f"{rid}.age").read_bytes() == before  # cached: byte-identical rebuilds


def test_monetization_links_everywhere(site_vault, tmp_path):
    configure(site_vault, """  monetization:
    web_monetization: https://wallet.example/jana
    lightning_address: jana@jana.example.org
    lnurlp: {tag: payRequest, callback: "https://ln.example/cb", minSendable: 1000, maxSendable: 100000000, metadata: "[[\\"text/plain\\",\\"Tip Jana\\"]]"}
    links:
      - {name: Ko-fi, url: "https://ko-fi.com/jana"}
      - {name: Liberapay, url: "https://liberapay.com/jana"}
""")
    out = tmp_path / "site"
    build(site_vault, out)
    for page in out.rglob("*.html"):
        assert '<link rel="monetization" href="https://wallet.example/jana">' in page.read_text(), page
    assert json.loads((out / ".well-known/lnurlp/jana").read_text())["tag"] == "payRequest"
    support = (out / "support/index.html").read_text()
    assert "https://ko-fi.com/jana" in support and "jana@jana.example.org" in support
    rss = (out / "rss.xml").read_text()
    assert '<podcast:funding url="https://ko-fi.com/jana">Ko-fi</podcast:funding>' in rss


def test_secret_in_vault_yaml_refused(vault_env, tmp_path):
    configure(vault_env, "  netlify_token: abc123")
    res = vault_env.run("publish", "--out", tmp_path / "s")
    assert res.code == ExitCode.USAGE and "looks like a secret" in res.err and "abc123" not in res.err


def test_missing_base_url_is_a_clear_usage_error(vault_env, tmp_path):
    res = vault_env.run("publish", "--out", tmp_path / "s")
    assert res.code == ExitCode.USAGE and "base_url" in res.err


def test_dir_target_dry_run_and_deletions(site_vault, tmp_path):
    dest = tmp_path / "www"
    res = site_vault.run("publish", "--to", f"dir:{dest}", "--dry-run", "--json")
    assert res.code == 0 and len(res.json()["plan"]["added"]) > 10 and not dest.exists()
    assert site_vault.run("publish", "--to", f"dir:{dest}").code == 0
    assert site_vault.run("verify", dest).code == 0
    again = site_vault.run("publish", "--to", f"dir:{dest}", "--json").json()
    assert again["plan"] == {"added": [], "changed": [], "deleted": []}
    rid = site_vault.records("--kind", "post", "--visibility", "public", "--limit", "1")[0]["id"]
    assert site_vault.run("mark", rid, "--private").code == 0
    plan = site_vault.run("publish", "--to", f"dir:{dest}", "--dry-run", "--json").json()["plan"]
    assert f"posts/{rid}/index.html" in plan["deleted"]
    assert site_vault.run("publish", "--to", f"dir:{dest}").code == 0
    assert not (dest / "posts" / rid).exists()
    assert site_vault.run("verify", dest).code == 0


def test_git_target_pushes_to_a_bare_repository(site_vault, tmp_path):
    bare = tmp_path / "pages.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    spec = f"git:{bare}#gh-pages"
    res = site_vault.run("publish", "--to", spec, "--json")
    assert res.code == 0, res.err
    assert res.json()["deploy"]["pushed"] is True
    files = subprocess.run(["git", "-C", str(bare), "ls-tree", "-r", "--name-only", "gh-pages"], capture_output=True, text=True, check=True).stdout.split()
    assert ".nojekyll" in files and "index.html" in files and "manifest.json" in files
    again = site_vault.run("publish", "--to", spec, "--json").json()
    assert again["plan"] == {"added": [], "changed": [], "deleted": []}
    log = subprocess.run(["git", "-C", str(bare), "log", "--oneline", "gh-pages"], capture_output=True, text=True, check=True).stdout
    assert len(log.splitlines()) == 1
    # A named target from vault.yaml, and an unreachable remote fails with git's message.
    with open(site_vault.path / "vault.yaml", "a") as fh:
        fh.write(f"targets:\n  pages: {spec}\n  broken: git:{tmp_path / 'nope.git'}#main\n")
    assert site_vault.run("publish", "pages").code == 0
    res = site_vault.run("publish", "broken")
    assert res.code == ExitCode.UNEXPECTED and "git ls-remote failed" in res.err


def test_credentials_expire(site_vault, tmp_path):
    from tests.support.post_fixtures import rating
    from vault.publish.verify import verify_bundle

    now = datetime(2024, 6, 1, tzinfo=timezone.utc)
    inject(site_vault.path, [rating("f1", "positive", now - timedelta(days=10), "Great <b>seller</b>"),
                             rating("f2", "negative", now - timedelta(days=5), "Late")], source="ebay")
    assert site_vault.run("mark", "--kind", "rating", "--public").code == 0
    out = tmp_path / "site"
    build(site_vault, out)
    assert (out / "credentials/ebay.json").exists() and (out / "reputation/index.html").exists()
    cred = json.loads((out / "credentials/ebay.json").read_text())
    assert cred["proof"]["cryptosuite"] == "eddsa-jcs-2022" and cred["credentialSubject"]["ratingsReceived"]["negative"] == 1
    assert verify_bundle(str(out)).ok
    late = verify_bundle(str(out), now=datetime.now(timezone.utc) + timedelta(days=800))
    assert not late.ok and any("expired" in p for p in late.problems)
    html = (out / "reputation/index.html").read_text()
    assert "Great &lt;b&gt;seller&lt;/b&gt;" in html and "AggregateRating" in html


def test_target_with_credentials_in_vault_yaml_refused(vault_env, tmp_path):
    configure(vault_env)
    with open(vault_env.path / "vault.yaml", "a") as fh:
        fh.write("targets:\n  leaky: 'rclone::s3,access_key_id=AK,secret_access_key=Sup3rSecretPangolin:bucket/site'\n")
    res = vault_env.run("publish", "leaky")
    assert res.code == ExitCode.USAGE and "carries credentials" in res.err
    assert "Sup3rSecretPangolin" not in res.err + res.out
