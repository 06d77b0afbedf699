"""`vault mark`: curate visibility and tags."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import app, context
from .filters import KindOpt, SinceOpt, SourceOpt, TagOpt, UntilOpt, VisOpt, filters


@app.command("mark", epilog=(
    "Examples:\n\n  vault mark p_3f9a0c1d --public\n\n  vault mark --source mastodon --since 2024-01-01 --public --tag blog\n\n"
    "  vault mark --all --private"))
def mark_cmd(
    ids: Annotated[Optional[list[str]], typer.Argument(metavar="[ID]...", help="Record ids (or unique prefixes).", show_default=False)] = None,
    kind: KindOpt = None, source: SourceOpt = None, since: SinceOpt = None, until: UntilOpt = None,
    tag: TagOpt = None, visibility: VisOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Every record (with no ids and no filters).")] = False,
    public: Annotated[bool, typer.Option("--public", help="Publish these records.")] = False,
    private: Annotated[bool, typer.Option("--private", help="Keep these records out of every publication (the default).")] = False,
    premium: Annotated[bool, typer.Option("--premium", help="Publish as a teaser; content encrypted for subscribers.")] = False,
    add_tag: Annotated[Optional[list[str]], typer.Option("--add-tag", help="Add this tag (repeatable).", show_default=False)] = None,
    untag: Annotated[Optional[list[str]], typer.Option("--untag", help="Remove this tag (repeatable).", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="With filters or --all and --public: also publish records that were followers-only, direct or otherwise not public on their network.")] = False,
) -> None:
    """Curate records: visibility (public, private, premium) and tags.

    `--tag T` selects records that have tag T; `--add-tag T` adds it.
    """
    from ..errors import UsageError
    from ..records.curation import mark

    chosen = [v for v, on in (("public", public), ("private", private), ("premium", premium)) if on]
    if len(chosen) > 1:
        raise UsageError("choose one of --public, --private, --premium")
    if not chosen and not add_tag and not untag:
        raise UsageError("nothing to do", hint="give --public, --private, --premium, --add-tag or --untag")
    f = filters(kind, source, since, until, tag, visibility)
    if not ids and not any(f.values()) and not all_:
        raise UsageError("no records selected", hint="give record ids, filters, or --all")
    with context.open_vault(exclusive=True, unlock=True) as vault:
        result = mark(vault, ids or [], f, visibility=chosen[0] if chosen else None, add_tags=add_tag or [], remove_tags=untag or [],
                      force=force)
    context.render(result, lambda r: context.info(f"{r['changed']} record(s) changed, {r['matched'] - r['changed']} already so"))
