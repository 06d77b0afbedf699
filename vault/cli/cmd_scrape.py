"""`vault scrape`: capture a public marketplace feedback profile."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import app, context
from .cmd_import import render_import_report

scrape_app = typer.Typer(
    help="Capture a public marketplace feedback profile over HTTP (politely).",
    epilog="Examples:\n\n  vault scrape ebay jana_sells",
    no_args_is_help=True,
)
app.add_typer(scrape_app, name="scrape")


@scrape_app.command(
    "ebay",
    epilog=(
        "Examples:\n\n"
        "  vault scrape ebay jana_sells\n\n"
        "  vault scrape ebay jana_sells --base-url https://www.ebay.co.uk --max-pages 4\n\n"
        "Pages are fetched one at a time with a pause between them, retried with backoff on 429/5xx, "
        "and kept (encrypted) as evidence for each rating.\n\n"
        "Exit codes: 0 captured, 3 some pages or rows could not be read (listed), "
        "1 the site failed before any page was captured, 20 not a feedback page."
    ),
)
def scrape_ebay_cmd(
    user: Annotated[str, typer.Argument(metavar="USER", help="The eBay user id whose feedback profile to capture.")],
    base_url: Annotated[str, typer.Option("--base-url", metavar="URL", help="The site to ask (a mirror, another eBay domain, a test server).")] = "https://www.ebay.com",
    max_pages: Annotated[Optional[int], typer.Option("--max-pages", metavar="N", help="Fetch at most N pages of 25 ratings.", show_default=False)] = None,
    delay: Annotated[float, typer.Option("--delay", metavar="SECONDS", help="Pause between page requests.")] = 2.0,
) -> None:
    """Capture USER's public eBay feedback profile into the vault, without duplicates."""
    from ..importing.scraping import scrape_ebay

    def on_page(n: int, url: str, ratings: int) -> None:
        context.info(f"vault: captured page {n} ({ratings} ratings)")

    with context.open_vault(exclusive=True, unlock=True) as vault:
        report = scrape_ebay(vault, user, base_url=base_url, max_pages=max_pages, delay=delay, on_page=on_page)
    render_import_report(report.to_json())
    context.exit_with(3 if report.skipped else 0)
