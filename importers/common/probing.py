"""Finding a format's members by content, without reading through a big archive of another kind."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from vault.plugin_api import Entry, ExportSource

PROBE_ALL_UP_TO = 8   # exports this small have every member probed, whatever its name
MAX_PROBES = 400


def probe_candidates(src: "ExportSource", extension: str, max_probes: int | None = MAX_PROBES) -> Iterator["Entry"]:
    """Members worth opening to look for a signature, in archive order: every non-empty member
    of a small export (a bare file, whatever its name), only ``*extension`` members of a bigger
    one, and at most ``max_probes`` of them (None: no limit)."""
    probe_all = len(src.entries) <= PROBE_ALL_UP_TO
    probes = 0
    for entry in src.entries:
        if not entry.size or not (probe_all or entry.rel.lower().endswith(extension)):
            continue
        probes += 1
        if max_probes is not None and probes > max_probes:
            return
        yield entry
