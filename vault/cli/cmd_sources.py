"""`vault sources`: the importers and what each reads."""

from __future__ import annotations

from . import app, context


@app.command("sources", epilog="Examples:\n\n  vault sources\n\n  vault sources --json | jq -r '.sources[].name'")
def sources_cmd() -> None:
    """The importers and what each reads."""
    from .. import plugins

    found = plugins.importers.load_all()
    out = {
        "sources": [
            {"name": name, "version": getattr(imp, "version", ""), "description": getattr(imp, "description", ""), "reads": getattr(imp, "reads", "")}
            for name, imp in sorted(found.items())
        ],
        "warnings": plugins.importers.warnings,
    }

    def text(d: dict) -> None:
        for s in d["sources"]:
            context.say(f"{s['name']:<10} {s['description']}")
            if s["reads"]:
                context.say(f"{'':<10} reads: {s['reads']}")
        for w in d["warnings"]:
            context.warn(w)

    context.render(out, text)
