#!/usr/bin/env python3
"""Benchmark: `vault publish --out DIR` of a large vault, full and incremental, next to Hugo.

This is a measurement, not a test: it prints figures and exits 0 whatever they are.  It exits 1
only when a subprocess it drives fails, because then there is nothing meaningful to report.

What it does, in one temp dir:
  1. creates a vault with the CLI, then injects N posts and M photos in-process through the real
     import pipeline (`run_items` with a stand-in importer) -- far faster than a real export;
  2. writes vault.yaml (publish settings) and runs `vault mark --all --public`;
  3. times `vault --json publish --out DIR`: the first build, a rebuild with nothing changed, and
     a rebuild after adding ONE post (files written/removed come from the command's JSON);
  4. when `hugo` is on PATH, builds a minimal Hugo site (bench/hugo_site.py) with the same texts
     and the same photos resized to the same sizes at the same quality, and times `hugo --quiet`:
     without image processing, first build with it, then after adding the same one post.

See bench/README.md for how to run it and what it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import time
from pathlib import Path

# The RSS-measuring child runner, the environment clean-up and the progress log are the camera
# roll benchmark's; sharing them keeps every benchmark measuring the same way.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import hugo_site  # noqa: E402
from import_files import MB, clean_env, in_workdir, log, new_vault, run_child, vault_cmd  # noqa: E402
from publish_corpus import NEW_POST_AT, PER_PAGE, PHOTO_SIZE, PostSpec, inject, make_photos, make_posts, make_text  # noqa: E402

# --- running things ---------------------------------------------------------------------------


def tree_stats(root: Path) -> dict:
    files = html = size = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            files += 1
            html += name.endswith(".html")
            size += os.path.getsize(os.path.join(dirpath, name))
    return {"files": files, "html": html, "bytes": size}


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """rel path -> (inode, mtime_ns, size).  The bundle writer replaces a file it rewrites
    (write to a temp name, then rename), so a rewritten file shows a new inode even if its
    mtime granularity were coarse."""
    snap = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            st = os.stat(full)
            snap[os.path.relpath(full, root)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return snap


def file_kind(rel: str) -> str:
    if rel == "index.html" or rel.startswith("page/"):
        return "index pages"
    if rel.startswith("posts/"):
        return "post pages"
    if rel.startswith("media/"):
        return "media files"
    return "other"


def changed_by_kind(before: dict, after: dict) -> dict:
    """Which kinds of bundle files a rebuild touched, to show what the `written` count is made
    of (the CLI reports only the count)."""
    touched = sorted(rel for rel, sig in after.items() if before.get(rel) != sig)
    gone = sorted(set(before) - set(after))
    kinds: dict[str, int] = {}
    for rel in touched:
        kinds[file_kind(rel)] = kinds.get(file_kind(rel), 0) + 1
    return {"touched": kinds, "other_touched": [r for r in touched if file_kind(r) == "other"], "gone": gone}


def kib_to_mb(kib: int) -> float:
    return kib * 1024 / MB   # ru_maxrss is KiB on Linux


# --- vault ------------------------------------------------------------------------------------


SETTINGS = """\
publish:
  title: Bench archive
  author: Bench Author
  base_url: https://bench.example.org/
  per_page: {per_page}
