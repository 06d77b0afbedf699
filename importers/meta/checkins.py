"""Facebook's check-ins: label-value records that name where a post was made.

They create no posts of their own: the post made at a check-in's timestamp gets from it what its
own place lacks (name, address, coordinates).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from vault.plugin_api import Place, Skipped

from .reader import as_list, as_records, fix_mojibake, load_json, text_of

_COORDS = re.compile(r"(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)")


def read_checkins(files: list[tuple[str, Any]], checkins: dict[Any, Place]) -> Iterator[Skipped]:
    """Fill ``checkins`` (post timestamp -> place) from the check-ins ``files`` ((path, entry)
    pairs); yields a Skipped for each of them that cannot be read."""
    for _, entry in files:
        root, skipped = load_json(entry)
        if skipped is not None:
            yield skipped
            continue
        checkins.update(checkins_of(root))


def _label_items(value: Any) -> Iterator[dict]:
    """Every {label, value|dict} item under ``value``, depth first."""
    for item in as_list(value):
        if not isinstance(item, dict):
            continue
        yield item
        if "dict" in item:
            yield from _label_items(item["dict"])
        if "vec" in item:
            yield from _label_items(item["vec"])


def checkins_of(root: Any) -> dict[Any, Place]:
    out: dict[Any, Place] = {}
    for record in as_records(fix_mojibake(root), "checkins_v2", record_keys=("timestamp", "label_values")):
        timestamp = record.get("timestamp")
        if timestamp is None:
            continue
        place = Place()
        for item in _label_items(record.get("label_values")):
            label = item.get("label")
            value = item.get("value")
            if label in ("Name", "Place name") and place.name is None:
                place.name = text_of(value)
            elif label == "Address" and place.address is None:
                place.address = text_of(value)
            elif label == "Coordinates" and isinstance(value, str) and place.lat is None:
                match = _COORDS.search(value)
                if match:
                    place.lat, place.lon = float(match.group(1)), float(match.group(2))
        if place.name or place.lat is not None or place.address:
            out[timestamp] = place
    return out
