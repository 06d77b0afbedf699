#!/usr/bin/env python3
"""Benchmark: the same import by two or more checkouts of vault, in interleaved rounds.

On a shared or virtual machine one run says little: the same code imported the same 977 MB
export in 6.8 s and in 8.3 s within minutes, and a file system slows down as it fills and after
mass deletions.  A change that saves a few percent can only be seen by running the versions
side by side, in a new order each round, and comparing the means.  Each round imports the export
once with every checkout, each into a new copy of the same empty vault (the same keys), in a
shuffled order; nothing is deleted until the end.

    python bench/compare.py --rounds 5 before=/path/to/old/checkout after=.

The export is a generated Facebook one (``--posts``, ``--photos``, ``--photo-kb``, as in
``import_facebook.py``) unless ``--export`` names zips.  This is a measurement, not a test: it
exits 0 whatever the figures are (1 only when an import fails).  See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_files as common  # noqa: E402
from facebook_export import make_export  # noqa: E402


def parse_checkouts(specs: list[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        root = Path(path if sep else spec).resolve()
        if not (root / "vault" / "__init__.py").is_file():
            raise SystemExit(f"compare: {root} is not a checkout of vault (no vault/__init__.py)")
        out[label if sep else root.name] = root
    if len(out) < 2:
        raise SystemExit("compare: name at least two checkouts, as label=path")
    return out


def run_rounds(checkouts: dict[str, Path], zips: list[Path], rounds: int, work: Path, seed: int) -> dict[str, list]:
    logs, home = work / "logs", work / "home"
    logs.mkdir()
    home.mkdir()
    base_env = {"HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share"), "XDG_CONFIG_HOME": str(home / ".config")}
    template, ident = work / "template", work / "identity.txt"
    common.new_vault(template, ident, base_env, logs)
    runs: dict[str, list] = {label: [] for label in checkouts}
    order = random.Random(seed)
    for r in range(1, rounds + 1):
        labels = list(checkouts)
        order.shuffle(labels)
        for label in labels:
            vault = work / f"r{r}-{label}"
            shutil.copytree(template, vault)
            env = common.clean_env(dict(base_env, VAULT_IDENTITY_FILE=str(ident)))
            env["PYTHONPATH"] = str(checkouts[label])  # this checkout's vault, and its workers'
            common.settle()
            run = common.run_child(common.vault_cmd("--vault", vault, "--quiet", "--json", "import", *zips),
                                   env, logs, f"r{r}-{label}")
            runs[label].append(run)
            common.log(f"round {r}: {label} {run.wall:.2f} s, cpu {run.cpu:.2f} s")
    return runs


def summary(runs: dict[str, list]) -> dict[str, dict[str, float]]:
    out = {}
    for label, done in runs.items():
        walls, cpus = [r.wall for r in done], [r.cpu for r in done]
        out[label] = {"wall_mean": statistics.fmean(walls), "wall_min": min(walls), "wall_max": max(walls),
                      "wall_stdev": statistics.stdev(walls) if len(walls) > 1 else 0.0,
                      "cpu_mean": statistics.fmean(cpus), "peak_rss_mb": max(r.maxrss_kib for r in done) * 1024 / common.MB,
                      "runs": len(done)}
    return out


def fmt(table: dict[str, dict[str, float]]) -> str:
    first = next(iter(table.values()))
    lines = [f"{'checkout':12s} {'wall mean':>9s} {'min':>6s} {'max':>6s} {'stdev':>6s} {'cpu mean':>9s} {'vs first':>9s} {'RSS MB':>7s}"]
    for label, f in table.items():
        rel = f["wall_mean"] / first["wall_mean"] - 1
        lines.append(f"{label:12s} {f['wall_mean']:8.2f}s {f['wall_min']:6.2f} {f['wall_max']:6.2f} {f['wall_stdev']:6.2f} "
                     f"{f['cpu_mean']:8.2f}s {100 * rel:+8.1f}% {f['peak_rss_mb']:7.1f}")
    lines.append("a difference smaller than the stdev of either row is noise: run more rounds")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkouts", nargs="+", help="label=path of each checkout to compare (two or more)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--export", type=Path, nargs="*", default=None, help="zips of an export to import (default: a generated one)")
    ap.add_argument("--posts", type=int, default=15000)
    ap.add_argument("--photos", type=int, default=8000)
    ap.add_argument("--photo-kb", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir (a fresh file system gives the steadiest figures)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args(argv)
    checkouts = parse_checkouts(args.checkouts)
    return common.in_workdir("vault-bench-compare-", args, lambda a, work: _run(a, work, checkouts))


def _run(args: argparse.Namespace, work: Path, checkouts: dict[str, Path]) -> int:
    zips = list(args.export or [])
    if not zips:
        (work / "export").mkdir()
        ex = make_export(work / "export", args.posts, args.photos, args.photo_kb, 2, random.Random(args.seed))
        zips = ex.zips
        common.log(f"export: {len(zips)} zips, {ex.zip_bytes / common.MB:,.1f} MB")
    runs = run_rounds(checkouts, zips, args.rounds, work, args.seed)  # a failed import: in_workdir reports it
    table = summary(runs)
    print(json.dumps(table, sort_keys=True) if args.json else fmt(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
