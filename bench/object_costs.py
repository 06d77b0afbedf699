#!/usr/bin/env python3
"""Benchmark: what storing one photo costs, step by step, beside the primitives it is made of.

A big import's workers store each photo of an export as one object: read it from the zip (with
its CRC checked), name it (HMAC-SHA256), encrypt it as an age file (a fresh X25519 key, HKDF,
ChaCha20-Poly1305), hash the ciphertext (SHA-256, for the checksums file), write it as a new
file and link it into ``objects/ab/cd/``, and probe its head (dimensions, EXIF time).  This
script times those steps in one process, on photos shaped like a real Facebook export's (about
120 kB each), with the vault's own code, and prints each figure beside the primitive operations
on the same bytes.  The sum, times the number of photos, is the least CPU time an import of such
an export can take however its work is spread over processes.

This is a measurement, not a test: it exits 0 whatever the figures are.  See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import shutil
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's vault
sys.path.insert(0, str(Path(__file__).resolve().parent))

from facebook_export import PhotoMaker  # noqa: E402

from vault import agefile  # noqa: E402
from vault.importing.archive.portable import read_spec  # noqa: E402
from vault.importing.mediainfo import facts_to_json, probe  # noqa: E402
from vault.store.direct import AlignedBuffer, DirectFile, DirectWriter  # noqa: E402
from vault.store.files import commit_exclusive, temp_path  # noqa: E402
from vault.store.objects import ObjectStore  # noqa: E402


def make_zip(path: Path, n: int, kb: int, seed: int) -> list[dict]:
    """A zip of ``n`` distinct JPEGs stored as they are (as exports store photos), and each
    member's description as the importer sends it to a worker."""
    maker = PhotoMaker(kb, random.Random(seed))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(n):
            zf.writestr(f"media/{i:06d}_n.jpg", maker.make(i))
    specs = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            specs.append({"kind": "zip", "path": str(path), "offset": info.header_offset, "method": info.compress_type,
                          "stored": info.compress_size, "size": info.file_size, "crc": info.CRC,
                          "flags": info.flag_bits, "name": info.orig_filename})
    return specs


def cpu_per_item(items: list, step: Callable[[object], object]) -> float:
    """CPU microseconds per item of ``step`` over ``items`` (this process, all threads)."""
    start = time.process_time()
    for item in items:
        step(item)
    return (time.process_time() - start) * 1e6 / max(1, len(items))


def measure(work: Path, specs: list[dict]) -> dict[str, float]:
    import pyrage

    recipient = str(pyrage.x25519.Identity.generate().to_public())
    key = os.urandom(32)
    photos = [read_spec(s, s["name"], s["name"], s["size"]) for s in specs]
    figures: dict[str, float] = {}

    # The steps a worker takes for each photo, with the vault's code.
    figures["read"] = cpu_per_item(specs, lambda s: read_spec(s, s["name"], s["name"], s["size"]))
    (work / "tmp").mkdir()
    store = ObjectStore(work / "objects", work / "tmp", direct_io=True)
    figures["store"] = cpu_per_item(
        photos, lambda d: store.put_bytes(d, key, [recipient], exclusive=True))
    figures["probe"] = cpu_per_item(
        list(zip(photos, specs)), lambda ds: facts_to_json(probe(ds[0][:1 << 20], ds[1]["name"])))

    # The primitives, on the same bytes.
    public = agefile.recipient_key(recipient)
    figures["ref_hmac"] = cpu_per_item(photos, lambda d: hmac.digest(key, d, "sha256"))
    figures["ref_age_header"] = cpu_per_item(photos, lambda d: agefile.encrypt(b"", [public]))
    figures["ref_age_file"] = cpu_per_item(photos, lambda d: agefile.encrypt(d, [public]))
    ciphers = [bytes(agefile.encrypt(d, [public])) for d in photos]
    figures["ref_sha256"] = cpu_per_item(ciphers, lambda c: hashlib.sha256(c).digest())
    figures["ref_crc32"] = cpu_per_item(photos, zlib.crc32)
    figures["ref_new_file"] = _new_files(work / "files", ciphers)
    figures["ref_one_file"] = _one_file(work / "one.bin", ciphers)

    # The store step again, in a layout the on-disk format does not have (see
    # docs/proposals/packed-objects.md): photos appended to one pack file instead of a file each.
    figures["pack_files"] = _packed(work / "pack-a", photos, key, public, one_header=False)
    figures["pack_stream"] = _packed(work / "pack-b", photos, key, public, one_header=True)
    return figures


def _new_files(root: Path, ciphers: list[bytes]) -> float:
    """Each ciphertext written as the store writes it (a new file in tmp/, around the page cache
    where allowed, linked into a two-level fan-out), without any crypto."""
    (root / "tmp").mkdir(parents=True)
    writer, buffer = DirectWriter(), AlignedBuffer()
    names = [hashlib.sha256(c).hexdigest() for c in ciphers]

    def write(i: int) -> None:
        view = buffer.get(len(ciphers[i]))
        view[:] = ciphers[i]
        tmp = temp_path(str(root / "tmp"), ".obj")
        writer.write_new(tmp, view)
        name = names[i]
        commit_exclusive(tmp, f"{root}/{name[:2]}/{name[2:4]}/{name}")

    return cpu_per_item(list(range(len(ciphers))), write)


