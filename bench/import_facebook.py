#!/usr/bin/env python3
"""Benchmark: `vault import` of a large synthetic Facebook export, then the same import again.

This is a measurement, not a test: it prints figures and the project's goals next to them, and
exits 0 whatever the figures are.  It exits 1 only when a subprocess it drives fails, because then
there is nothing meaningful to report.

See bench/README.md for how to run it and what it prints.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
from pathlib import Path

# The vault creation, the RSS-measuring child runner and the environment clean-up are the camera
# roll benchmark's; sharing them keeps both benchmarks measuring the same way.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_files as common  # noqa: E402
from facebook_export import POSTS_PER_FILE, make_export, make_newer  # noqa: E402  (the export this benchmark imports)

GOAL_REIMPORT_RATIO = common.GOAL_REIMPORT_RATIO   # re-import wall time <= 0.1 x first import
GOAL_PEAK_RSS_MB = common.GOAL_PEAK_RSS_MB         # the camera roll's memory bound, applied here too
GOAL_OVER_AGE = 4.0                                # import wall time <= 4 x `age -r` on the same zips
MB = common.MB


# --- running things ---------------------------------------------------------------------------


def run_vault(argv: list[str], env: dict[str, str], logdir: Path, what: str,
              ok: tuple[int, ...] = (0,)) -> common.ChildRun:
    """common.run_child, also accepting the exit codes in ``ok``: `vault import` exits 3 when it
    skipped items, and the figures (with the skipped count beside them) are still worth printing."""
    out_path, err_path, res_path = (logdir / f"{what}.{x}" for x in ("out", "err", "rusage"))
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", common.RSS_HELPER, str(res_path), *argv],
                              env=env, cwd=logdir, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    if proc.returncode not in ok:
        raise common.SubprocessFailed(what, proc.returncode, err_path.read_text(errors="replace"))
    wall, cpu, maxrss = res_path.read_text().split()
    return common.ChildRun(float(wall), float(cpu), int(maxrss), out_path.read_text(errors="replace"))


def object_files(objects: Path) -> set[str]:
    """Relative paths of every file in the vault's objects folder (one file per stored object)."""
    found = set()
    for folder, _, names in os.walk(objects):
        for name in names:
            found.add(os.path.relpath(os.path.join(folder, name), objects))
    return found


# --- report -----------------------------------------------------------------------------------


def _ref(r: dict, name: str) -> str:
    if r.get(f"{name}_s") is None:
        return f"{name} not installed"
    return f"{r[name + '_s']:.2f} s  cpu {r[name + '_cpu_s']:.2f} s  peak RSS {r[name + '_peak_rss_mb']:.1f} MB"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} x"


def run_references(zips: list[Path], recipient: str, work: Path, logs: Path) -> dict:
    """The same bytes through the stock tools: `age -r R -o OUT ZIP` for each zip (one after the
    other, times added up, RSS the larger), and one `restic backup ZIP...` into a new local
    repository (its `init` untimed; the repository is left for the temp dir's removal).  A tool
    that is not installed gives no figure."""
    out: dict = {}
    kib = 1024 / MB
    age = shutil.which("age")
    if age:
        walls, cpus, rss = 0.0, 0.0, 0
        for i, z in enumerate(zips):
            common.settle()
            run = common.run_child([age, "-r", recipient, "-o", str(work / f"ref-{i}.age"), str(z)], {}, logs, f"age-{i}")
            walls += run.wall
            cpus += run.cpu
            rss = max(rss, run.maxrss_kib)
            (work / f"ref-{i}.age").unlink()
        out.update(age_s=walls, age_cpu_s=cpus, age_peak_rss_mb=rss * kib)
        common.log(f"age -r: {walls:.2f} s")
    restic = shutil.which("restic")
    if restic:
        repo = work / "restic-repo"
        renv = {"RESTIC_PASSWORD": "benchmark, not a secret", "RESTIC_REPOSITORY": str(repo),
                "RESTIC_CACHE_DIR": str(work / "restic-cache"), "HOME": str(work)}
        common.run_child([restic, "init", "--quiet"], renv, logs, "restic-init")
        common.settle()
        run = common.run_child([restic, "backup", "--quiet", *map(str, zips)], renv, logs, "restic-backup")
        out.update(restic_s=run.wall, restic_cpu_s=run.cpu, restic_peak_rss_mb=run.maxrss_kib * kib)
        common.log(f"restic backup: {run.wall:.2f} s")
        # The repository stays until the temp dir goes: deleting its files now would slow the
        # vault's file creation that follows (ext4 without a journal skips recently freed inodes).
    return out


