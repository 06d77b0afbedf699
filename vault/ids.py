"""Record and object ids: keyed HMAC-SHA256 digests (keyed with the writer key, so ids reveal nothing)."""

from __future__ import annotations

import hashlib
import hmac


def record_id(writer_key: bytes, kind: str, source: str, source_id: str) -> str:
    digest = hmac.new(writer_key, f"record\0{kind}\0{source}\0{source_id}".encode(), hashlib.sha256).hexdigest()
    return f"{kind[0]}_{digest[:24]}"


def media_id(object_id: str) -> str:
    return f"m_{object_id[:24]}"


def keyed(writer_key: bytes, *parts: str) -> str:
    return hmac.new(writer_key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()
