"""Capturing a public eBay feedback profile page by page (`vault scrape ebay`).

The profile is ``BASE/fdbk/feedback_profile/USER?filter=feedback_page:All&page_id=N&limit=25``
(docs/formats/ebay.md, saved feedback-profile pages).  This module knows eBay's URLs and when to
stop: at a page without rows, a page without a "next" link, a page identical to the one before, or
``max_pages``.  The HTTP itself (User-Agent, pauses, timeouts, retries, the size cap) is the
``Fetcher`` the core hands in, so the importer opens no connection of its own making.

Each raw page becomes a ``CaptureItem`` yielded *before* the ratings read from it.  A failure
before any page was captured raises ``RemoteError``; after some pages, a ``Skipped`` names the
failed page so what was captured is still committed.  A first page that is not a feedback page
raises ``UnsupportedInputError``.  Never prints.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Iterator
from urllib.parse import quote, urlsplit

from vault.plugin_api import Fetcher, Item, RemoteError, Skipped, UnsupportedInputError, UsageError, Warning_

DEFAULT_BASE_URL = "https://www.ebay.com"
PAGE_SIZE = 25
SAFETY_MAX_PAGES = 2000            # without --max-pages: 50,000 feedback, far past any profile


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; UsageError unless it is http(s)://host[...]."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(f"not a base URL: {base_url!r}", hint="give scheme and host, e.g. --base-url https://www.ebay.co.uk")
    return base_url.strip().rstrip("/")


def check_user(user: str) -> str:
    user = user.strip()
    if not user or len(user) > 64 or any(ch.isspace() or not ch.isprintable() for ch in user):
        raise UsageError(f"not an eBay user name: {user!r}", hint="give the user id shown on the profile, e.g. `vault scrape ebay jana_sells`")
    return user


def ebay_profile_url(base_url: str, user: str) -> str:
    return f"{check_base_url(base_url)}/fdbk/feedback_profile/{quote(check_user(user), safe='')}"


def ebay_page_url(base_url: str, user: str, page: int) -> str:
    return f"{ebay_profile_url(base_url, user)}?filter=feedback_page:All&page_id={page}&limit={PAGE_SIZE}"


def ebay_feedback_items(
    user: str,
    *,
    importer: Any,
    fetcher: Fetcher,
    base_url: str = DEFAULT_BASE_URL,
    max_pages: int | None = None,
    delay: float = 2.0,
    on_page: Callable[[int, str, int], None] | None = None,
) -> Iterator[Item]:
    """Fetch the profile's pages and yield, per page, its CaptureItem then its items.

    ``importer`` is the eBay importer (its ``read_page`` reads a page); ``fetcher`` is the core's
    polite HTTP client (User-Agent, timeouts, retries with backoff, a size cap).  ``on_page(n, url,
    ratings)`` is called after each captured page (progress for the command line).
    """
    _check_options(max_pages, delay)
    limit = max_pages or SAFETY_MAX_PAGES
    captured = 0
    previous: str | None = None
    for n in range(1, limit + 1):
        url = ebay_page_url(base_url, user, n)
        if n > 1 and delay > 0:
            fetcher.sleep(delay)
        try:
            got = fetcher.get(url)
        except RemoteError as exc:
            if captured == 0:
                raise
            yield Skipped(url, f"{exc.message.removeprefix(url + ': ')}; the {captured} page(s) before it were captured, later pages were not")
            return
        digest = hashlib.sha256(got.body).hexdigest()
        if digest == previous:
            yield Warning_(f"page {n} is identical to page {n - 1} (the site ignores page_id?); stopping", path=url)
            return
        previous = digest
        result = importer.read_page(got.body, url=url, captured_at=got.fetched_at, ref=url)
        if result.rows == 0:
            yield from _without_rows(result, n, url, got.final_url, captured)
            return
        captured += 1
        yield from result.items
        if on_page:
            on_page(n, url, result.ratings)
        if result.truncated:
            return  # its Skipped is among the items; what follows it cannot be trusted to line up
        if not result.has_next:
            if result.rows >= PAGE_SIZE:
                yield Warning_(f"page {n} is full but shows no link to a next page; stopped there "
                               "(eBay may have changed its pagination)", path=url)
            return
    if max_pages is None:
        yield Warning_(f"stopped after {SAFETY_MAX_PAGES} pages; use --max-pages to go further", path=ebay_profile_url(base_url, user))


def _check_options(max_pages: int | None, delay: float) -> None:
    if max_pages is not None and max_pages < 1:
        raise UsageError("--max-pages must be at least 1")
    if delay < 0:
        raise UsageError("--delay cannot be negative")


def _without_rows(result: Any, n: int, url: str, final_url: str, captured: int) -> Iterator[Item]:
    """What a page without feedback rows means, the capture stopping there: past the last page
    (nothing), a sign-in or challenge page after some pages (a Skipped), an empty profile (a
    warning); on the first page, anything else raises UnsupportedInputError."""
    moved = f" (redirected to {final_url})" if final_url != url else ""
    if n > 1:
        if not result.feedback_page:
            # A sign-in or challenge page in the middle: say so rather than stop quietly.
            yield Skipped(url, f"not a feedback page{moved}; the {captured} page(s) before it were captured, later pages were not")
        return  # otherwise: past the last page
    if result.empty_profile:
        yield Warning_("the profile shows no feedback", path=url)
        return
    if result.feedback_page:
        raise UnsupportedInputError(
            f"{url}: this looks like an eBay feedback page, but no feedback rows were found{moved}; "
            "eBay has probably changed the page markup",
            hint="please report it; meanwhile save the page from a browser or request your eBay data",
        )
    raise UnsupportedInputError(
        f"{url}: not an eBay feedback page{moved}",
        hint="check the user name and --base-url; the site may have answered with a sign-in or challenge page",
    )
