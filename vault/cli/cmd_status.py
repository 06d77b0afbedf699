"""`vault status`: counts, size, last imports and the available key sources."""

from __future__ import annotations

from . import app, context


@app.command("status", epilog="Examples:\n\n  vault status\n\n  vault status --json")
def status_cmd() -> None:
    """Counts by kind and source, size, last imports, and which key sources are available."""
    from ..errors import KeyUnavailableError
    from ..keys import lookup as keymod
    from ..status import key_free_status

    o = context.opts()
    with context.open_vault() as vault:
        out = key_free_status(vault)
        out["key_sources"] = keymod.available_sources(vault.header.vault_id)
        error = None
        try:
            vault.unlock(o.identity_file)
            cat = vault.catalog()
            out["counts"] = cat.counts()
            out["by_source"] = cat.by_source()
            out["last_imports"] = cat.imports()
            out["visibility"] = cat.visibility_counts()
            out["catalog_segments"] = len(cat.segments)
        except KeyUnavailableError as exc:
            out["counts"] = None
            error = exc

    def text(s):
        context.say(f"vault   {s['vault']}  (id {s['vault_id']}, format v{s['format_version']})")
        context.say(f"size    {_human(s['size_bytes'])} in {s['objects']} objects")
        context.say(f"keys    available: {', '.join(s['key_sources']) or 'none'}; recipients: {len(s['recipients'])}")
        if s.get("counts") is not None:
            c = s["counts"]
            context.say(f"records {c['post']} posts, {c['media']} media, {c['rating']} ratings")
            for source, kinds in s["by_source"].items():
                context.say(f"  {source:<10} " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
            if s["last_imports"]:
                context.say("last imports")
                for imp in s["last_imports"]:
                    added = sum(imp["summary"].get("added", {}).values())
                    context.say(f"  {imp['at']}  {imp['source']:<10} {imp['export']}  (+{added})")

    context.render(out, text)
    if error is not None:
        raise error


def _human(n: int) -> str:
    return context.human_bytes(n)
