"""Record filters and record lines shared by `list`, `search` and `mark`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import context

KindOpt = Annotated[Optional[str], typer.Option("--kind", help="post, media or rating.", show_default=False)]
SourceOpt = Annotated[Optional[str], typer.Option("--source", help="facebook, instagram, x, mastodon, ebay, etsy, files, ...", show_default=False)]
SinceOpt = Annotated[Optional[str], typer.Option("--since", metavar="DATE", help="On or after this date (YYYY-MM-DD or ISO 8601).", show_default=False)]
UntilOpt = Annotated[Optional[str], typer.Option("--until", metavar="DATE", help="On or before this date.", show_default=False)]
TagOpt = Annotated[Optional[str], typer.Option("--tag", help="Only records with this tag.", show_default=False)]
VisOpt = Annotated[Optional[str], typer.Option("--visibility", help="private, public or premium.", show_default=False)]
LimitOpt = Annotated[Optional[int], typer.Option("--limit", help="At most this many records.", show_default=False)]


def filters(kind, source, since, until, tag, visibility) -> dict:
    from ..records.query import build_filters

    return build_filters(kind=kind, source=source, since=since, until=until, tag=tag, visibility=visibility)


def _line(rec: dict) -> str:
    from ..records.query import summary

    return summary(rec)


def print_records(records) -> None:
    n = 0
    for rec in records:
        n += 1
        if context.opts().json:
            context.print_jsonl(rec)
        else:
            context.say(_line(rec), one_line=True)
    if n == 0 and not context.opts().json:
        context.info("no records match")
