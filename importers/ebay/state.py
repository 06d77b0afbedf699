"""What one read of an eBay export has found so far (shared by the member readers)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReadState:
    found: bool = False
    ratings: int = 0
    html_pages: int = 0
    markup_changed: list[str] = field(default_factory=list)
