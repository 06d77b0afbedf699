"""`vault show`: one record."""

from __future__ import annotations

from typing import Annotated

import typer

from . import app, context


@app.command("show", epilog="Examples:\n\n  vault show p_3f9a0c1d2e4b\n\n  vault show p_3f9a --json | jq .text\n\nA prefix that matches several records is refused with the candidates listed (exit 2).")
def show_cmd(record_id: Annotated[str, typer.Argument(metavar="ID", help="A record id (a unique prefix is enough).")]) -> None:
    """Show one record in full.

    For a post, also lists its copies on other networks (same text within 10 minutes).
    """
    from ..records.query import cross_posts, resolve_id, show_text

    with context.open_vault(unlock=True) as vault:
        cat = vault.catalog()
        rec = cat.get(resolve_id(cat, record_id))
        if rec is not None and rec.get("kind") == "post":
            rec["cross_posts"] = cross_posts(cat, rec)

    def text(r: dict) -> None:
        copies = r.pop("cross_posts", None) or []
        # One field per line: only a post's own text keeps its line breaks.
        shown = {k: (context.printable(v, one_line=k != "text") if isinstance(v, str) else v) for k, v in r.items()}
        context.say(show_text(shown))
        for copy in copies:
            line = f"{'cross_post':<18} {copy['source']:<9} {copy['id']}  {copy['created_at']}  {copy['url'] or ''}"
            context.say(line.rstrip(), one_line=True)

    context.render(rec, text)