def fmt_table(r: dict) -> str:
    g = r["goals"]
    met = lambda ok: "MET" if ok else "NOT MET"
    counts = lambda d: ", ".join(f"{n} {k}" for k, n in d.items() if n) or "nothing"
    rows = [
        ("export", f"{r['posts']:,} posts in {r['posts_files']} posts file{'s' if r['posts_files'] > 1 else ''}; {r['json_files']} JSON files "
                   f"({r['json_bytes'] / MB:,.1f} MB), "
                   f"{r['photos']:,} photos ({r['photo_bytes'] / MB:,.1f} MB)", "", ""),
        ("", f"{r['photo_posts']:,} photo posts, {r['photo_refs']:,} photo references, "
             f"{r['unposted_photos']:,} photos in no post", "", ""),
        ("", f"{r['parts']} zip{'s' if r['parts'] > 1 else ''}, {r['zip_bytes'] / MB:,.1f} MB, "
             f"generated in {r['gen_s']:.1f} s", "", ""),
        ("first import", f"{r['import_s']:.2f} s  {r['import_posts_s']:,.0f} posts/s  "
                         f"{r['import_mb_s']:.1f} MB/s  cpu {r['import_cpu_s']:.2f} s", "", ""),
        ("  age -r (same zips)", _ref(r, "age"), "", ""),
        ("  / age -r", _ratio(r["import_over_age"]), f"<= {GOAL_OVER_AGE:.0f} x",
         met(g["within_4x_age"]) if "within_4x_age" in g else "age not installed"),
        ("  restic backup (same zips)", _ref(r, "restic"), "", ""),
        ("  / restic backup", _ratio(r["import_over_restic"]), "< 1 x",
         met(g["faster_than_restic"]) if "faster_than_restic" in g else "restic not installed"),
        ("  report", f"added {counts(r['import_added'])}; skipped {r['import_skipped']}, "
                     f"warnings {r['import_warnings']}", "", ""),
        ("  objects written", f"{r['import_objects_written']:,}", "", ""),
        ("  peak RSS", f"{r['import_peak_rss_mb']:.1f} MB  (zip {r['zip_bytes'] / MB:,.0f} MB; "
                       f"measurement floor {r['rss_floor_mb']:.1f} MB)",
         f"< {GOAL_PEAK_RSS_MB:.0f} MB", met(g["peak_rss"])),
        ("re-import", f"{r['reimport_s']:.2f} s  cpu {r['reimport_cpu_s']:.2f} s  "
                      f"peak RSS {r['reimport_peak_rss_mb']:.1f} MB", "", ""),
        ("  / first import", f"{r['reimport_ratio']:.3f} x", f"<= {GOAL_REIMPORT_RATIO} x", met(g["reimport"])),
        ("  report", f"added {counts(r['reimport_added'])}, updated {counts(r['reimport_updated'])}; "
                     f"unchanged {counts(r['reimport_unchanged'])}", "adds nothing", met(g["reimport_adds_nothing"])),
        ("newer export (+1 photo)", f"{r['newer_s']:.2f} s  cpu {r['newer_cpu_s']:.2f} s  "
                                    f"peak RSS {r['newer_peak_rss_mb']:.1f} MB", "", ""),
        ("  / first import", f"{r['newer_ratio']:.3f} x", f"<= {GOAL_REIMPORT_RATIO} x", met(g["newer_reimport"])),
        ("  report", f"added {counts(r['newer_added'])}, updated {counts(r['newer_updated'])}; "
                     f"{r['newer_unchanged_files']} files not read", "adds 1 media", met(g["newer_adds_the_photo"])),
        ("  (startup floor)", f"{r['startup_s']:.2f} s  {r['startup_peak_rss_mb']:.1f} MB  "
                              "(`vault key show`, for scale)", "", ""),
    ]
    head = ("figure", "value", "goal", "met?")
    w = [max(len(row[i]) for row in [head, *rows]) for i in range(4)]
    line = lambda cells: "  ".join(c.ljust(w[i]) for i, c in enumerate(cells)).rstrip()
    out = [line(head), line(tuple("-" * x for x in w))] + [line(row) for row in rows]
    e = r["env"]
    out.append(f"objects written on re-import: {r['reimport_objects_written']}   "
               f"(goal 0: {met(g['reimport_no_objects'])})")
    out.append(f"goals met: {sum(g.values())}/{len(g)}   ({e['python']}, {e['cpus']} CPUs, "
               f"load {e['loadavg_before']:.2f} -> {e['loadavg_after']:.2f}, workdir {r['workdir']})")
    added = r["import_added"]
    if added.get("post") != r["posts"] or added.get("media") != r["photos"] or r["import_skipped"]:
        out.append(f"note: the first import added {added.get('post')} posts and {added.get('media')} media "
                   f"(skipped {r['import_skipped']}) of {r['posts']} posts and {r['photos']} photos: figures are suspect")
    if e.get("fs_caution"):
        out.append(f"caution: {e['fs_caution']}")
    return "\n".join(out)


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=10000, help="number of posts (default 10000)")
    ap.add_argument("--photos", type=int, default=3000, help="number of distinct photos (default 3000)")
    ap.add_argument("--photo-kb", type=int, default=330, help="mean photo size, kB (default 330; sizes vary +-30%%)")
    ap.add_argument("--parts", type=int, choices=(1, 2), default=1,
                    help="zips the export is split over (default 1; 2 = JSON and half the photos, then the rest)")
    ap.add_argument("--seed", type=int, default=1, help="random seed for the export (default 1)")
    ap.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir (default: system temp)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (export, vault, logs)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args(argv)
    if args.posts < 1 or args.photos < 0 or args.photo_kb < 1:
        ap.error("need --posts >= 1, --photos >= 0 and --photo-kb >= 1")

    return common.in_workdir("vault-bench-fb-", args, _run)


