#!/usr/bin/env python3
"""Benchmark: `vault import` of a camera roll against the stock `tar | age` pipeline.

This is a measurement, not a test: it prints figures and the project's goals next to them, and
exits 0 whatever the figures are.  It exits 1 only when a subprocess it drives fails, because then
there is nothing meaningful to report.

See bench/README.md for how to run it and what it prints.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import filesystem  # bench/filesystem.py: this folder is first on sys.path when a benchmark runs
from PIL import Image

# The project's goals for importing a camera roll.
GOAL_THROUGHPUT_RATIO = 0.5   # import MB/s >= 0.5 x tar|age MB/s
GOAL_REIMPORT_RATIO = 0.1     # re-import wall time <= 0.1 x first import
GOAL_PEAK_RSS_MB = 150.0      # peak RSS of the vault process < 150 MB

PASSPHRASE = "benchmark passphrase, not a secret"
CHUNK = 8 << 20               # big-file write size: bounded memory however big the file is
MB = 1_000_000                # decimal MB, as disk and network throughput is usually quoted

# A noise JPEG at quality 90 (4:2:0) costs ~0.9 byte per pixel; used to size images so that file
# sizes land roughly where asked without encoding twice.
BYTES_PER_PIXEL = 0.9


class SubprocessFailed(Exception):
    def __init__(self, what: str, code: int, stderr: str) -> None:
        super().__init__(what)
        self.what, self.code, self.stderr = what, code, stderr


def log(msg: str) -> None:
    # Progress goes to stderr so that stdout holds only the table (or the JSON object).
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --- the camera roll --------------------------------------------------------------------------


def make_camera_roll(roll: Path, n_jpegs: int, big_mib: int, rng: random.Random,
                     min_kb: int, max_kb: int) -> tuple[int, int]:
    """Write the roll; return (file count, total bytes)."""
    roll.mkdir(parents=True)
    # Encoding fresh noise for every file would be dominated by the random generator; a few large
    # noise buffers cropped at random offsets give incompressible, distinct pictures cheaply.
    max_px = int(max_kb * 1000 / BYTES_PER_PIXEL)
    base_w = int((max_px * 4 / 3) ** 0.5) + 64
    base_h = base_w * 3 // 4 + 64
    bases = [Image.frombytes("RGB", (base_w, base_h), rng.randbytes(base_w * base_h * 3)) for _ in range(4)]

    total = 0
    for i in range(n_jpegs):
        target = rng.uniform(min_kb, max_kb) * 1000
        w = max(16, int((target / BYTES_PER_PIXEL * 4 / 3) ** 0.5))
        h = max(12, w * 3 // 4)
        x, y = rng.randrange(base_w - w + 1), rng.randrange(base_h - h + 1)
        img = bases[i % len(bases)].crop((x, y, x + w, y + h))
        # Stamp the index into a pixel as well as the EXIF, so no two files share content even
        # if two crops happened to coincide.
        img.putpixel((0, 0), (i & 0xFF, (i >> 8) & 0xFF, (i >> 16) & 0xFF))
        exif = Image.Exif()
        exif[0x010F] = "BenchCam"                       # Make
        exif[0x010E] = f"bench image {i}"               # ImageDescription
        # DateTimeOriginal spread over a year, so the importer's EXIF path does real work.
        day, sec = divmod(i * 4321, 86400)
        exif[0x8769] = {0x9003: f"2023:{1 + (day // 28) % 12:02d}:{1 + day % 28:02d} "
                                f"{sec // 3600:02d}:{(sec // 60) % 60:02d}:{sec % 60:02d}"}
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90, exif=exif.tobytes())
        data = buf.getvalue()
        (roll / f"IMG_{i:05d}.jpg").write_bytes(data)
        total += len(data)

    if big_mib > 0:
        size = big_mib << 20
        header = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
        with open(roll / "VID_big.mp4", "wb") as fh:
            fh.write(header)
            left = size - len(header)
            # Fresh random bytes per chunk: nothing repeats, so no layer can profit from
            # duplicated blocks, and memory stays at one chunk.
            while left > 0:
                n = min(CHUNK, left)
                fh.write(rng.randbytes(n))
                left -= n
        total += size
    return n_jpegs + (1 if big_mib > 0 else 0), total


# --- running things ---------------------------------------------------------------------------


@dataclass
class ChildRun:
    wall: float
    cpu: float        # user + system seconds of the process (and anything it waited for)
    maxrss_kib: int   # ru_maxrss: KiB on Linux
    stdout: str


@dataclass
class Baseline:
    wall: float
    cpu: float        # tar + age, user + system
    fsync: float      # fsync of age's output, after the clock stopped


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    # A developer's own VAULT_DIR / VAULT_PASSPHRASE_* must not leak into the benchmark; only
    # the variables set here decide which vault and which key the children use.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    env.update({"VAULT_NO_KEYRING": "1", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    # The checkout this benchmark lives in comes first, so it measures this code even where the
    # installed (editable) vault points at another checkout.
    checkout = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (checkout, env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def vault_cmd(*args: str | Path) -> list[str]:
    # The interpreter running the benchmark, so the measured vault is the one installed here
    # (and the measured process is Python itself, not a wrapper script).
    return [sys.executable, "-m", "vault", *map(str, args)]


def new_vault(vdir: Path, ident: Path, base_env: dict[str, str], logdir: Path, tag: str = "") -> None:
    """``vault init`` at ``vdir``, its identity exported to ``ident`` (mode 0600), with the
    passphrase in a file beside it.  One scrypt run at init and one at export: every timed run
    then unlocks with the identity file, so key derivation is no part of any figure."""
    pfile = ident.with_name("passphrase")
    pfile.write_text(PASSPHRASE + "\n")
    run_child(vault_cmd("init", vdir, "--passphrase-file", pfile, "--no-keyring"), clean_env(base_env), logdir, f"init{tag}")
    exported = run_child(vault_cmd("--vault", vdir, "key", "export"),
                         clean_env(dict(base_env, VAULT_PASSPHRASE_FILE=str(pfile))), logdir, f"key-export{tag}")
    ident.write_text(exported.stdout)
    os.chmod(ident, 0o600)


def settle() -> None:
    # The page cache cannot be dropped without root, but dirty pages left by the previous step
    # (the roll itself, the last run's output) can be written out, so that no run pays for
    # the one before it.
    os.sync()


# Runs one command and reports its wall time, CPU time and peak RSS.  It exists because of a
# Linux detail: at exec, the kernel folds the *old* address space's high-water mark into the new
# program's ru_maxrss, and Python's subprocess uses vfork (or posix_spawn), so that old address
# space is the caller's.  A vault started straight from this benchmark reports at least the
# benchmark's own peak (noise buffers, Pillow, ...).  Started from this small interpreter (no
# site, only os/sys/time), the inherited floor is a few MB, far below any vault process; the
# benchmark measures and prints that floor.
RSS_HELPER = r"""
import os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"cannot run {argv[0]}: {exc}\n")
        sys.stderr.flush()  # os._exit skips the interpreter's flush
    os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(result, "w") as fh:
    fh.write(f"{wall!r} {usage.ru_utime + usage.ru_stime!r} {usage.ru_maxrss}\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_child(argv: list[str], env: dict[str, str], logdir: Path, what: str, cwd: Path | None = None) -> ChildRun:
    """Run one process through RSS_HELPER: its own wall time, CPU time and peak RSS (wait4).

    wait4 gives the rusage of exactly that child, unlike RUSAGE_CHILDREN here, whose ru_maxrss
    is a maximum over *all* children so far and so cannot be split per run.  Output goes to
    files rather than pipes so that nothing can block on a full pipe.  The working directory is
    the log folder: `python -m vault` puts the cwd first on sys.path, and a cwd holding a folder
    named `vault` (as the workdir does) would shadow the package.  ``cwd`` overrides it for
    commands that need their own (Hugo builds the site in its working directory).
    """
    out_path, err_path, res_path = (logdir / f"{what}.{x}" for x in ("out", "err", "rusage"))
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", RSS_HELPER, str(res_path), *argv],
                              env=env, cwd=cwd or logdir, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    if proc.returncode != 0:
        raise SubprocessFailed(what, proc.returncode, err_path.read_text(errors="replace"))
    wall, cpu, maxrss = res_path.read_text().split()
    return ChildRun(float(wall), float(cpu), int(maxrss), out_path.read_text(errors="replace"))


def run_tar_age(roll: Path, recipient: str, out: Path, logdir: Path, what: str) -> Baseline:
    """`tar c -C ROLL . | age -r R -o OUT`, as two processes joined by a pipe, no shell.

    The output is fsynced after the clock stops and that time is reported apart: the vault
    fsyncs every object it writes and age does not, so the reader can judge how much of a gap
    is durability rather than speed.
    """
    tar_err, age_err = logdir / f"{what}.tar.err", logdir / f"{what}.age.err"
    with open(tar_err, "wb") as te, open(age_err, "wb") as ae:
        t0 = time.perf_counter()
        tar = subprocess.Popen(["tar", "c", "-C", str(roll), "."], stdout=subprocess.PIPE, stderr=te,
                               stdin=subprocess.DEVNULL)
        age = subprocess.Popen(["age", "-r", recipient, "-o", str(out)], stdin=tar.stdout, stderr=ae,
                               stdout=subprocess.DEVNULL)
        # Our copy of the read end must be closed, or tar would never see SIGPIPE if age died.
        tar.stdout.close()
        # wait4 rather than Popen.wait, for the CPU time (RSS is not wanted here, so the vfork
        # inheritance described above does not matter).
        _, age_status, age_ru = os.wait4(age.pid, 0)
        _, tar_status, tar_ru = os.wait4(tar.pid, 0)
        wall = time.perf_counter() - t0
    age.returncode = os.waitstatus_to_exitcode(age_status)
    tar.returncode = os.waitstatus_to_exitcode(tar_status)
    if tar.returncode != 0:
        raise SubprocessFailed(f"{what}: tar", tar.returncode, tar_err.read_text(errors="replace"))
    if age.returncode != 0:
        raise SubprocessFailed(f"{what}: age", age.returncode, age_err.read_text(errors="replace"))
    t1 = time.perf_counter()
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync = time.perf_counter() - t1
    out.unlink()  # about the roll's size again; no reason to keep it on disk
    cpu = sum(ru.ru_utime + ru.ru_stime for ru in (tar_ru, age_ru))
    return Baseline(wall, cpu, fsync)


def tool_version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "?"


# --- report -----------------------------------------------------------------------------------


def fmt_table(r: dict) -> str:
    g = r["goals"]
    met = lambda ok: "MET" if ok else "NOT MET"
    rows = [
        ("files / bytes", f"{r['files']} files, {r['bytes'] / MB:,.1f} MB "
                          f"({r['jpegs']} JPEGs + {r['big_mib']} MiB video)", "", ""),
        ("tar|age run 1 (before)", f"{r['baseline1_s']:.2f} s  {r['baseline1_mb_s']:.1f} MB/s  "
                                   f"cpu {r['baseline1_cpu_s']:.2f} s  (+{r['baseline1_fsync_s']:.2f} s fsync)", "", ""),
        ("vault import", f"{r['import_s']:.2f} s  {r['import_mb_s']:.1f} MB/s  {r['import_files_s']:.1f} files/s  "
                         f"cpu {r['import_cpu_s']:.2f} s", "", ""),
        ("  / tar|age run 1", f"{r['throughput_ratio']:.2f} x", f">= {GOAL_THROUGHPUT_RATIO} x", met(g["throughput"])),
        ("  peak RSS", f"{r['import_peak_rss_mb']:.1f} MB  (measurement floor {r['rss_floor_mb']:.1f} MB)",
         f"< {GOAL_PEAK_RSS_MB:.0f} MB", met(g["peak_rss"])),
        ("vault re-import", f"{r['reimport_s']:.2f} s  cpu {r['reimport_cpu_s']:.2f} s  "
                            f"peak RSS {r['reimport_peak_rss_mb']:.1f} MB", "", ""),
        ("  / first import", f"{r['reimport_ratio']:.3f} x", f"<= {GOAL_REIMPORT_RATIO} x", met(g["reimport"])),
        ("  (startup floor)", f"{r['startup_s']:.2f} s  {r['startup_peak_rss_mb']:.1f} MB  "
                              "(`vault key show`, for scale)", "", ""),
        ("tar|age run 2 (after)", f"{r['baseline2_s']:.2f} s  {r['baseline2_mb_s']:.1f} MB/s  "
                                  f"cpu {r['baseline2_cpu_s']:.2f} s  (+{r['baseline2_fsync_s']:.2f} s fsync)", "", ""),
        ("  import / run 2", f"{r['throughput_ratio_run2']:.2f} x", "(variance check)", ""),
    ]
    head = ("figure", "value", "goal", "met?")
    w = [max(len(row[i]) for row in [head, *rows]) for i in range(4)]
    line = lambda cells: "  ".join(c.ljust(w[i]) for i, c in enumerate(cells)).rstrip()
    out = [line(head), line(tuple("-" * x for x in w))] + [line(row) for row in rows]
    e = r["env"]
    out.append(f"goals met: {sum(g.values())}/{len(g)}   ({e['python']}, {e['cpus']} CPUs, age {e['age']}, "
               f"load {e['loadavg_before']:.2f} -> {e['loadavg_after']:.2f}, workdir {r['workdir']})")
    if r["import_added_media"] != r["files"] or r["reimport_unchanged_media"] != r["files"]:
        out.append(f"note: first import added {r['import_added_media']} media and the re-import found "
                   f"{r['reimport_unchanged_media']} unchanged, of {r['files']} files: figures are suspect")
    if e.get("fs_caution"):
        out.append(f"caution: {e['fs_caution']}")
    return "\n".join(out)


# --- main -------------------------------------------------------------------------------------


def in_workdir(prefix: str, args: argparse.Namespace, run: Callable[[argparse.Namespace, Path], int]) -> int:
    """``run(args, work)`` in a fresh temp folder under ``args.workdir``: a failed child is
    reported (exit 1), and the folder is removed afterwards unless ``args.keep``."""
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=args.workdir))
    caution = filesystem.caution(work)
    if caution:
        log(f"caution: {caution}")
    try:
        return run(args, work)
    except SubprocessFailed as exc:
        print(f"bench: {exc.what} failed (exit {exc.code}):\n{exc.stderr}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            if caution:
                log("removed the temp dir: on this file system, a benchmark started in the next few "
                    "minutes creates files more slowly")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jpegs", type=int, default=2000, help="number of JPEGs in the roll (default 2000)")
    ap.add_argument("--big-mib", type=int, default=1024, help="size of the one big video, MiB (default 1024; 0 = none)")
    ap.add_argument("--min-kb", type=int, default=100, help="smallest JPEG, kB (default 100)")
    ap.add_argument("--max-kb", type=int, default=500, help="largest JPEG, kB (default 500)")
    ap.add_argument("--seed", type=int, default=1, help="random seed for the roll (default 1)")
    ap.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir (default: system temp)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (roll, vault, logs)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args(argv)
    if args.jpegs < 0 or args.big_mib < 0 or not 1 <= args.min_kb <= args.max_kb:
        ap.error("need --jpegs >= 0, --big-mib >= 0 and 1 <= --min-kb <= --max-kb")

    for tool in ("tar", "age"):
        if shutil.which(tool) is None:
            print(f"bench: `{tool}` is not on PATH; it is needed for the baseline", file=sys.stderr)
            return 1

    return in_workdir("vault-bench-", args, _run)


def _run(args: argparse.Namespace, work: Path) -> int:
    roll, vdir, logs = work / "roll", work / "vault", work / "logs"
    logs.mkdir()
    # HOME and XDG dirs inside the workdir: the vault must not read or write the user's config.
    home = work / "home"
    home.mkdir()
    base_env = {"HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share"),
                "XDG_CONFIG_HOME": str(home / ".config")}

    log(f"workdir {work}")
    # Other work on the machine shows in wall times; the load average says how much there was.
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    n_files, n_bytes = make_camera_roll(roll, args.jpegs, args.big_mib, random.Random(args.seed),
                                        args.min_kb, args.max_kb)
    log(f"camera roll: {n_files} files, {n_bytes / MB:,.1f} MB in {time.perf_counter() - t:.1f} s")

    ident = work / "identity.txt"
    new_vault(vdir, ident, base_env, logs)
    env = clean_env(dict(base_env, VAULT_IDENTITY_FILE=str(ident)))
    shown = run_child(vault_cmd("--vault", vdir, "--json", "key", "show"), env, logs, "key-show")
    recipient = json.loads(shown.stdout)["recipients"][0]
    # What the helper itself leaves in a child's ru_maxrss: a reading near this would not be
    # the vault's own figure.
    floor = run_child([shutil.which("true") or "/bin/true"], env, logs, "rss-floor")

    # The roll is warm in the page cache (it was just written) for every run alike.  Order
    # baseline -> import -> re-import -> baseline, so drift shows as a gap between the baselines.
    settle()
    log("tar | age, run 1 ...")
    b1 = run_tar_age(roll, recipient, work / "baseline.age", logs, "baseline1")
    log(f"  {b1.wall:.2f} s")

    import_argv = vault_cmd("--vault", vdir, "--quiet", "--json", "import", roll)
    settle()
    log("vault import (first) ...")
    first = run_child(import_argv, env, logs, "import1")
    log(f"  {first.wall:.2f} s")
    settle()
    log("vault import (unchanged roll) ...")
    again = run_child(import_argv, env, logs, "import2")
    log(f"  {again.wall:.2f} s")

    settle()
    log("tar | age, run 2 ...")
    b2 = run_tar_age(roll, recipient, work / "baseline.age", logs, "baseline2")
    log(f"  {b2.wall:.2f} s")

    # The import's own report says what was done; a "fast" import that skipped half the files
    # would be misleading, so the counts go into the output.
    rep1, rep2 = json.loads(first.stdout), json.loads(again.stdout)

    mb = n_bytes / MB
    kib_to_mb = 1024 / MB
    r: dict = {
        "jpegs": args.jpegs,
        "big_mib": args.big_mib,
        "files": n_files,
        "bytes": n_bytes,
        "baseline1_s": b1.wall, "baseline1_mb_s": mb / b1.wall, "baseline1_cpu_s": b1.cpu,
        "baseline1_fsync_s": b1.fsync,
        "import_s": first.wall, "import_mb_s": mb / first.wall, "import_files_s": n_files / first.wall,
        "import_cpu_s": first.cpu,
        "import_peak_rss_mb": first.maxrss_kib * kib_to_mb,
        "import_added_media": rep1.get("added", {}).get("media"),
        "reimport_s": again.wall, "reimport_ratio": again.wall / first.wall, "reimport_cpu_s": again.cpu,
        "reimport_peak_rss_mb": again.maxrss_kib * kib_to_mb,
        "reimport_unchanged_media": rep2.get("unchanged", {}).get("media"),
        # A process that starts Python and opens the vault but does no work: the part of the
        # re-import time no importer change can remove (it dominates small rolls).
        "startup_s": shown.wall,
        "startup_peak_rss_mb": shown.maxrss_kib * kib_to_mb,
        "rss_floor_mb": floor.maxrss_kib * kib_to_mb,
        "baseline2_s": b2.wall, "baseline2_mb_s": mb / b2.wall, "baseline2_cpu_s": b2.cpu,
        "baseline2_fsync_s": b2.fsync,
    }
    r["throughput_ratio"] = r["import_mb_s"] / r["baseline1_mb_s"]
    r["throughput_ratio_run2"] = r["import_mb_s"] / r["baseline2_mb_s"]
    r["goals"] = {
        "throughput": r["throughput_ratio"] >= GOAL_THROUGHPUT_RATIO,
        "reimport": r["reimport_ratio"] <= GOAL_REIMPORT_RATIO,
        "peak_rss": r["import_peak_rss_mb"] < GOAL_PEAK_RSS_MB,
    }
    r["goal_values"] = {"throughput_ratio_min": GOAL_THROUGHPUT_RATIO,
                        "reimport_ratio_max": GOAL_REIMPORT_RATIO,
                        "peak_rss_mb_max": GOAL_PEAK_RSS_MB}
    r["env"] = {"python": f"Python {platform.python_version()}", "cpus": os.cpu_count(),
                "age": tool_version(["age", "--version"]), "platform": platform.platform(),
                "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0],
                "fs_caution": filesystem.caution(work)}
    r["workdir"] = str(work)

    if args.json:
        print(json.dumps(r, sort_keys=True))
    else:
        print(fmt_table(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