"""


def publish_run(out: Path, env: dict[str, str], logs: Path, what: str) -> dict:
    # Global --json before the command, as a script would call it; the bundle goes to --out.
    run = run_child(vault_cmd("--json", "publish", "--out", out), env, logs, what)
    build = json.loads(run.stdout)["build"]
    stats = tree_stats(out)
    return {"wall_s": run.wall, "cpu_s": run.cpu, "peak_rss_mb": kib_to_mb(run.maxrss_kib), "files": build["files"],
            "written": build["written"], "removed": build["removed"], "published": build["published"],
            "html_pages": stats["html"], "bundle_mb": stats["bytes"] / MB,
            "pages_per_s": stats["html"] / run.wall, "warnings": len(json.loads(run.stdout).get("warnings") or [])}


# --- hugo -------------------------------------------------------------------------------------


def hugo_post(p: PostSpec) -> tuple[str, str]:
    return hugo_site.post_file(p.source_id, p.created_at, p.text, f"photo-{p.photo:05d}.jpg" if p.photo is not None else None)


def hugo_run(site: Path, env: dict[str, str], logs: Path, what: str, images: bool = True) -> dict:
    run = run_child(hugo_site.command(images), env, logs, what, cwd=site)
    stats = tree_stats(site / "public")
    return {"wall_s": run.wall, "cpu_s": run.cpu, "peak_rss_mb": kib_to_mb(run.maxrss_kib), "files": stats["files"],
            "html_pages": stats["html"], "public_mb": stats["bytes"] / MB, "pages_per_s": stats["html"] / run.wall}


# --- report -----------------------------------------------------------------------------------


def fmt_report(r: dict) -> str:
    v = r["vault"]
    lines = [
        f"corpus: {r['posts']} posts ({r['posts_with_photo']} with a photo), {r['photos']} photos "
        f"{r['photo_size'][0]}x{r['photo_size'][1]} ({r['photos_mb']:.1f} MB), per_page {PER_PAGE}",
        f"setup: photos {r['setup']['photos_s']:.1f} s, inject {r['setup']['inject_s']:.1f} s, "
        f"mark --all --public {r['setup']['mark_s']:.1f} s",
        "",
        "vault publish --out DIR",
    ]
    for key, label in (("first", "first build"), ("nochange", "no-change rebuild"), ("incremental", "+1 post rebuild")):
        b = v[key]
        lines.append(f"  {label:<18} {b['wall_s']:8.2f} s (cpu {b['cpu_s']:7.2f} s)  {b['pages_per_s']:7.1f} pages/s  "
                     f"peak RSS {b['peak_rss_mb']:6.1f} MB  written {b['written']:>6}  removed {b['removed']:>3}  "
                     f"bundle {b['files']} files ({b['html_pages']} HTML, {b['bundle_mb']:.1f} MB)")
    runs = v["nochange"].get("cpu_s_runs") or []
    if len(runs) > 1:
        lines.append(f"  (no-change rebuild: the least CPU of {len(runs)} runs: {', '.join(f'{c:.2f}' for c in runs)} s)")
    f = v["first"]
    lines.append(f"  published: {f['published']}   (startup floor `vault key show`: {r['startup_s']:.2f} s, "
                 f"{r['startup_peak_rss_mb']:.1f} MB; RSS floor {r['rss_floor_mb']:.1f} MB)")
    inc = v["incremental"]
    lines.append(f"  +1 post: {inc['written']} files written, {inc['removed']} removed, {inc['wall_s']:.2f} s "
                 f"({inc['wall_s'] / f['wall_s']:.1%} of the first build)")
    ch = inc["changes"]
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(ch["touched"].items()))
    lines.append(f"    files replaced on disk: {kinds or 'none'}; other = {', '.join(ch['other_touched']) or '-'}"
                 + (f"; gone: {len(ch['gone'])}" if ch["gone"] else ""))
    # Archive pages are numbered from the oldest post and link only to older pages: a new post
    # changes the home page and the newest archive page, and the one before it when it opens a page.
    entries = inc["published"]["post"]          # post pages, photo pages included
    n_pages = -(-entries // PER_PAGE)           # ceiling division
    lines.append(f"    ({entries} entries at {PER_PAGE} per page make {n_pages} archive pages, numbered from the oldest "
                 "post: a new post changes the home page and the newest archive page, and the one before "
                 "when it opens a new page)")
    lines.append("")
    ratio = inc["wall_s"] / f["wall_s"]
    lines.append(f"  incremental / full build: {ratio:.1%} of the wall time, {inc['cpu_s'] / f['cpu_s']:.1%} of the CPU time "
                 f"(goal < 10%: {'met' if ratio < 0.10 else 'NOT met'})")
    lines.append("")
    h = r["hugo"]
    if h is None:
        lines.append("hugo skipped (--no-hugo)" if r.get("hugo_skipped") else "hugo not installed")
    else:
        lines.append(f"hugo --quiet   ({h['version']})")
        for key, label in (("noimages", "no image work"), ("first", "first build"), ("incremental", "+1 post rebuild")):
            b = h[key]
            lines.append(f"  {label:<18} {b['wall_s']:8.2f} s (cpu {b['cpu_s']:7.2f} s)  {b['pages_per_s']:7.1f} pages/s  "
                         f"peak RSS {b['peak_rss_mb']:6.1f} MB  public/ {b['files']} files "
                         f"({b['html_pages']} HTML, {b['public_mb']:.1f} MB)")
        hf = h["first"]
        lines.append(f"  (first build: photos resized to the vault's sizes, quality {hugo_site.QUALITY}, {hugo_site.FILTER}; "
                     "no image work: the same site with the photos linked as they are)")
        lines.append(f"  hugo incremental / full build: {h['incremental']['wall_s'] / hf['wall_s']:.1%}")
        lines.append("")
        wall, cpu = f["wall_s"] / hf["wall_s"], f["cpu_s"] / hf["cpu_s"]
        lines.append(f"vault first build / hugo first build: {wall:.2f} x the wall time, {cpu:.2f} x the CPU time "
                     f"(goal <= 3 x: {'met' if wall <= 3 else 'NOT met'}); peak RSS {f['peak_rss_mb']:.0f} MB vs {hf['peak_rss_mb']:.0f} MB")
        lines.append("  (both re-encode every photo at the same sizes; the vault also strips metadata, applies EXIF "
                     "orientation, gives each photo its own page, writes three feeds and signs a hash manifest)")
    lines.append("")
    e = r["env"]
    load = lambda t: "/".join(f"{x:.2f}" for x in t)
    lines.append(f"({e['python']}, {e['cpus']} CPUs, load average {load(e['loadavg_before'])} before the builds, "
                 f"{load(e['loadavg_after'])} after; workdir {r['workdir']})")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT") from None
    if not (64 <= w <= 12000 and 64 <= h <= 12000):
        raise argparse.ArgumentTypeError("each side must be 64-12000 px")
    return w, h


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=2000, help="number of public posts (default 2000; the issue's full size is 10000)")
    ap.add_argument("--photos", type=int, default=400, help="number of photos (default 400; the issue's full size is 2000)")
    ap.add_argument("--photo-size", type=_size, default=PHOTO_SIZE, metavar="WxH",
                    help=f"size of the generated photos (default {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}; e.g. 4032x3024 for phone photos)")
    ap.add_argument("--seed", type=int, default=1, help="random seed for texts and photos (default 1)")
    ap.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir (default: system temp)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (vault, bundle, Hugo site, logs)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--rebuilds", type=int, default=1, metavar="N",
                    help="run the no-change rebuild N times and report the run with the least CPU time (default 1)")
    ap.add_argument("--no-hugo", action="store_true", help="skip the Hugo comparison even when hugo is installed")
    args = ap.parse_args(argv)
    if args.posts < 1 or args.photos < 0 or args.rebuilds < 1:
        ap.error("--posts and --rebuilds must be at least 1, --photos at least 0")

    return in_workdir("vault-bench-publish-", args, _run)


def _run(args: argparse.Namespace, work: Path) -> int:
    logs, vdir, out = work / "logs", work / "vault", work / "site"
    logs.mkdir()
    # HOME and XDG dirs inside the workdir: the vault must not read or write the user's config,
    # neither in the children nor in this process (which injects through the library).
    home = work / "home"
    home.mkdir()
    base_env = {"HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share"),
                "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache")}
    for k in [k for k in os.environ if k.startswith("VAULT_")]:
        del os.environ[k]
    os.environ.update(clean_env(base_env))
    rng = random.Random(args.seed)
    log(f"workdir {work}")

    ident = work / "identity.txt"
    new_vault(vdir, ident, base_env, logs)
    env = clean_env(dict(base_env, VAULT_DIR=str(vdir), VAULT_IDENTITY_FILE=str(ident)))

    t = time.perf_counter()
    photos_dir = work / "photos"
    photos_bytes = make_photos(photos_dir, args.photos, rng, args.photo_size)
    photos_s = time.perf_counter() - t
    log(f"{args.photos} photos, {photos_bytes / MB:.1f} MB in {photos_s:.1f} s")
    posts = make_posts(args.posts, args.photos, rng)
    t = time.perf_counter()
    rep = inject(vdir, ident, photos_dir, args.photos, posts, label="bench corpus")
    inject_s = time.perf_counter() - t
    log(f"injected {rep['added']} in {inject_s:.1f} s")

    (vdir / "vault.yaml").write_text(SETTINGS.format(per_page=PER_PAGE))
    mark = run_child(vault_cmd("mark", "--all", "--public"), env, logs, "mark-all")
    log(f"mark --all --public: {mark.wall:.1f} s")

    # For scale: a process that starts Python and opens the vault but does no work, and what the
    # RSS helper alone leaves in a child's ru_maxrss.
    shown = run_child(vault_cmd("--json", "key", "show"), env, logs, "key-show")
    floor = run_child([shutil.which("true") or "/bin/true"], env, logs, "rss-floor")

    # Other work on the machine inflates wall times; the load average and each child's CPU time
    # are printed so that a reader can tell a slow build from a busy machine.
    load_before = os.getloadavg()
    log("vault publish (first build) ...")
    first = publish_run(out, env, logs, "publish-first")
    log(f"  {first['wall_s']:.2f} s, {first['files']} files")
    # The no-change rebuild is short, so other work on the machine weighs on it most: it can be
    # run several times, and the figures are those of the run that took the least CPU time.
    rebuilds = []
    for i in range(args.rebuilds):
        log("vault publish (nothing changed) ...")
        before = snapshot(out)
        run = publish_run(out, env, logs, f"publish-nochange-{i + 1}")
        run["changes"] = changed_by_kind(before, snapshot(out))
        log(f"  {run['wall_s']:.2f} s (cpu {run['cpu_s']:.2f} s), written {run['written']}")
        rebuilds.append(run)
    nochange = dict(min(rebuilds, key=lambda b: b["cpu_s"]), cpu_s_runs=[b["cpu_s"] for b in rebuilds])

    # ONE new post, newest of all (the usual case: you post today), made public the way a user
    # would: it is the only record on or after NEW_POST_AT's day.
    new_post = PostSpec("bench-new", NEW_POST_AT, make_text(rng), None)
    inject(vdir, ident, photos_dir, 0, [new_post], label="bench new post")
    run_child(vault_cmd("mark", "--kind", "post", "--since", NEW_POST_AT.strftime("%Y-%m-%d"), "--public"),
              env, logs, "mark-new")
    log("vault publish (+1 post) ...")
    before = snapshot(out)
    incremental = publish_run(out, env, logs, "publish-incremental")
    incremental["changes"] = changed_by_kind(before, snapshot(out))
    log(f"  {incremental['wall_s']:.2f} s, written {incremental['written']}, removed {incremental['removed']}")

    hugo = None
    if args.no_hugo:
        log("hugo skipped (--no-hugo)")
    elif shutil.which("hugo") is None:
        log("hugo not installed")
    else:
        version_text, version = hugo_site.version()
        site = work / "hugo"
        hugo_site.make_site(site, (hugo_post(p) for p in posts), sorted(photos_dir.iterdir()), version, PER_PAGE)
        # The same site with photos linked as they are: what Hugo costs without image work.
        log("hugo --quiet, no image processing ...")
        h_plain = hugo_run(site, env, logs, "hugo-noimages", images=False)
        log(f"  {h_plain['wall_s']:.2f} s")
        hugo_site.clean(site)
        log("hugo --quiet (first build, every photo resized) ...")
        h_first = hugo_run(site, env, logs, "hugo-first")
        log(f"  {h_first['wall_s']:.2f} s")
        hugo_site.add_post(site, *hugo_post(new_post))
        log("hugo --quiet (+1 post) ...")
        h_inc = hugo_run(site, env, logs, "hugo-incremental")
        log(f"  {h_inc['wall_s']:.2f} s")
        hugo = {"version": version_text, "noimages": h_plain, "first": h_first, "incremental": h_inc}
    load_after = os.getloadavg()

    r = {
        "posts": args.posts, "photos": args.photos, "photos_mb": photos_bytes / MB, "photo_size": list(args.photo_size),
        "posts_with_photo": sum(1 for p in posts if p.photo is not None),
        "setup": {"photos_s": photos_s, "inject_s": inject_s, "mark_s": mark.wall, "injected": rep["added"]},
        "vault": {"first": first, "nochange": nochange, "incremental": incremental},
        "startup_s": shown.wall, "startup_peak_rss_mb": kib_to_mb(shown.maxrss_kib),
        "rss_floor_mb": kib_to_mb(floor.maxrss_kib),
        "hugo": hugo, "hugo_skipped": args.no_hugo,
        "env": {"python": f"Python {platform.python_version()}", "cpus": os.cpu_count(), "platform": platform.platform(),
                "loadavg_before": load_before, "loadavg_after": load_after},
        "workdir": str(work),
    }
    if args.json:
        print(json.dumps(r, sort_keys=True))
    else:
        print(fmt_report(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
