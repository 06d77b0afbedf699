"""A minimal Hugo site over the same posts and photos as a vault benchmark, doing the same image
work as `vault publish`: every photo published at min(width, 2048) px wide plus one copy per
thumbnail width below that (320, 640, 1280), JPEG quality 85, with the same resampling filter
(Catmull-Rom, which is Pillow's BICUBIC).  Used by bench/publish.py; not a test.

The photos are Hugo *global resources* (assets/media/), processed with `.Resize` from templates:
each post showing a photo renders an <img srcset> of its sizes, and one `photos` page (left out of
the lists) renders every photo, so photos no post shows are processed too, as the vault publishes
them on their own pages.  Hugo caches processed images in resources/_gen: the first build starts
without that folder, the incremental one keeps it (as the vault keeps what it rendered before).

Hugo 0.111 (Debian 12) has no auto-orientation filter; the generated photos carry no EXIF
orientation, so there is nothing to rotate.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterable

QUALITY = 85
FILTER = "CatmullRom"
MAX_WIDTH = 2048
WIDTHS = (320, 640, 1280)

BASEOF = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ if not .IsHome }}{{ .Title }} - {{ end }}{{ .Site.Title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><header><a href="{{ "" | relURL }}">{{ .Site.Title }}</a></header>
<main>{{ block "main" . }}{{ end }}</main></body></html>
"""

# The home page, paginated like the vault's index.  The pager takes .Site.RegularPages as it is:
# wrapping it in `where` makes Hugo re-filter all pages for each pager page (measured: 14 s of a
# 25 s build).  The photos page has `_build.list: never`, so it is not among them.
LIST = """\
{{ define "main" }}
{{ $pager := .Paginate .Site.RegularPages }}
{{ range $pager.Pages }}
<article><h2><a href="{{ .RelPermalink }}">{{ .Title }}</a></h2><time>{{ .Date.Format "2006-01-02" }}</time>
<p>{{ .Summary }}</p></article>
{{ end }}
<nav>{{ if $pager.HasPrev }}<a href="{{ $pager.Prev.URL }}">newer</a>{{ end }}
{{ if $pager.HasNext }}<a href="{{ $pager.Next.URL }}">older</a>{{ end }}</nav>
{{ end }}
"""

SINGLE = """\
{{ define "main" }}
<article><h1>{{ .Title }}</h1><time>{{ .Date.Format "2006-01-02" }}</time>{{ .Content }}
{{ with .Params.photo }}{{ partial "photo.html" . }}{{ end }}</article>
{{ end }}
"""

PHOTOS = """\
{{ define "main" }}
{{ range resources.Match "media/*" }}{{ partial "photo.html" (path.Base .Name) }}{{ end }}
{{ end }}
"""

# The vault's sizes: the full size no wider than MAX_WIDTH, and each thumbnail width below it.
# With `site.Params.images` false (the "no images" build) photos are linked as they are.
PHOTO = """\
{{ $img := resources.Get (printf "media/%s" .) }}
{{ if site.Params.images }}
{{ $w := $img.Width }}{{ if gt $w __MAX__ }}{{ $w = __MAX__ }}{{ end }}
{{ $full := $img.Resize (printf "%dx q__Q__ __FILTER__" $w) }}
<img src="{{ $full.RelPermalink }}" width="{{ $full.Width }}" height="{{ $full.Height }}" alt=""
 srcset="{{ range slice __WIDTHS__ }}{{ if lt . $w }}{{ ($img.Resize (printf "%dx q__Q__ __FILTER__" .)).RelPermalink }} {{ . }}w, {{ end }}{{ end }}{{ $full.RelPermalink }} {{ $w }}w">
{{ else }}<img src="{{ $img.RelPermalink }}" alt="">{{ end }}
"""


def version() -> tuple[str, tuple[int, ...]]:
    text = subprocess.run(["hugo", "version"], capture_output=True, text=True, timeout=30).stdout.strip()
    m = re.search(r"v(\d+)\.(\d+)\.(\d+)", text)
    return text, tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


