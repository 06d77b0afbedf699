"""Small shape helpers shared by the importers: export files put one object where a list is
expected, or leave fields out altogether."""

from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list:
    """None -> [], a list -> itself, anything else (a single object) -> [it]."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def dig(value: Any, *path: str) -> Any:
    """``value[p0][p1]...`` through dicts, or None when a step is missing or not a dict."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