def _packed(path: Path, photos: list[bytes], key: bytes, public: bytes, one_header: bool) -> float:
    """The store step with the photos appended to one pack file, as restic packs small blobs:
    each photo named (HMAC), sealed, its ciphertext hashed, and written at the pack's end around
    the page cache (whole blocks; each photo padded to one, which a real pack would not need).
    Each photo is a whole age file of its own, or (``one_header``) the pack is one age file
    whose payload the photos follow one another in: one X25519 key for the pack."""
    buffer, pack = AlignedBuffer(), DirectFile(DirectWriter(), str(path), direct=True)
    sealer = agefile.Sealer(agefile.x25519_stanzas([public]))

    def store(data: bytes) -> None:
        hmac.digest(key, data, "sha256")
        room = buffer.get(agefile.sealed_size(len(data), 4096) + 4096)
        if one_header:
            view, done = memoryview(data), 0
            for start in range(0, len(data), agefile.CHUNK):
                sealed = sealer.seal(view[start:start + agefile.CHUNK], last=False)
                room[done:done + len(sealed)] = sealed
                done += len(sealed)
            cipher = room[:done]
        else:
            cipher = agefile.encrypt(data, [public], room)
        hashlib.sha256(cipher).digest()
        pack.write(room[:-(-len(cipher) // 4096) * 4096])

    with pack:
        return cpu_per_item(photos, store)


def _one_file(path: Path, ciphers: list[bytes]) -> float:
    with open(path, "wb") as fh:
        return cpu_per_item(ciphers, fh.write)


# What each figure is, in the order printed; the steps a worker takes first, then the primitives.
LABELS = {
    "read": "read (pread + CRC-32)",
    "store": "store (name, encrypt, hash, write, link)",
    "probe": "probe (JPEG head)",
    "ref_hmac": "  HMAC-SHA256 of the photo (its name)",
    "ref_age_header": "  age header: X25519 + HKDF",
    "ref_age_file": "  age file: header + ChaCha20-Poly1305",
    "ref_sha256": "  SHA-256 of the ciphertext",
    "ref_crc32": "  CRC-32 of the photo",
    "ref_new_file": "  new file + link, no crypto",
    "ref_one_file": "  the same bytes appended to one file",
    "pack_files": "store, each photo an age file appended to a pack",
    "pack_stream": "store, the pack one age file (one X25519 key)",
}
STEPS = ("read", "store", "probe")


def fmt(figures: dict[str, float], n: int, kb: int, photos: int) -> str:
    worker = sum(figures[k] for k in STEPS)
    lines = [f"{'step (CPU per photo)':48s} {'us':>8s}  {'share':>6s}"]
    for key, label in LABELS.items():
        share = f"{100 * figures[key] / worker:5.1f}%" if key in STEPS else ""
        lines.append(f"{label:48s} {figures[key]:8.1f}  {share:>6s}")
    lines.append(f"{'a worker, per photo (the three steps)':48s} {worker:8.1f}")
    lines.append(f"for {photos:,} photos: {worker * photos / 1e6:.2f} CPU s in the workers, at least "
                 f"{worker * photos / 2e6:.2f} s on 2 cores, before any record is written "
                 f"(measured on {n:,} photos of ~{kb} kB)")
    for key, layout in (("pack_files", "each an age file in a pack"), ("pack_stream", "one age file per pack")):
        packed = worker - figures["store"] + figures[key]
        lines.append(f"with packs ({layout}): {packed:.1f} us per photo, {packed * photos / 1e6:.2f} CPU s "
                     f"({100 * (packed / worker - 1):+.0f}%)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=2000, help="photos to measure on (default 2000)")
    ap.add_argument("--photo-kb", type=int, default=120, help="mean photo size, kB (default 120, as in a real export)")
    ap.add_argument("--export-photos", type=int, default=7949,
                    help="photos in the export the total is given for (default 7,949: a 970 MB Facebook export)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None, help="parent of the temp dir (put it on the disk to measure)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vault-bench-objects-", dir=args.workdir))
    try:
        print(f"[bench] {args.photos} photos of ~{args.photo_kb} kB in {work} ...", file=sys.stderr)
        specs = make_zip(work / "photos.zip", args.photos, args.photo_kb, args.seed)
        figures = measure(work, specs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps({"photos": args.photos, "photo_kb": args.photo_kb, "us_per_photo": figures}, sort_keys=True))
    else:
        print(fmt(figures, args.photos, args.photo_kb, args.export_photos))
    return 0


if __name__ == "__main__":
    sys.exit(main())
