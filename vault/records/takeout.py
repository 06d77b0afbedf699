"""Getting plaintext out: one media file (`vault get`) or everything (`vault export`).

These are the only places that write plaintext to disk, and only where the user asked.  Media are
decrypted to a temporary name beside the destination and renamed only after the content was
proven to match its object id, so a tampered object never leaves a plausible-looking file.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import IO, Callable

from ..errors import IntegrityError, UsageError
from ..repository import Vault
from ..store.files import storage_error
from .query import resolve_id


def _decrypt_to(vault: Vault, object_id: str, dest: Path) -> int:
    keys = vault.keys or vault.unlock()
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            size = vault.objects.read_verified(object_id, keys.identity, keys.writer_key, fh)
        os.replace(tmp, dest)
        return size
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(exc, str(dest)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def get_media(vault: Vault, given_id: str, output: Path | None, stream: IO[bytes] | None) -> dict:
    cat = vault.catalog()
    rec = cat.get(resolve_id(cat, given_id))
    if rec is None or rec["kind"] != "media" or not rec.get("object"):
        raise UsageError(f"{given_id} is not a media record", hint="`vault get` decrypts media; use `vault show` for posts and ratings")
    if output is not None:
        size = _decrypt_to(vault, rec["object"], output)
        return {"id": rec["id"], "path": str(output), "size": size}
    keys = vault.keys or vault.unlock()
    # Prove the object first so a tampered one never sends a byte; then stream it.
    vault.objects.read_verified(rec["object"], keys.identity, keys.writer_key, None)
    size = vault.objects.read_verified(rec["object"], keys.identity, keys.writer_key, stream)
    return {"id": rec["id"], "size": size}


# Original names are kept; only what a file system or a shell-unaware user cannot take goes.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:]+")


def safe_filename(name: str | None, fallback: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:200] or fallback


def export_all(vault: Vault, directory: Path, progress: Callable[[int], None] | None = None) -> dict:
    """Write ``records.jsonl`` and ``media/<original name>`` into an empty or new ``directory``."""
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty", hint="export into a new or empty folder")
    media_dir = directory / "media"
    try:
        media_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, str(media_dir)) from exc
    cat = vault.catalog()
    used: set[str] = set()
    records = media_files = 0
    failures: list[str] = []
    try:
        out = open(directory / "records.jsonl", "w", encoding="utf-8")
    except OSError as exc:
        raise storage_error(exc, str(directory / "records.jsonl")) from exc
    with out:
        for rec in cat.query(oldest_first=True):
            if rec["kind"] == "media" and rec.get("object"):
                name = safe_filename(rec.get("filename"), rec["id"])
                stem, dot, ext = name.rpartition(".")
                candidate, n = name, 1
                while candidate.lower() in used:
                    candidate = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
                    n += 1
                used.add(candidate.lower())
                try:
                    _decrypt_to(vault, rec["object"], media_dir / candidate)
                    rec = dict(rec, export_path=f"media/{candidate}")
                    media_files += 1
                except IntegrityError as exc:
                    failures.append(f"{rec['id']}: {exc.message}")
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            records += 1
            if progress:
                progress(1)
    if failures:
        raise IntegrityError(f"{len(failures)} media object(s) could not be exported: " + "; ".join(failures[:5]),
                             hint="run `vault check --read-data`; restore damaged objects from a backup")
    return {"directory": str(directory), "records": records, "media_files": media_files}
