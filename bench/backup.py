#!/usr/bin/env python3
"""Benchmark: `vault backup` to a folder and to an S3 server, next to plain `rclone copy`.

A measurement, not a test: it prints figures and exits 0 whatever they are; it exits 1 only when
a command it drives fails (and prints that command's stderr).  See bench/README.md.

The vault is real: a roll of generated, incompressible files is imported with `vault import`, so
the backup copies genuine age objects, catalog segments and checksum files.  The S3 server is
`rclone serve s3` on 127.0.0.1 with access keys (signed requests), in the same temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1_000_000
PASSPHRASE = "benchmark passphrase, not a secret"
ACCESS_KEY, SECRET_KEY = "BENCHACCESSKEY", "bench-secret-key-not-secret"


class Failed(Exception):
    def __init__(self, what: str, code: int, stderr: str) -> None:
        super().__init__(what)
        self.what, self.code, self.stderr = what, code, stderr


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def rclone_exe() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from vault.rclone import find_rclone

    return find_rclone()


def make_roll(roll: Path, files: int, size_kb: int, rng: random.Random) -> int:
    """``files`` distinct .mp4 files of about ``size_kb`` kB of random bytes (incompressible)."""
    roll.mkdir(parents=True)
    total = 0
    for i in range(files):
        size = max(64, int(size_kb * 1000 * rng.uniform(0.5, 1.5)))
        data = b"\x00\x00\x00\x18ftypmp42" + rng.randbytes(size)
        (roll / f"VID_{i:05d}.mp4").write_bytes(data)
        total += len(data)
    return total


def run(cmd: list[str], env: dict[str, str], what: str) -> tuple[float, str]:
    """Run ``cmd`` after a `sync`; return (wall seconds, stdout)."""
    subprocess.run(["sync"], check=False)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise Failed(what, proc.returncode, proc.stderr)
    return wall, proc.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_s3(exe: str, root: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    (root / "bucket").mkdir(parents=True)
    port = free_port()
    proc = subprocess.Popen([exe, "serve", "s3", "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", "--addr", f"127.0.0.1:{port}", str(root)],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise Failed("rclone serve s3", 1, "the S3 server did not start")


def tree_bytes(root: Path, skip: tuple[str, ...] = ("lock", "tmp")) -> tuple[int, int]:
    total = count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            if Path(dirpath) == root and name in skip:
                continue
            total += os.lstat(os.path.join(dirpath, name)).st_size
            count += 1
    return total, count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=3000, help="files in the generated roll (default 3000)")
    ap.add_argument("--size-kb", type=int, default=330, help="mean file size in kB (default 330: ~1 GB in all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir (default: system temp)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args()

    exe = rclone_exe()
    work = Path(tempfile.mkdtemp(prefix="vault-bench-backup-", dir=args.workdir))
    home = work / "home"
    home.mkdir()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "RCLONE_"))}
    base_env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
                     "XDG_CACHE_HOME": str(home / ".cache"), "RCLONE_CONFIG": str(home / "no-rclone.conf"),
                     "VAULT_NO_KEYRING": "1", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    vault_cmd = [sys.executable, "-m", "vault"]
    server = None
    rows: list[dict] = []
    try:
        log(f"writing {args.files} files of ~{args.size_kb} kB in {work}")
        roll_bytes = make_roll(work / "roll", args.files, args.size_kb, random.Random(args.seed))
        vdir = work / "vault"
        pfile = work / "passphrase"
        pfile.write_text(PASSPHRASE + "\n")
        run([*vault_cmd, "init", str(vdir), "--passphrase-file", str(pfile), "--no-keyring"], base_env, "vault init")
        _, ident = run([*vault_cmd, "--vault", str(vdir), "key", "export"], dict(base_env, VAULT_PASSPHRASE_FILE=str(pfile)), "vault key export")
        (work / "identity.txt").write_text(ident)
        env = dict(base_env, VAULT_DIR=str(vdir), VAULT_IDENTITY_FILE=str(work / "identity.txt"))
        log("importing the roll (setup, timed for reference)")
        t_import, _ = run([*vault_cmd, "--quiet", "import", str(work / "roll")], env, "vault import")
        vbytes, vfiles = tree_bytes(vdir)
        log(f"vault: {vfiles} files, {vbytes / MB:.0f} MB")

        server, port = start_s3(exe, work / "s3", base_env)
        env.update({
            "RCLONE_CONFIG_BENCH_TYPE": "s3", "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
            "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": ACCESS_KEY, "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": SECRET_KEY,
            "RCLONE_CONFIG_BENCH_ENDPOINT": f"http://127.0.0.1:{port}",
        })
        plain_filter = ["--exclude", "/lock", "--exclude", "/tmp/**"]

        def vault_backup(label: str, dest: str, *extra: str) -> None:
            log(label)
            wall, out = run([*vault_cmd, "backup", dest, "--json", *extra], env, label)
            summary = json.loads(out)
            rows.append({"run": label, "seconds": wall, "bytes": summary["bytes_copied"], "files": summary["files_copied"]})

        def plain(label: str, dest: str, first: bool) -> None:
            # rclone copies the whole tree the first time and nothing when unchanged
            log(label)
            wall, _ = run([exe, "copy", str(vdir), dest, *plain_filter], env, label)
            rows.append({"run": label, "seconds": wall, "bytes": vbytes if first else 0, "files": vfiles if first else 0})

        vault_backup("vault backup -> folder", str(work / "dest-folder"))
        vault_backup("vault backup -> folder, nothing new", str(work / "dest-folder"))
        plain("rclone copy -> folder", str(work / "plain-folder"), True)
        plain("rclone copy -> folder, nothing new", str(work / "plain-folder"), False)
        vault_backup("vault backup -> S3", "rclone:bench:bucket/vault")
        vault_backup("vault backup -> S3, nothing new", "rclone:bench:bucket/vault")
        plain("rclone copy -> S3", "bench:bucket/plain", True)
        plain("rclone copy -> S3, nothing new", "bench:bucket/plain", False)
        vault_backup("vault backup --verify -> S3 (reads it all back)", "rclone:bench:bucket/vault", "--verify")
    except Failed as exc:
        print(f"bench: {exc.what} failed (exit {exc.code}):\n{exc.stderr}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.kill()
            server.wait()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    figures = {"roll_bytes": roll_bytes, "vault_bytes": vbytes, "vault_files": vfiles, "import_seconds": round(t_import, 2), "runs": rows}
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"vault: {vfiles} files, {vbytes / MB:.0f} MB (roll {roll_bytes / MB:.0f} MB, imported in {t_import:.1f} s)")
    print(f"{'run':<50} {'seconds':>8} {'MB/s':>8} {'files':>7}")
    for r in rows:
        mbs = f"{r['bytes'] / MB / r['seconds']:.0f}" if r["bytes"] else "-"
        print(f"{r['run']:<50} {r['seconds']:>8.2f} {mbs:>8} {r['files']:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
