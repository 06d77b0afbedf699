"""What an import tells its caller: the report it returns and the progress events it emits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _by_kind() -> dict[str, int]:
    return {"post": 0, "media": 0, "rating": 0}


@dataclass
class ImportReport:
    source: str
    export: str
    dry_run: bool = False
    added: dict[str, int] = field(default_factory=_by_kind)
    updated: dict[str, int] = field(default_factory=_by_kind)
    unchanged: dict[str, int] = field(default_factory=_by_kind)
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What the export held that is not imported ({"follow records": 12}), and notes for people.
    held: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    bytes_stored: int = 0
    # Files of the export not read at all, because an earlier import read them unchanged (their
    # records are counted in ``unchanged``).  The whole export when it was imported unchanged.
    unchanged_files: int = 0

    @property
    def total(self) -> int:
        return sum(self.added.values()) + sum(self.updated.values()) + sum(self.unchanged.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "export": self.export,
            "dry_run": self.dry_run,
            "added": dict(self.added),
            "updated": dict(self.updated),
            "unchanged": dict(self.unchanged),
            "skipped": list(self.skipped),
            "warnings": list(self.warnings),
            "held": dict(self.held),
            "notes": list(self.notes),
            "unchanged_files": self.unchanged_files,
        }


@dataclass
class Event:
    """Progress for the command line: ``kind`` is "start", "file", "bytes" or "item"."""

    kind: str
    amount: int = 0
    total: int | None = None
    label: str | None = None
