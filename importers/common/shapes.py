"""Small shape helpers shared by the importers: export files put one object where a list is
expected, or leave fields out altogether."""

from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list:
    """None -> [], a list -> itself, anything else (a single object) -> [it]."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
