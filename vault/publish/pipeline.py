"""`vault publish`: build the bundle, then plan and deploy it to a target.

The steps live in their own modules: ``selection`` (which records are published), ``views``
(records as the templates see them), ``premium`` (sealed posts), ``build`` (the bundle folder) and
``deploy`` (the target contract).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .. import settings as settings_mod
from ..errors import Interrupted, UsageError
from ..repository import Vault
from .build import build


def build_dir_for(vault: Vault) -> Path:
    import platformdirs

    return platformdirs.user_cache_path("vault") / "build" / vault.header.vault_id


def publish(vault: Vault, *, target: str | None, out: Path | None, to: str | None, dry_run: bool,
            progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Build the bundle and, when a target is given, deploy it (or only plan with ``dry_run``)."""
    from .deploy import open_target

    conf = settings_mod.load(vault.settings_path)
    if target and to:
        raise UsageError("give a target name or --to, not both")
    spec = to
    if target:
        spec = conf.targets.get(target)
        if spec is None:
            known = ", ".join(sorted(conf.targets)) or "none"
            raise UsageError(f"no target {target!r} in vault.yaml", hint=f"targets defined: {known}")
    if spec is None and out is None:
        raise UsageError("nothing to publish to", hint="give --out DIR, --to SPEC (dir:, git:, netlify:, neocities:, rclone:) or a target name from vault.yaml")
    context: dict[str, Any] = {"settings": conf.publish, "warnings": []}
    if spec is None and dry_run:
        # Plan a build into --out against what --out holds now.
        spec, out = f"dir:{out}", None
    build_into = out if (out is not None and not dry_run) else build_dir_for(vault)
    tgt = open_target(spec, context) if spec else None
    built = build(vault, build_into, progress)
    result: dict[str, Any] = {"dry_run": dry_run, "build": built.to_json()}
    if tgt is not None and spec is not None:
        from ..rclone import display

        plan = tgt.plan(built.files)
        # Never echo credentials a spec may carry (URL user info, rclone connection strings).
        result["target"] = display(spec)
        result["plan"] = plan.to_json()
        if not dry_run and not plan.empty:
            try:
                result["deploy"] = tgt.apply(build_into, plan)
            except KeyboardInterrupt:
                raise Interrupted(f"interrupted while deploying to {display(spec)}: the bundle is built, but the target holds "
                                  "a mix of new and previous files (each file whole)",
                                  hint="run the same `vault publish` again: it uploads what is still missing") from None
    # Targets add their warnings while planning and deploying (e.g. file types a host refuses).
    result["warnings"] = built.warnings + context["warnings"]
    return result


def publish_to_dir(vault: Vault, out: Path) -> dict[str, Any]:
    """Build into ``out`` (for the demo)."""
    return build(vault, out).to_json()
