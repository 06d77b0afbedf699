"""Importer and exporter registries, loaded lazily from entry points.

Built-ins register through the same entry-point groups as third-party plugins
(``vault.importers``, ``vault.exporters``).  When the package metadata is unavailable (running
from a source tree without installing), the built-in table below is used instead.  A plugin that
fails to load becomes a warning, never a crash.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

BUILTIN_IMPORTERS = {
    "files": "importers.files.importer:FilesImporter",
    "facebook": "importers.meta.facebook:FacebookImporter",
    "instagram": "importers.meta.instagram:InstagramImporter",
    "ebay": "importers.ebay.importer:EbayImporter",
    "etsy": "importers.etsy.importer:EtsyImporter",
    "x": "importers.x.importer:XImporter",
    "mastodon": "importers.mastodon.importer:MastodonImporter",
    "linkedin": "importers.linkedin.importer:LinkedInImporter",
    "bluesky": "importers.bluesky.importer:BlueskyImporter",
}
BUILTIN_EXPORTERS: dict[str, str] = {
    "dir": "exporters.targets.directory:DirTarget",
    "git": "exporters.targets.git:GitTarget",
    "netlify": "exporters.targets.netlify:NetlifyTarget",
    "neocities": "exporters.targets.neocities:NeocitiesTarget",
    "rclone": "exporters.targets.rclone:RcloneTarget",
}


@dataclass
class Registry:
    group: str
    builtins: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    _loaded: dict[str, Any] | None = None

    def specs(self) -> dict[str, str]:
        specs = dict(self.builtins)
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            specs[ep.name] = ep.value
        return specs

    def fingerprint(self) -> str:
        """Which plugins are installed, at which versions, without loading any: changes when
        a plugin is added, removed or upgraded, or vault itself is."""
        from importlib.metadata import entry_points

        from . import __version__

        parts = [f"vault {__version__}", *(f"{n}={v}" for n, v in sorted(self.builtins.items()))]
        for ep in sorted(entry_points(group=self.group), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            parts.append(f"{ep.name}={ep.value}@{getattr(dist, 'version', '?')}")
        return "\n".join(parts)

    def load_all(self) -> dict[str, Any]:
        if self._loaded is None:
            self._loaded = {}
            for name, spec in sorted(self.specs().items()):
                obj = self._load(name, spec)
                if obj is not None:
                    self._loaded[name] = obj
        return self._loaded

    def get(self, name: str) -> Any | None:
        if self._loaded is not None:
            return self._loaded.get(name)
        spec = self.specs().get(name)
        return self._load(name, spec) if spec else None

    def _load(self, name: str, spec: str) -> Any | None:
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
            obj = getattr(module, attr) if attr else module
            # Importers are instances; targets are classes opened per spec (they have `open`).
            return obj if hasattr(obj, "open") and isinstance(obj, type) else (obj() if isinstance(obj, type) else obj)
        # Plugin boundary: third-party code may fail in any way; it must not take the CLI down.
        except Exception as exc:  # noqa: BLE001
            self.warnings.append(f"plugin {name!r} ({spec}) failed to load: {type(exc).__name__}: {exc}")
            return None


importers = Registry("vault.importers", BUILTIN_IMPORTERS)
exporters = Registry("vault.exporters", BUILTIN_EXPORTERS)
