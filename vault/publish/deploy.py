"""Deploying a built bundle to a target (`dir:PATH`, `git:URL#BRANCH`, and plugins).

A target is an exporter registered under the ``vault.exporters`` entry point with a ``scheme``.
Contract for targets:

* ``plan(files)`` compares the bundle (path -> sha256) with what the target holds and returns the
  added, changed and deleted paths; it MUST NOT change the target.
* ``apply(build_dir, plan)`` uploads assets first, HTML next, deletions last, so visitors never see
  a page whose images are missing; it leaves the target as it was or fully updated, and raises
  ``RemoteError`` with the host's own message on failure.  Credentials never appear in output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import UsageError


@dataclass
class Plan:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.deleted)

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "changed": self.changed, "deleted": self.deleted}


def diff(local: dict[str, str], remote: dict[str, str]) -> Plan:
    return Plan(
        added=sorted(p for p in local if p not in remote),
        changed=sorted(p for p in local if p in remote and remote[p] != local[p]),
        deleted=sorted(p for p in remote if p not in local),
    )


def upload_order(paths: list[str]) -> list[str]:
    """Assets, then HTML pages, then the signed manifest."""
    def rank(p: str) -> tuple[int, str]:
        if p == "manifest.json":
            return (2, p)
        if p.endswith(".html"):
            return (1, p)
        return (0, p)

    return sorted(paths, key=rank)


class Target(Protocol):
    scheme: str

    def plan(self, files: dict[str, str]) -> Plan: ...

    def apply(self, build_dir: Path, plan: Plan) -> dict[str, Any]: ...


def open_target(spec: str, context: dict[str, Any]) -> Target:
    """``dir:PATH`` -> the dir exporter with "PATH", etc.  ``context`` carries settings and warnings."""
    from .. import plugins

    scheme, sep, rest = spec.partition(":")
    if not sep:
        raise UsageError(f"not a target spec: {spec!r}", hint="use dir:PATH, git:URL#BRANCH, or a name from vault.yaml targets")
    factory = plugins.exporters.get(scheme)
    if factory is None:
        known = ", ".join(sorted(plugins.exporters.specs()))
        raise UsageError(f"unknown target type {scheme!r}", hint=f"known: {known}")
    return factory.open(rest, context)
