"""Memory and time of `vault` on hostile inputs: a huge posts file, a huge string, a zip of
300,000 members, a zip of near-16 MiB bombs, and a passphrase unlock.

Prints one table (or ``--json``).  Each command runs as its own child through the camera-roll
benchmark's runner, whose wait4() gives that child's own peak RSS.  Needs Linux; about 2 GB of
temporary disk at the default sizes.

    python bench/hostile_input.py                 # the sizes of the issue that asked for this
    python bench/hostile_input.py --json-mb 100 --string-mb 50 --members 300000   # quicker
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_files import RSS_HELPER, clean_env, vault_cmd  # noqa: E402

MiB = 2**20
FB_POSTS = "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json"


def run(argv: list[str], env: dict[str, str], logdir: Path, what: str) -> dict:
    """Exit code, wall seconds and peak RSS (MiB) of one command; any exit code is a result."""
    res = logdir / f"{what}.rusage"
    with open(logdir / f"{what}.out", "wb") as out, open(logdir / f"{what}.err", "wb") as err:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", RSS_HELPER, str(res), *argv], env=env,
                              cwd=logdir, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    wall, _cpu, maxrss = res.read_text().split()
    return {"exit": proc.returncode, "seconds": round(float(wall), 1), "peak_mib": round(int(maxrss) / 1024),
            "stderr": (logdir / f"{what}.err").read_text(errors="replace")[-300:]}


def posts_zip(path: Path, megabytes: int) -> None:
    """A stored zip holding one Facebook posts array of about ``megabytes`` MB (40 distinct posts)."""
    filler = "x" * 20_000
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open(zipfile.ZipInfo(FB_POSTS), "w", force_zip64=True) as out:
            out.write(b"[")
            written, i = 0, 0
            while written < megabytes * 10**6:
                post = json.dumps({"timestamp": 1_600_000_000 + i % 40, "data": [{"post": f"post {i % 40}"}],
                                   "tracking": filler}).encode()
                out.write((b"," if i else b"") + post)
                written += len(post) + 1
                i += 1
            out.write(b"]")


def string_zip(path: Path, megabytes: int) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open(zipfile.ZipInfo(FB_POSTS), "w", force_zip64=True) as out:
            out.write(b'[{"timestamp": 1600000001, "data": [{"post": "before"}]}, '
                      b'{"timestamp": 1600000002, "data": [{"post": "')
            block = b"A" * MiB
            for _ in range(megabytes):
                out.write(block)
            out.write(b'"}]}, {"timestamp": 1600000003, "data": [{"post": "after"}]}]')


def members_zip(path: Path, count: int) -> None:
    """``count`` empty stored members, written record by record (zip64 end records)."""
    crc = zlib.crc32(b"")
    central, offset = [], 0
    with open(path, "wb") as fh:
        for i in range(count):
            name = f"DCIM/p{i:07d}.jpg".encode()
            local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0x21, crc, 0, 0, len(name), 0)
            fh.write(local + name)
            central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, crc, 0, 0,
                                       len(name), 0, 0, 0, 0, 0, offset) + name)
            offset += len(local) + len(name)
        directory = b"".join(central)
        fh.write(directory)
        fh.write(struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), offset))
        fh.write(struct.pack("<4sIQI", b"PK\x06\x07", 0, offset + len(directory), 1))
        fh.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))


def bombs_zip(path: Path, count: int) -> None:
    """``count`` deflated members of 16 MiB - 4 KiB of zeros each (about 16 KB compressed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(count):
            zf.writestr(f"DCIM/clip{i:03d}.mp4", bytes(16 * MiB - 4096))


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json-mb", type=int, default=892, help="size of the posts file (default 892)")
    ap.add_argument("--string-mb", type=int, default=200, help="size of the one string (default 200)")
    ap.add_argument("--members", type=int, default=300_000, help="members of the many-member zip")
    ap.add_argument("--bombs", type=int, default=280, help="near-16 MiB bomb members (default 280, 4.4 GiB)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vault-hostile-"))
    try:
        return _run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    logs = work / "logs"
    logs.mkdir()
    pfile = work / "passphrase"
    pfile.write_text("correct horse battery staple\n")
    vdir = work / "vault"
    base = clean_env({"HOME": str(work), "XDG_DATA_HOME": str(work / "data"), "XDG_CONFIG_HOME": str(work / "config")})
    init = run(vault_cmd("init", vdir, "--passphrase-file", pfile, "--no-keyring"), base, logs, "init")
    if init["exit"] != 0:
        sys.stderr.write(init["stderr"])
        return 1
    unlock = run(vault_cmd("--vault", vdir, "key", "export"), dict(base, VAULT_PASSPHRASE_FILE=str(pfile)), logs, "unlock")
    ident = work / "identity.txt"
    ident.write_text((logs / "unlock.out").read_text())
    env = dict(base, VAULT_DIR=str(vdir), VAULT_IDENTITY_FILE=str(ident))
    rows: dict[str, dict] = {"passphrase unlock (scrypt 2^18)": unlock}

    import pyrage  # the work factor rage picks by itself, as vaults made before had it

    old = vdir.parent / "old-identity.age"
    secret = next(line for line in ident.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-1"))
    old.write_bytes(pyrage.passphrase.encrypt(secret.encode(), "correct horse battery staple"))
    shutil.copy(vdir / "keys/identity.age", work / "new-identity.age")
    shutil.copy(old, vdir / "keys/identity.age")
    log_n = old.read_bytes().split(b"\n")[1].split(b" ")[-1].decode()
    rows[f"passphrase unlock (rage's own 2^{log_n})"] = run(
        vault_cmd("--vault", vdir, "key", "export"), dict(base, VAULT_PASSPHRASE_FILE=str(pfile)), logs, "unlock-old")
    shutil.copy(work / "new-identity.age", vdir / "keys/identity.age")

    steps = [
        (f"{args.json_mb} MB posts file", "posts.zip", lambda p: posts_zip(p, args.json_mb)),
        (f"{args.string_mb} MB single string", "string.zip", lambda p: string_zip(p, args.string_mb)),
        (f"{args.members:,}-member zip", "members.zip", lambda p: members_zip(p, args.members)),
        (f"{args.bombs} near-16 MiB bombs", "bombs.zip", lambda p: bombs_zip(p, args.bombs)),
    ]
    for label, name, make in steps:
        path = work / name
        t0 = time.perf_counter()
        make(path)
        made = time.perf_counter() - t0
        before = tree_bytes(vdir)
        source = ["--source", "files"] if name in ("members.zip", "bombs.zip") else []
        row = run(vault_cmd("--json", "import", path, *source), env, logs, name)
        row["input_mb"] = round(path.stat().st_size / 10**6, 1)
        row["stored_mb"] = round((tree_bytes(vdir) - before) / 10**6, 1)
        row["made_in_s"] = round(made, 1)
        rows[label] = row
        path.unlink()

    if args.json:
        print(json.dumps({k: {f: v for f, v in r.items() if f != "stderr"} for k, r in rows.items()}, indent=1))
    else:
        print(f"{'input':<36} {'exit':>4} {'seconds':>8} {'peak MiB':>9} {'input MB':>9} {'stored MB':>10}")
        for label, r in rows.items():
            print(f"{label:<36} {r['exit']:>4} {r['seconds']:>8} {r['peak_mib']:>9} "
                  f"{r.get('input_mb', ''):>9} {r.get('stored_mb', ''):>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
