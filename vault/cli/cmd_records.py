"""`vault list | search | show | get | mark | export`: reading and curating records."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import app, context

KindOpt = Annotated[Optional[str], typer.Option("--kind", help="post, media or rating.", show_default=False)]
SourceOpt = Annotated[Optional[str], typer.Option("--source", help="facebook, instagram, x, mastodon, ebay, etsy, files, ...", show_default=False)]
SinceOpt = Annotated[Optional[str], typer.Option("--since", metavar="DATE", help="On or after this date (YYYY-MM-DD or ISO 8601).", show_default=False)]
UntilOpt = Annotated[Optional[str], typer.Option("--until", metavar="DATE", help="On or before this date.", show_default=False)]
TagOpt = Annotated[Optional[str], typer.Option("--tag", help="Only records with this tag.", show_default=False)]
VisOpt = Annotated[Optional[str], typer.Option("--visibility", help="private, public or premium.", show_default=False)]
LimitOpt = Annotated[Optional[int], typer.Option("--limit", help="At most this many records.", show_default=False)]


def _filters(kind, source, since, until, tag, visibility) -> dict:
    from ..query import build_filters

    return build_filters(kind=kind, source=source, since=since, until=until, tag=tag, visibility=visibility)


def _line(rec: dict) -> str:
    from ..query import summary

    return summary(rec)


def _print_records(records) -> None:
    n = 0
    for rec in records:
        n += 1
        if context.opts().json:
            context.print_jsonl(rec)
        else:
            context.say(_line(rec), one_line=True)
    if n == 0 and not context.opts().json:
        context.info("no records match")


@app.command("list", epilog="Examples:\n\n  vault list --kind post --since 2024-01-01 --limit 20\n\n  vault list --source ebay --json | jq .comment")
def list_cmd(kind: KindOpt = None, source: SourceOpt = None, since: SinceOpt = None, until: UntilOpt = None,
             tag: TagOpt = None, visibility: VisOpt = None, limit: LimitOpt = None) -> None:
    """List records, newest first (JSON Lines with --json)."""
    from ..repository import open_vault

    o = context.opts()
    f = _filters(kind, source, since, until, tag, visibility)
    with open_vault(o.vault_path(), wait=o.lock_wait) as vault:
        vault.unlock(o.identity_file)
        _print_records(vault.catalog().query(limit=limit, **f))


@app.command("search", epilog="Examples:\n\n  vault search \"prague coffee\"\n\n  vault search vintage --kind rating --json")
def search_cmd(query: Annotated[str, typer.Argument(help="Words to find (all must match; prefixes match too).")],
               kind: KindOpt = None, source: SourceOpt = None, since: SinceOpt = None, until: UntilOpt = None,
               tag: TagOpt = None, visibility: VisOpt = None, limit: LimitOpt = None) -> None:
    """Full-text search over posts, captions and rating comments."""
    from ..repository import open_vault

    o = context.opts()
    f = _filters(kind, source, since, until, tag, visibility)
    with open_vault(o.vault_path(), wait=o.lock_wait) as vault:
        vault.unlock(o.identity_file)
        _print_records(vault.catalog().query(text=query, limit=limit, **f))


@app.command("show", epilog="Examples:\n\n  vault show p_3f9a0c1d2e4b\n\n  vault show p_3f9a --json | jq .text\n\nA prefix that matches several records is refused with the candidates listed (exit 2).")
def show_cmd(record_id: Annotated[str, typer.Argument(metavar="ID", help="A record id (a unique prefix is enough).")]) -> None:
    """Show one record in full.

    For a post, also lists its copies on other networks (same text within 10 minutes).
    """
    from ..query import cross_posts, resolve_id, show_text
    from ..repository import open_vault

    o = context.opts()
    with open_vault(o.vault_path(), wait=o.lock_wait) as vault:
        vault.unlock(o.identity_file)
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


@app.command("get", epilog="Examples:\n\n  vault get m_0a1b2c3d -o photo.jpg\n\n  vault get m_0a1b2c3d > photo.jpg")
def get_cmd(
    record_id: Annotated[str, typer.Argument(metavar="ID", help="A media record id (or a unique prefix).")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write to this file (else stdout).", show_default=False)] = None,
) -> None:
    """Decrypt a media object to a file or stdout (verified before any byte reaches stdout)."""
    from ..repository import open_vault
    from ..takeout import get_media

    o = context.opts()
    if output is None and sys.stdout.isatty() and not o.json:
        from ..errors import UsageError

        raise UsageError("refusing to write binary data to a terminal", hint="use -o FILE or redirect stdout")
    with open_vault(o.vault_path(), wait=o.lock_wait) as vault:
        vault.unlock(o.identity_file)
        result = get_media(vault, record_id, output, sys.stdout.buffer if output is None else None)
    if output is not None:
        context.render(result, lambda r: context.info(f"wrote {r['path']} ({r['size']} bytes)"))


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
    from ..curation import mark
    from ..errors import UsageError
    from ..repository import open_vault

    chosen = [v for v, on in (("public", public), ("private", private), ("premium", premium)) if on]
    if len(chosen) > 1:
        raise UsageError("choose one of --public, --private, --premium")
    if not chosen and not add_tag and not untag:
        raise UsageError("nothing to do", hint="give --public, --private, --premium, --add-tag or --untag")
    f = _filters(kind, source, since, until, tag, visibility)
    if not ids and not any(f.values()) and not all_:
        raise UsageError("no records selected", hint="give record ids, filters, or --all")
    o = context.opts()
    with open_vault(o.vault_path(), exclusive=True, wait=o.lock_wait) as vault:
        vault.unlock(o.identity_file)
        result = mark(vault, ids or [], f, visibility=chosen[0] if chosen else None, add_tags=add_tag or [], remove_tags=untag or [],
                      force=force)
    context.render(result, lambda r: context.info(f"{r['changed']} record(s) changed, {r['matched'] - r['changed']} already so"))


@app.command("export", epilog="Examples:\n\n  vault export ~/takeout   # records.jsonl + media/ with original names\n\n  vault export /media/usb/takeout --json")
def export_cmd(directory: Annotated[Path, typer.Argument(metavar="DIR", help="An empty or new folder for the plaintext take-out.")]) -> None:
    """Plaintext take-out: records.jsonl plus every media file under its original name."""
    from ..repository import open_vault
    from ..takeout import export_all

    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        from ..errors import UsageError

        raise UsageError(f"{directory} is not an empty folder", hint="export into a new or empty folder")
    o = context.opts()
    with open_vault(o.vault_path(), wait=o.lock_wait) as vault:
        vault.unlock(o.identity_file)
        total = sum(vault.catalog().counts().values())
        with context.progress_bar("exporting", total, unit_bytes=False) as advance:
            result = export_all(vault, directory, progress=advance)
    context.render(result, lambda r: context.info(f"exported {r['records']} records and {r['media_files']} media files to {r['directory']}"))