def _run(args: argparse.Namespace, work: Path) -> int:
    export_dir, vdir, logs = work / "export", work / "vault", work / "logs"
    export_dir.mkdir()
    logs.mkdir()
    # HOME and XDG dirs inside the workdir: the vault must not read or write the user's config.
    home = work / "home"
    home.mkdir()
    base_env = {"HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share"),
                "XDG_CONFIG_HOME": str(home / ".config")}

    common.log(f"workdir {work}")
    load_before = os.getloadavg()[0]
    ex = make_export(export_dir, args.posts, args.photos, args.photo_kb, args.parts, random.Random(args.seed))
    common.log(f"export: {len(ex.zips)} zip(s), {ex.zip_bytes / MB:,.1f} MB in {ex.gen_s:.1f} s")

    ident = work / "identity.txt"
    common.new_vault(vdir, ident, base_env, logs)
    env = common.clean_env(dict(base_env, VAULT_IDENTITY_FILE=str(ident)))
    shown = common.run_child(common.vault_cmd("--vault", vdir, "--json", "key", "show"), env, logs, "key-show")
    floor = common.run_child([shutil.which("true") or "/bin/true"], env, logs, "rss-floor")
    recipient = json.loads(shown.stdout)["recipients"][0]
    refs = run_references(ex.zips, recipient, work, logs)

    # Both runs read the zips warm from the page cache (just written); the sync keeps the first
    # run from paying for the export's write-back and the second for the first's objects.
    import_argv = common.vault_cmd("--vault", vdir, "--quiet", "--json", "import", *ex.zips)
    objects_before = object_files(vdir / "objects")
    common.settle()
    common.log("vault import (first) ...")
    first = run_vault(import_argv, env, logs, "import1", ok=(0, 3))
    common.log(f"  {first.wall:.2f} s")
    objects_first = object_files(vdir / "objects")
    common.settle()
    common.log("vault import (the same export again) ...")
    again = run_vault(import_argv, env, logs, "import2", ok=(0, 3))
    common.log(f"  {again.wall:.2f} s")
    objects_again = object_files(vdir / "objects")
    newer = make_newer(ex.zips, work / "newer", args.photos, args.photo_kb, random.Random(args.seed + 1))
    common.settle()
    common.log("vault import (a newer export: the same and one new photo) ...")
    third = run_vault(common.vault_cmd("--vault", vdir, "--quiet", "--json", "import", *newer), env, logs, "import3", ok=(0, 3))
    common.log(f"  {third.wall:.2f} s")

    # The reports say what was done: a "fast" import that skipped half the export, or a
    # re-import that quietly added records, would be misleading, so the counts go into the output.
    rep1, rep2, rep3 = json.loads(first.stdout), json.loads(again.stdout), json.loads(third.stdout)
    kib_to_mb = 1024 / MB
    r: dict = {
        "posts": args.posts, "photos": args.photos, "photo_kb": args.photo_kb, "parts": args.parts,
        "seed": args.seed,
        "zip_bytes": ex.zip_bytes, "photo_bytes": ex.photo_bytes, "json_files": ex.json_files,
        "posts_files": math.ceil(args.posts / POSTS_PER_FILE),
        "json_bytes": ex.json_bytes, "photo_posts": ex.photo_posts, "photo_refs": ex.photo_refs,
        "unposted_photos": ex.unposted, "gen_s": ex.gen_s,
        "import_s": first.wall, "import_posts_s": args.posts / first.wall,
        "import_mb_s": ex.zip_bytes / MB / first.wall, "import_cpu_s": first.cpu,
        "import_peak_rss_mb": first.maxrss_kib * kib_to_mb,
        "import_added": rep1.get("added", {}), "import_updated": rep1.get("updated", {}),
        "import_skipped": len(rep1.get("skipped", [])), "import_warnings": len(rep1.get("warnings", [])),
        "import_objects_written": len(objects_first - objects_before),
        "reimport_s": again.wall, "reimport_cpu_s": again.cpu, "reimport_ratio": again.wall / first.wall,
        "reimport_peak_rss_mb": again.maxrss_kib * kib_to_mb,
        "reimport_added": rep2.get("added", {}), "reimport_updated": rep2.get("updated", {}),
        "reimport_unchanged": rep2.get("unchanged", {}),
        "reimport_skipped": len(rep2.get("skipped", [])),
        "reimport_objects_written": len(objects_again - objects_first),
        "newer_s": third.wall, "newer_cpu_s": third.cpu, "newer_ratio": third.wall / first.wall,
        "newer_peak_rss_mb": third.maxrss_kib * kib_to_mb,
        "newer_added": rep3.get("added", {}), "newer_updated": rep3.get("updated", {}),
        "newer_unchanged_files": rep3.get("unchanged_files", 0),
        # A process that starts Python and opens the vault but does no work: the part of the
        # re-import time no importer change can remove.
        "startup_s": shown.wall, "startup_peak_rss_mb": shown.maxrss_kib * kib_to_mb,
        "rss_floor_mb": floor.maxrss_kib * kib_to_mb,
        **{f"{tool}_{x}": refs.get(f"{tool}_{x}") for tool in ("age", "restic") for x in ("s", "cpu_s", "peak_rss_mb")},
    }
    r["import_over_age"] = first.wall / r["age_s"] if r["age_s"] else None
    r["import_over_restic"] = first.wall / r["restic_s"] if r["restic_s"] else None
    r["goals"] = {
        "reimport": r["reimport_ratio"] <= GOAL_REIMPORT_RATIO,
        "reimport_adds_nothing": not any(r["reimport_added"].values()) and not any(r["reimport_updated"].values()),
        "reimport_no_objects": r["reimport_objects_written"] == 0,
        "newer_reimport": r["newer_ratio"] <= GOAL_REIMPORT_RATIO,
        "newer_adds_the_photo": r["newer_added"] == {"post": 0, "media": 1, "rating": 0} and not any(r["newer_updated"].values()),
        "peak_rss": r["import_peak_rss_mb"] < GOAL_PEAK_RSS_MB,
    }
    if r["import_over_age"] is not None:
        r["goals"]["within_4x_age"] = r["import_over_age"] <= GOAL_OVER_AGE
    if r["import_over_restic"] is not None:
        r["goals"]["faster_than_restic"] = r["import_over_restic"] < 1.0
    r["goal_values"] = {"reimport_ratio_max": GOAL_REIMPORT_RATIO, "reimport_objects_written": 0,
                        "peak_rss_mb_max": GOAL_PEAK_RSS_MB}
    r["env"] = {"python": f"Python {platform.python_version()}", "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0],
                "fs_caution": common.filesystem.caution(work)}
    r["workdir"] = str(work)

    if args.json:
        print(json.dumps(r, sort_keys=True))
    else:
        print(fmt_table(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