def post_file(source_id: str, created_at, text: str, photo: str | None) -> tuple[str, str]:
    """(file name, content) of a post with the same text (and photo) as the vault's."""
    title = text.split(".", 1)[0][:80]
    front = [f"title: {json.dumps(title)}", f"date: {created_at.strftime('%Y-%m-%dT%H:%M:%SZ')}"]
    if photo:
        front.append(f"photo: {json.dumps(photo)}")
    return f"{source_id}.md", "---\n" + "\n".join(front) + f"\n---\n\n{text}\n"


def make_site(site: Path, posts: Iterable[tuple[str, str]], photos: list[Path], version: tuple[int, ...],
              per_page: int) -> None:
    """Write the site: config (plus ``noimages.toml``, an overlay that turns image processing
    off), layouts, one markdown file per post, the photos hard-linked into assets/media."""
    layouts = site / "layouts" / "_default"
    layouts.mkdir(parents=True)
    (site / "layouts" / "partials").mkdir()
    # Config keys that moved between Hugo versions; Debian's hugo is older than both moves, so
    # write whichever the installed one reads.  Top-level keys first: TOML tables come last.
    top = ['baseURL = "https://bench.example.org/"', 'title = "Bench archive"', "enableRobotsTXT = true",
           # Taxonomy and section list pages off: the vault makes neither, and the section list
           # would paginate all posts a second time.  The home page is the one paginated index.
           'disableKinds = ["taxonomy", "term", "section"]']
    tables = ["[params]", "  images = true", "[imaging]", f"  quality = {QUALITY}", f'  resampleFilter = "{FILTER}"']
    if version >= (0, 128, 0):   # pagination: `paginate` until 0.128, then `[pagination] pagerSize`
        tables += ["[pagination]", f"  pagerSize = {per_page}"]
    else:
        top.append(f"paginate = {per_page}")
    if version >= (0, 114, 0):   # the vault's feeds hold the newest 50: `rssLimit` until 0.114
        tables += ["[services.rss]", "  limit = 50"]
    else:
        top.append("rssLimit = 50")
    (site / "config.toml").write_text("\n".join(top + tables) + "\n")
    (site / "noimages.toml").write_text("[params]\n  images = false\n")
    (layouts / "baseof.html").write_text(BASEOF)
    (layouts / "list.html").write_text(LIST)
    (layouts / "single.html").write_text(SINGLE)
    (layouts / "photos.html").write_text(PHOTOS)
    widths = " ".join(str(w) for w in WIDTHS)
    (site / "layouts" / "partials" / "photo.html").write_text(
        PHOTO.replace("__MAX__", str(MAX_WIDTH)).replace("__Q__", str(QUALITY)).replace("__FILTER__", FILTER)
        .replace("__WIDTHS__", widths))
    content = site / "content" / "posts"
    content.mkdir(parents=True)
    for name, text in posts:
        (content / name).write_text(text)
    (site / "content" / "photos.md").write_text('---\ntitle: "Photos"\nlayout: photos\n_build:\n  list: never\n---\n')
    assets = site / "assets" / "media"
    assets.mkdir(parents=True)
    for src in photos:
        # Hard links: the same bytes without a second copy on disk.
        try:
            os.link(src, assets / src.name)
        except OSError:
            shutil.copyfile(src, assets / src.name)


def add_post(site: Path, name: str, text: str) -> None:
    (site / "content" / "posts" / name).write_text(text)


def clean(site: Path) -> None:
    """Forget an earlier build: its output and Hugo's cache of processed images."""
    shutil.rmtree(site / "public", ignore_errors=True)
    shutil.rmtree(site / "resources", ignore_errors=True)


def command(images: bool = True) -> list[str]:
    cmd = [shutil.which("hugo") or "hugo", "--quiet"]
    return cmd if images else cmd + ["--config", "config.toml,noimages.toml"]
