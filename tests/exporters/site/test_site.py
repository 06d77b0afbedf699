"""The published site as a reader meets it: no invented headings, a gallery for photos of no post,
year archives, tag pages, an empty state, share metadata, the reputation chart and badges."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.support.env import requires_age
from tests.support.post_fixtures import inject, post
from tests.support.rich_site import SITE, build, configure, media_ids, month, photo, rich_site, rid

SVG = "{http://www.w3.org/2000/svg}"


def all_text(out: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.suffix in (".html", ".xml", ".json", ".svg", ".txt"))


def meta(html: str, prop: str) -> str | None:
    m = re.search(rf'<meta (?:property|name)="{re.escape(prop)}" content="([^"]*)">', html)
    return m.group(1) if m else None


def canonical(html: str) -> str | None:
    m = re.search(r'<link rel="canonical" href="([^"]*)">', html)
    return m.group(1) if m else None


def post_page(out: Path, text: str) -> str:
    return next(p.read_text() for p in (out / "posts").glob("*/index.html") if text in p.read_text())


def test_untitled_posts_get_no_heading_and_titled_ones_keep_theirs(vault_env, tmp_path):
    out = rich_site(vault_env, tmp_path)
    home = (out / "index.html").read_text()
    # The listing shows an excerpt of an untitled post, never its text as a heading.
    assert '<p class="excerpt">Just a quick thought with no title at all.' in home
    assert not re.search(r"<h[12][^>]*>[^<]*(<a [^>]*>)?Just a quick thought", home)
    assert '<h2><a href="posts/' in home and '>A proper title</a></h2>' in home
    page = post_page(out, "Second paragraph of the thought.")
    article = page.split("<main")[1]
    assert "<h1" not in article and "<h2" not in article
    # The page's one h1 is the site's name in the header (for assistive technology), not a made-up title.
    assert re.findall(r"<h1[^>]*>.*?</h1>", page) == ['<h1 class="home"><a href="../../index.html">Site test</a></h1>']
    assert "<p>Second paragraph of the thought.</p>" in article  # the full text
    assert re.search(r"<title>Just a quick thought with no title at all\. .{10,70}— Site test</title>", page)
    assert meta(page, "og:title").startswith("Just a quick thought")
    titled = post_page(out, "Body of the titled article.")
    assert re.findall(r"<h1[^>]*>.*?</h1>", titled) == ["<h1>A proper title</h1>"] and "<title>A proper title — Site test</title>" in titled
    # Feeds: a JSON Feed item has a title only when the post has one.
    items = {i["content_text"][:20]: i for i in json.loads((out / "feed.json").read_text())["items"]}
    assert "title" not in items["Just a quick thought"] and items["Body of the titled a"]["title"] == "A proper title"


def test_photos_of_no_post_are_a_gallery_with_their_captions(vault_env, tmp_path):
    out = rich_site(vault_env, tmp_path)
    gallery = (out / "gallery" / "index.html").read_text()
    figures = re.findall(r'<img src="[^"]+"[^>]* alt="([^"]*)"[^>]*>.*?<figcaption>([^<]*)<time', gallery, re.S)
    assert figures == [("A blue evening sky", "Blue hour "), ("Boats moored in a harbour", "Harbour at noon ")]  # newest first
    assert "A green field" not in gallery  # a post's photo shows in its post
    # Not posts named after their files, and nothing private or premium anywhere.
    text = all_text(out)
    for canary in ("DSC_1.jpg", "DSC_2.jpg", "Privgallerycanary", "Privaltcanary", "Premgallerycanary", "Premaltcanary",
                   "Hiddenpostcanary", "secrettagcanary"):
        assert canary not in text, canary
    media = media_ids(vault_env)
    published = {p.name.split(".")[0].split("-")[0] for p in (out / "media").iterdir()}
    assert media["DSC_3.jpg"] not in published and media["DSC_4.jpg"] not in published
    assert {media["DSC_1.jpg"], media["DSC_2.jpg"], media["inpost.jpg"]} == published
    assert not any(d.name.startswith("m_") for d in (out / "posts").iterdir())
    assert 'href="gallery/index.html">Gallery</a>' in (out / "index.html").read_text()
    assert f"<loc>{SITE}gallery/</loc>" in (out / "sitemap.xml").read_text()


def test_year_archives_and_tag_pages(vault_env, tmp_path):
    out = rich_site(vault_env, tmp_path)
    y2023 = (out / "2023" / "index.html").read_text()
    y2024 = (out / "2024" / "index.html").read_text()
    assert "river at dawn" in y2023 and "quick thought" not in y2023
    assert "quick thought" in y2024 and "A proper title" in y2024 and "river at dawn" not in y2024
    archive = (out / "archive" / "index.html").read_text()
    assert archive.index('href="../2024/index.html"') < archive.index('href="../2023/index.html"')
    walks = (out / "tags" / "walks" / "index.html").read_text()
    assert "river at dawn" in walks and "quick thought" in walks and "A proper title" not in walks
    cafe = [d for d in (out / "tags").iterdir() if d.name.startswith("cafe-life-")]
    assert len(cafe) == 1 and "A proper title" in (cafe[0] / "index.html").read_text()
    index = (out / "tags" / "index.html").read_text()
    assert 'href="../tags/walks/index.html">#walks</a>' in index and "#Café Life" in index
    assert sorted(d.name for d in (out / "tags").iterdir() if d.is_dir()) == sorted(["walks", cafe[0].name])
    # Posts link to their tags.
    assert 'href="../../tags/walks/index.html">#walks</a>' in post_page(out, "Second paragraph of the thought.")


def test_share_metadata_on_every_page_and_feed_attachments(vault_env, tmp_path):
    out = rich_site(vault_env, tmp_path)
    pages = [p for p in out.rglob("*.html")]
    assert len(pages) >= 12
    for p in pages:
        html = p.read_text()
        rel = p.relative_to(out).as_posix()
        assert canonical(html) == SITE + (rel[: -len("index.html")]), rel
        image = meta(html, "og:image")
        assert image and image.startswith(SITE), rel
        assert meta(html, "twitter:card") == "summary_large_image", rel
    withphoto = post_page(out, "A post with a photo of a field")
    media = media_ids(vault_env)
    assert meta(withphoto, "og:image") == f"{SITE}media/{media['inpost.jpg']}.jpg"
    assert meta((out / "gallery" / "index.html").read_text(), "og:image") == f"{SITE}media/{media['DSC_2.jpg']}.jpg"
    # Pages with no image of their own carry the configured site image.
    assert meta((out / "reputation" / "index.html").read_text(), "og:image") == f"{SITE}images/me.jpg"
    assert meta(post_page(out, "quick thought"), "og:image") == f"{SITE}images/me.jpg"
    feed = {i["content_text"][:20]: i for i in json.loads((out / "feed.json").read_text())["items"]}
    item = feed["A post with a photo "]
    assert item["image"] == f"{SITE}media/{media['inpost.jpg']}.jpg"
    assert item["attachments"] == [{"url": f"{SITE}media/{media['inpost.jpg']}.jpg", "mime_type": "image/jpeg"}]
    assert "attachments" not in feed["Just a quick thought"] and "image" not in feed["Just a quick thought"]


def test_reputation_chart_and_badges(vault_env, tmp_path):
    out = rich_site(vault_env, tmp_path)
    page = (out / "reputation" / "index.html").read_text()
    svg_text = re.search(r"<svg .*?</svg>", page, re.S).group(0)
    svg = ET.fromstring(svg_text)
    assert svg.get("role") == "img" and svg.find(f"{SVG}title").text.startswith("Ratings received on eBay per month, 2024-01 to 2024-04")
    desc = svg.find(f"{SVG}desc").text
    assert "3 positive, 1 neutral and 1 negative" in desc and "2024-01: 2 positive, 0 neutral, 0 negative." in desc
    bars = [(r.get("class"), r.find(f"{SVG}title").text) for r in svg.iter(f"{SVG}rect")]
    assert bars == [("bar-positive", "2024-01: 2 positive"), ("bar-neutral", "2024-03: 1 neutral"),
                    ("bar-positive", "2024-04: 1 positive"), ("bar-negative", "2024-04: 1 negative")]
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert "2024-01" in labels and "2024-04" in labels and "0" in labels and "2" in labels
    assert "<script" not in svg_text and "<script" not in page.split("</head>")[1].replace('<script type="application/ld+json">', "")
    # The badge: standalone SVG, no script, linking to the credential it stands for.
    badge_path = out / "badges" / "ebay.svg"
    data = badge_path.read_text()
    root = ET.fromstring(data)
    assert root.tag == f"{SVG}svg" and "<script" not in data.lower() and "on" not in {a[:2] for e in root.iter() for a in e.attrib}
    link = root.find(f"{SVG}a")
    assert link.get("href") == f"{SITE}credentials/ebay.json"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["eBay", "75% positive · 5 ratings"]
    assert (out / "credentials" / "ebay.json").exists()
    assert re.search(r'<a href="../credentials/ebay.json"><img src="../badges/ebay.svg" alt="eBay rating badge: 75% positive, 5 ratings"', page)
    manifest = json.loads((out / "manifest.json").read_text())
    assert "badges/ebay.svg" in json.dumps(manifest)


def test_empty_vault_builds_a_home_page_that_says_how_to_publish(vault_env, tmp_path):
    inject(vault_env.path, [post("p", 1, "Still private")])
    configure(vault_env)
    out = tmp_path / "site"
    build(vault_env, out)
    home = (out / "index.html").read_text()
    assert "Nothing here yet" in home and "<code>vault mark" in home and "--public" in home and "vault publish" in home
    assert "Still private" not in all_text(out)
    assert meta(home, "twitter:card") == "summary" and meta(home, "og:image") is None
    assert canonical(home) == SITE
    assert not (out / "gallery").exists() and not (out / "tags").exists() and not (out / "archive").exists()


@requires_age
def test_premium_posts_have_no_tags_images_or_attachments_in_the_open(vault_env, tmp_path):
    key = tmp_path / "subscriber.txt"
    recipient = subprocess.run(["age-keygen", "-o", str(key)], capture_output=True, text=True, check=True).stderr.split()[-1]
    inject(vault_env.path, [photo("sealed.jpg", (5, 5, 5), month(1), alt="Sealedaltcanary"),
                            post("prem", 2, "Premiumtextcanary for supporters", media_refs=["sealed.jpg"])])
    configure(vault_env, f"  premium:\n    recipients: [{recipient}]\n")
    pid = rid(vault_env, "Premiumtextcanary")
    assert vault_env.run("mark", pid, "--premium", "--add-tag", "premtagcanary").code == 0
    out = tmp_path / "site"
    build(vault_env, out)
    item = json.loads((out / "feed.json").read_text())["items"][0]
    assert "attachments" not in item and "image" not in item and "tags" not in item
    text = all_text(out)
    assert "premtagcanary" not in text and "Sealedaltcanary" not in text and "Premiumtextcanary" not in text
    assert not (out / "gallery").exists() and not (out / "2024").exists()
