#!/usr/bin/env python3
"""Benchmark: a vault of 100,000 posts: the import, then `search`, `list --limit 20` and `status`
against a bare interpreter start-up, then `compact` (beside the snapshot's size) and an index
rebuilt from that snapshot, with the peak RSS of each.

A measurement, not a test: it prints figures beside their references and goals and exits 0
whatever they are (1 only when a command it drives fails).  See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_files as common  # noqa: E402

MB = common.MB
GOAL_IMPORT_S = 10.0          # the 100k-post import
GOAL_READ_OVER_START_S = 0.5  # search / list / status: at most this much over bare start-up
GOAL_RSS_MB = 150.0

ACTOR = "https://mastodon.example/users/jana"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
WORDS = """ráno večer Praha Brno léto zima dovolená výlet hory řeka kavárna přátelé rodina pes kočka
zahrada sníh déšť slunce vlak kolo oběd knížka hudba koncert čaj káva dort práce domů včera dneska
krásný příliš žluťoučký kůň Šumava Vltava most hrad les louka houby rybník chata coffee train
mountain river friends garden music book rain snow sunny morning evening a i ale že se na v do""".split()
JAPANESE = ["関数を定義する", "東京の天気", "今日は関数型プログラミング", "猫がかわいい", "新しい関数"]
MARKER = "kvásek"             # in one post of MARKER_EVERY: what `search` looks for
MARKER_EVERY = 1000
NEWER_POSTS = 100             # posts a newer archive adds to the same ones


def make_archive(path: Path, posts: int, rng: random.Random) -> int:
    """A Mastodon 4.2+ archive (zip) with ``posts`` public text statuses; returns its size."""
    items = []
    base = 1_500_000_000
    for i in range(posts):
        words = rng.choices(WORDS, k=rng.randint(6, 30))
        if i % MARKER_EVERY == 7:
            words.insert(rng.randint(0, len(words)), MARKER)
        if i % 50 == 3:
            words.append(rng.choice(JAPANESE))
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + i * 3000))
        sid = f"{ACTOR}/statuses/{110000000000000000 + i}"
        items.append({
            "id": f"{sid}/activity", "type": "Create", "actor": ACTOR, "published": when,
            "to": [PUBLIC], "cc": [f"{ACTOR}/followers"],
            "object": {"id": sid, "type": "Note", "summary": None, "inReplyTo": None, "published": when,
                       "url": f"https://mastodon.example/@jana/{110000000000000000 + i}", "attributedTo": ACTOR,
                       "to": [PUBLIC], "cc": [f"{ACTOR}/followers"], "sensitive": False, "atomUri": sid,
                       "content": "<p>" + " ".join(words) + "</p>", "attachment": [], "tag": []},
        })
    outbox = {"@context": "https://www.w3.org/ns/activitystreams", "id": "outbox.json",
              "type": "OrderedCollection", "totalItems": posts, "orderedItems": items}
    actor = {"@context": "https://www.w3.org/ns/activitystreams", "id": ACTOR, "type": "Person",
             "followers": f"{ACTOR}/followers", "outbox": "outbox.json", "preferredUsername": "jana"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("outbox.json", json.dumps(outbox, ensure_ascii=False))
        z.writestr("actor.json", json.dumps(actor))
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=100_000, help="posts in the archive (default 100000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--import-runs", type=int, default=1, metavar="N",
                    help="import N times, each into a new vault, and keep the fastest (default 1)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args(argv)
    return common.in_workdir("vault-bench-catalog-", args, _run)


def _run(args: argparse.Namespace, work: Path) -> int:
    logs, home = work / "logs", work / "home"
    logs.mkdir()
    home.mkdir()
    base_env = {"HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share"), "XDG_CONFIG_HOME": str(home / ".config")}
    load_before = os.getloadavg()[0]
    archive = work / "archive-mastodon.zip"
    t0 = time.perf_counter()
    size = make_archive(archive, args.posts, random.Random(args.seed))
    common.log(f"archive: {args.posts:,} posts, {size / MB:.1f} MB zip in {time.perf_counter() - t0:.1f} s")

    runs: list[tuple[common.ChildRun, Path, dict[str, str]]] = []
    for n in range(max(1, args.import_runs)):
        # A new vault for every run, each with its own key, used as an identity file (no scrypt).
        vdir = work / (f"vault{n}" if n else "vault")
        ident = work / f"identity{n}.txt"
        common.new_vault(vdir, ident, base_env, logs, str(n))
        env = common.clean_env(dict(base_env, VAULT_IDENTITY_FILE=str(ident)))
        common.settle()
        common.log(f"vault import ({n + 1} of {max(1, args.import_runs)}) ...")
        run = common.run_child(common.vault_cmd("--vault", vdir, "--quiet", "--json", "import", archive), env, logs, f"import{n}")
        common.log(f"  {run.wall:.2f} s, cpu {run.cpu:.2f} s")
        runs.append((run, vdir, env))
    # The fastest run; its vault is the one the read commands use (the others have the same records).
    imp, vdir, env = min(runs, key=lambda r: r[0].wall)
    report = json.loads(imp.stdout)
    v = ("--vault", vdir)

    def best_of(n: int, argv: list, what: str) -> common.ChildRun:
        tries = [common.run_child(argv, env, logs, f"{what}{i}") for i in range(n)]
        return min(tries, key=lambda r: r.wall)

    bare = best_of(3, [sys.executable, "-c", "pass"], "bare")
    # The CLI's own start-up (typer and what it imports), which opens no vault at all.
    cli = best_of(3, common.vault_cmd("version"), "version")
    search = best_of(3, common.vault_cmd(*v, "search", MARKER), "search")
    search_cjk = best_of(3, common.vault_cmd(*v, "search", "関数"), "search-cjk")
    listing = best_of(3, common.vault_cmd(*v, "list", "--limit", "20"), "list")
    status = best_of(3, common.vault_cmd(*v, "--json", "status"), "status")
    newer, newer_report = _newer_import(args, work, v, env, logs)
    # Last, as they change the vault: a compaction into one snapshot, then an index rebuilt from
    # that snapshot alone (index/ deleted, then `status`).
    common.log("vault compact ...")
    compact = common.run_child(common.vault_cmd(*v, "--json", "compact"), env, logs, "compact")
    snapshot_bytes = (vdir / json.loads(compact.stdout)["snapshot"]).stat().st_size
    for f in (vdir / "index").iterdir():
        f.unlink()
    rebuild = common.run_child(common.vault_cmd(*v, "--json", "status"), env, logs, "rebuild")
    kib = 1024 / MB
    r = {
        "posts": args.posts, "zip_bytes": size,
        "import_s": imp.wall, "import_cpu_s": imp.cpu, "import_peak_rss_mb": imp.maxrss_kib * kib,
        "import_runs": [{"s": run.wall, "cpu_s": run.cpu, "peak_rss_mb": run.maxrss_kib * kib} for run, _, _ in runs],
        "import_added": report.get("added", {}),
        "bare_s": bare.wall, "bare_rss_mb": bare.maxrss_kib * kib,
        "cli_s": cli.wall, "cli_rss_mb": cli.maxrss_kib * kib,
        "search_hits": len(search.stdout.splitlines()), "search_cjk_hits": len(search_cjk.stdout.splitlines()),
        "index_bytes": json.loads(status.stdout).get("index_bytes"),
        "compact_s": compact.wall, "compact_cpu_s": compact.cpu, "compact_rss_mb": compact.maxrss_kib * kib, "snapshot_bytes": snapshot_bytes,
        "rebuild_s": rebuild.wall, "rebuild_cpu_s": rebuild.cpu, "rebuild_rss_mb": rebuild.maxrss_kib * kib,
        "newer_s": newer.wall, "newer_cpu_s": newer.cpu, "newer_rss_mb": newer.maxrss_kib * kib,
        "newer_ratio": newer.wall / imp.wall, "newer_added": newer_report.get("added", {}),
        "newer_unchanged": newer_report.get("unchanged", {}),
    }
    for name, run in (("search", search), ("search_cjk", search_cjk), ("list", listing), ("status", status)):
        r[f"{name}_s"] = run.wall
        r[f"{name}_cpu_s"] = run.cpu
        r[f"{name}_over_start_s"] = run.wall - bare.wall
        r[f"{name}_rss_mb"] = run.maxrss_kib * kib
    r["goals"] = {
        "import_time": imp.wall < GOAL_IMPORT_S,
        **{f"{n}_time": r[f"{n}_over_start_s"] <= GOAL_READ_OVER_START_S for n in ("search", "search_cjk", "list", "status")},
        **{f"{n}_rss": r[f"{n}_rss_mb"] <= GOAL_RSS_MB for n in ("search", "search_cjk", "list", "status")},
    }
    r["env"] = {"python": f"Python {platform.python_version()}", "cpus": os.cpu_count(),
                "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0]}
    if args.json:
        print(json.dumps(r, sort_keys=True, ensure_ascii=False))
        return 0
    met = lambda ok: "MET" if ok else "NOT MET"
    g = r["goals"]
    runs_note = f", fastest of {len(runs)}" if len(runs) > 1 else ""
    rows = [
        ("archive", f"{args.posts:,} Mastodon posts, {size / MB:.1f} MB zip", "", "", ""),
        ("import", f"{r['import_s']:.2f} s (cpu {r['import_cpu_s']:.2f} s), added {r['import_added'].get('post', 0):,} posts{runs_note}",
         f"< {GOAL_IMPORT_S:.0f} s", f"{r['import_peak_rss_mb']:.0f} MB", met(g["import_time"])),
        ("bare start-up", f"{r['bare_s']:.3f} s  (`python -c pass`, the reference)", "", f"{r['bare_rss_mb']:.0f} MB", ""),
    ]
    rows.append(("vault version", f"{r['cli_s']:.3f} s = start-up + {r['cli_s'] - r['bare_s']:.3f} s  (the CLI alone, no vault)",
                 "", f"{r['cli_rss_mb']:.0f} MB", ""))
    for name, label in (("search", f"search {MARKER} ({r['search_hits']} hits)"),
                        ("search_cjk", f"search 関数 ({r['search_cjk_hits']} hits)"),
                        ("list", "list --limit 20"), ("status", "status")):
        rows.append((label, f"{r[name + '_s']:.3f} s = start-up + {r[name + '_over_start_s']:.3f} s (cpu {r[name + '_cpu_s']:.3f} s)",
                     f"+ <= {GOAL_READ_OVER_START_S} s, <= {GOAL_RSS_MB:.0f} MB", f"{r[name + '_rss_mb']:.0f} MB",
                     met(g[name + "_time"] and g[name + "_rss"])))
    rows.append((f"newer archive (+{NEWER_POSTS} posts)",
                 f"{r['newer_s']:.2f} s (cpu {r['newer_cpu_s']:.2f} s) = {r['newer_ratio']:.2f}x the import; "
                 f"added {r['newer_added'].get('post', 0):,}, unchanged {r['newer_unchanged'].get('post', 0):,} posts",
                 "", f"{r['newer_rss_mb']:.0f} MB", ""))
    rows.append(("compact", f"{r['compact_s']:.2f} s (cpu {r['compact_cpu_s']:.2f} s) into one snapshot of {snapshot_bytes / MB:.1f} MB",
                 "RSS not growing with the vault", f"{r['compact_rss_mb']:.0f} MB", ""))
    rows.append(("index rebuild", f"{r['rebuild_s']:.2f} s (cpu {r['rebuild_cpu_s']:.2f} s; `status` with index/ deleted)",
                 "", f"{r['rebuild_rss_mb']:.0f} MB", ""))
    head = ("figure", "value", "goal", "peak RSS", "met?")
    w = [max(len(row[i]) for row in [head, *rows]) for i in range(5)]
    line = lambda cells: "  ".join(c.ljust(w[i]) for i, c in enumerate(cells)).rstrip()
    print("\n".join([line(head), line(tuple("-" * x for x in w)), *(line(row) for row in rows)]))
    e = r["env"]
    print(f"index/ {(r['index_bytes'] or 0) / MB:.1f} MB; goals met {sum(g.values())}/{len(g)} "
          f"({e['python']}, {e['cpus']} CPUs, load {e['loadavg_before']:.2f} -> {e['loadavg_after']:.2f})")
    return 0


def _newer_import(args: argparse.Namespace, work: Path, v: tuple, env: dict[str, str], logs: Path) -> tuple[common.ChildRun, dict]:
    """The import of a newer archive into the vault: the same posts (the same seed) and
    NEWER_POSTS more.  Its outbox.json changed, so every post is read again and compared with
    the stored one; only the new ones are written."""
    newer_zip = work / "archive-mastodon-newer.zip"
    make_archive(newer_zip, args.posts + NEWER_POSTS, random.Random(args.seed))
    common.settle()
    common.log(f"vault import (a newer archive: {NEWER_POSTS} posts more) ...")
    run = common.run_child(common.vault_cmd(*v, "--quiet", "--json", "import", newer_zip), env, logs, "import-newer")
    common.log(f"  {run.wall:.2f} s, cpu {run.cpu:.2f} s")
    return run, json.loads(run.stdout)


if __name__ == "__main__":
    sys.exit(main())
