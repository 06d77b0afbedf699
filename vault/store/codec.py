"""The catalog's encodings: canonical JSON, a record encoded once, and the reading of a journal
segment's lines (see ``vault.store.catalog`` and docs/on-disk-format.md).

Shared by the write path (a put's line and row come from one ``Encoded``), the replay of segments
and snapshots into the index, and the import pipeline (``encode_record``, ``content_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from ..errors import IntegrityError
from .words import extra_words

# Fields whose text is searchable.
SEARCH_FIELDS = ("title", "text", "comment", "caption", "alt", "filename", "item_title", "counterparty", "content_warning", "reply")
# Provenance fields every record of one import shares: stored once per import (a "prov" op).
PROV_SHARED = ("importer", "importer_version", "export", "export_sha256", "captured_at")


def dump_text(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dump_bytes(obj: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces, UTF-8): orjson, or json for what it refuses."""
    try:
        import orjson

        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except (ImportError, TypeError):
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def load_json(data: bytes | str) -> Any:
    try:
        import orjson

        return orjson.loads(data)
    except ImportError:
        return json.loads(data)


@dataclass
class Encoded:
    """A record encoded once: ``body`` is its JSON without id, provenance, visibility and tags."""

    rid: str
    rec: dict
    body: bytes
    digest: str
    provenance: Any = None


def encode_record(rec: dict) -> Encoded:
    fields = {k: v for k, v in rec.items() if k not in ("id", "provenance", "visibility", "tags")}
    body = dump_bytes(fields)
    return Encoded(rec["id"], rec, body, hashlib.sha256(body).hexdigest(), rec.get("provenance"))


def content_digest(rec: dict) -> str:
    """Digest of a record's source data: provenance (when, from which file) and id aside.  Two
    puts with the same digest hold the same data, so a re-import compares digests only."""
    return encode_record(dict(rec, id=rec.get("id", ""))).digest


def join_json(head: bytes | None, body: bytes) -> bytes:
    """``{head, ...body's members}`` from an encoded object ``body``, without decoding it."""
    if head is None:
        return body
    return b"{" + head + (b"," + body[1:] if body != b"{}" else b"}")


class ReplaySink:
    """The write side of a segment's decryption: complete lines are MAC'd and applied, holding
    back the last non-empty one, which at the end must be the MAC line."""

    def __init__(self, mac, apply) -> None:
        self._mac = mac
        self._apply = apply
        self._buf = bytearray()
        self._held: list[bytes] = []    # the last non-empty line and the empty ones after it
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        if self.error is None:
            try:
                self._buf += data
                start = 0
                while (end := self._buf.find(b"\n", start)) >= 0:
                    self._line(bytes(self._buf[start:end]))
                    start = end + 1
                del self._buf[:start]
            except BaseException as exc:  # re-raised by finish(), not through the decryptor
                self.error = exc
        return len(data)

    def flush(self) -> None:
        pass

    def _line(self, line: bytes) -> None:
        if not line.strip():
            if self._held:
                self._held.append(line)
            else:
                self._mac.update(line + b"\n")
            return
        for held in self._held:
            self._mac.update(held + b"\n")
            if held.strip():
                self._apply(load_json(held))
        self._held = [line]

    def finish(self, name: str) -> None:
        if self.error is None and self._buf:
            try:
                self._line(bytes(self._buf))
            except BaseException as exc:
                self.error = exc
        if self.error is not None:
            if isinstance(self.error, (ValueError, AttributeError, TypeError, KeyError)):
                raise IntegrityError(f"catalog/journal/{name} holds an operation that cannot be read") from self.error
            raise self.error
        try:
            mac = json.loads(self._held[0])["mac"] if self._held else None
        except (ValueError, KeyError, TypeError):
            mac = None
        if mac is None:
            raise IntegrityError(f"catalog/journal/{name} has no MAC line")
        if not hmac.compare_digest(str(mac), self._mac.hexdigest()):
            raise IntegrityError(f"catalog/journal/{name} fails its MAC (tampered, renamed or not written by this vault)")


def search_text(rec: dict) -> str:
    parts = [str(rec[f]) for f in SEARCH_FIELDS if rec.get(f)]
    place = rec.get("place") or {}
    if isinstance(place, dict) and place.get("name"):
        parts.append(str(place["name"]))
    parts.extend(str(link) for link in rec.get("links") or [])
    text = "\n".join(parts)
    more = extra_words(text)
    return text + "\n" + " ".join(more) if more else text


__all__ = ["Encoded", "encode_record", "content_digest", "SEARCH_FIELDS", "PROV_SHARED"]
