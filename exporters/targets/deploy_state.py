"""What a publish target last received: one small JSON record per target in the user cache folder.

``<user cache>/vault/deploy/<sha256(key)[:16]>.json`` holds, for the last *successful* deploy, every
file's sha256 (the bundle's own digest), plus the SHA-1 and size that hosts list (Netlify and
Neocities name files by SHA-1; rclone remotes give sizes cheaply).  It holds public file facts only:
never a credential, never the target spec itself (an rclone spec may carry secrets).

Targets use it to translate what a host lists (path -> SHA-1 and/or size) into the bundle's sha256,
so ``plan()`` compares without downloading anything and an unchanged bundle uploads nothing.
Contract for targets: save a record only after a deploy succeeded completely, so a failed deploy is
compared (and retried) in full by the next run.  A missing or unreadable record is never an error:
it only costs re-uploads (or, on Neocities, ``upload_hash`` checks).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from vault.plugin_api import UsageError, upload_order

FORMAT = 1          # bump when the record's layout changes; other formats are ignored (re-check)
UNKNOWN = "?"       # stands for a host file whose content we cannot name: never equals a sha256
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileFacts:
    sha256: str
    sha1: str
    size: int


@dataclass(frozen=True)
class Listed:
    """One file as a host lists it; ``None`` where the host does not say."""

    sha1: str | None = None
    size: int | None = None


def record_path(key: str) -> Path:
    """Where the record for target ``key`` (e.g. ``netlify:SITE_ID``) lives."""
    import platformdirs

    name = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return platformdirs.user_cache_path("vault") / "deploy" / f"{name}.json"


def load(key: str) -> dict[str, FileFacts]:
    """The last successful deploy's files; empty when there is none or it cannot be read."""
    try:
        raw = json.loads(record_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or not isinstance(raw.get("files"), dict):
        return {}
    out = {}
    for path, f in raw["files"].items():
        if isinstance(f, dict) and isinstance(f.get("sha256"), str) and isinstance(f.get("sha1"), str) and isinstance(f.get("size"), int):
            out[path] = FileFacts(f["sha256"], f["sha1"], f["size"])
    return out


def save(key: str, files: dict[str, FileFacts]) -> str | None:
    """Write the record atomically; return None, or why it could not be written.

    A deploy that succeeded stays a success when the cache folder is read-only: the caller turns
    the returned reason into a warning (the next run then compares with the host in full).
    """
    path = record_path(key)
    data = {"format": FORMAT,
            "files": {p: {"sha256": f.sha256, "sha1": f.sha1, "size": f.size} for p, f in sorted(files.items())}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        return f"could not save the deploy record {path}: {exc.strerror or exc}; the next publish compares every file with the host"
    return None


def forget(key: str) -> None:
    """Drop the record (the host no longer matches it)."""
    record_path(key).unlink(missing_ok=True)


def file_facts(build_dir: Path, files: dict[str, str]) -> dict[str, FileFacts]:
    """sha256, SHA-1 and size of every bundle file, read once each.

    MUST raise UsageError when a file's sha256 is not the one the build reported: the folder was
    changed between the build and the deploy, and deploying it would publish unsigned content.
    """
    out = {}
    for rel, expected in files.items():
        h256, h1, size = hashlib.sha256(), hashlib.sha1(), 0
        try:
            with open(build_dir / rel, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h256.update(chunk)
                    h1.update(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise UsageError(f"cannot read {rel} in the built bundle: {exc.strerror or exc}", hint="run vault publish again") from None
        if h256.hexdigest() != expected:
            raise UsageError(f"{rel} changed in {build_dir} after the build", hint="run vault publish again (and leave the build folder alone meanwhile)")
        out[rel] = FileFacts(expected, h1.hexdigest(), size)
    return out


def held(listing: dict[str, Listed], record: dict[str, FileFacts]) -> dict[str, str]:
    """What the host holds, as path -> sha256, for :func:`vault.publish.deploy.diff`.

    A listed file gets the recorded sha256 when the record knows the path and the host's SHA-1
    and size (where given) agree with it; otherwise ``UNKNOWN``, so it counts as changed (or as
    deleted when the bundle no longer has it).
    """
    out = {}
    for path, seen in listing.items():
        rec = record.get(path)
        if rec is not None and seen.sha1 in (None, rec.sha1) and seen.size in (None, rec.size):
            out[path] = rec.sha256
        else:
            out[path] = UNKNOWN
    return out


def upload_groups(paths: list[str]) -> list[list[str]]:
    """``paths`` in ``vault.publish.deploy.upload_order``, split into its groups (assets, pages, manifest),
    so a target can batch uploads without ever mixing a page into its images' batch."""
    groups: dict[int, list[str]] = {}
    for p in upload_order(paths):
        groups.setdefault(2 if p == "manifest.json" else 1 if p.endswith(".html") else 0, []).append(p)
    return [groups[k] for k in sorted(groups)]


def check_paths(files: dict[str, str], refused: str, host: str) -> None:
    """Raise UsageError naming every bundle path holding one of the ``refused`` characters.

    Called by ``plan()`` before any request, so nothing is half-sent.
    """
    bad = sorted(p for p in files if any(c in p for c in refused))
    if bad:
        shown = ", ".join(repr(p) for p in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        shown_chars = [repr(c) for c in refused if c.isprintable()]
        if any(not c.isprintable() for c in refused):
            shown_chars.append("line breaks")
        chars = ", ".join(shown_chars)
        raise UsageError(f"{host} refuses file paths containing {chars}: {shown}",
                         hint="nothing was sent; change the setting that names the file (e.g. publish.monetization.lightning_address)")
