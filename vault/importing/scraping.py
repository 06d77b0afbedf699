"""`vault scrape`: capture a public marketplace feedback profile over HTTP, politely.

For eBay the profile is ``BASE/fdbk/feedback_profile/USER?filter=feedback_page:All&page_id=N&limit=25``
(docs/formats/ebay.md, saved feedback-profile pages).  Pages are fetched one at a time:

* a clear User-Agent (``vault/<version> (+personal archive; feedback capture)``);
* a pause between pages (``delay``, 2 s by default);
* timeouts (connect 10 s, read 30 s) and a cap on the size of a page;
* HTTP 429 and 5xx (and dropped connections) are retried with exponential backoff (1 s, 2 s, 4 s;
  4 attempts in all), honouring ``Retry-After`` (seconds or an HTTP date, capped at 120 s);
* pagination stops at a page without rows, a page without a "next" link, or ``max_pages``.

Each raw page becomes a ``CaptureItem`` (stored as an encrypted object) yielded *before* the
ratings read from it; those carry ``provenance = {"url", "capture_sha256", "capture_ref"}`` so each
rating names the exact bytes it came from.  A page the server truncated yields its complete rows
and a ``Skipped`` naming it.

Errors: a failure before any page was captured raises ``RemoteError`` (exit 1) with the server's
status and words; a failure after some pages were captured yields a ``Skipped`` for the failed
page, so what was captured is still committed (exit 3).  A first page that is not a feedback page
raises ``UnsupportedInputError`` (exit 20).

This module never prints.  ``SLEEP`` is the one sleep function used (tests replace it).
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import quote, urlsplit

from .. import __version__
from ..errors import RemoteError, UnsupportedInputError, UsageError
from ..models import Item, Skipped, Warning_

if TYPE_CHECKING:
    from ..repository import Vault
    from .pipeline import Event, ImportReport

DEFAULT_BASE_URL = "https://www.ebay.com"
PAGE_SIZE = 25
TIMEOUT = (10.0, 30.0)            # (connect, read) seconds
MAX_ATTEMPTS = 4                   # per page, the first try included
BACKOFF_BASE = 1.0                 # seconds; doubled after each failed attempt
RETRY_AFTER_CAP = 120.0            # a server asking for longer is not waited for longer
MAX_PAGE_BYTES = 32 * 2**20
SAFETY_MAX_PAGES = 2000            # without --max-pages: 50,000 feedback, far past any profile
RETRYABLE = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))

# The sleep used for politeness delays and backoff.  Tests replace it to record waits instead.
SLEEP: Callable[[float], None] = time.sleep


def user_agent() -> str:
    return f"vault/{__version__} (+personal archive; feedback capture)"


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


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds to wait (capped), or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def server_words(body: bytes, limit: int = 200) -> str:
    """What an error response says, as one short line of text (markup stripped)."""
    text = body[:65536].decode("utf-8", "replace")
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


@dataclass
class Fetched:
    url: str          # the URL asked for
    final_url: str    # after redirects
    body: bytes
    fetched_at: datetime


class Fetcher:
    """GET with timeouts, a size cap, retries and backoff.  ``get`` raises RemoteError when done trying."""

    def __init__(self, session: Any = None, *, sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], datetime] | None = None, max_attempts: int = MAX_ATTEMPTS) -> None:
        import requests  # imported here: `vault --help` must stay fast

        self._requests = requests
        self.session = session or requests.Session()
        self.session.headers.update({
            "User-Agent": user_agent(),
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
            # The page reader understands eBay's English time buckets.
            "Accept-Language": "en-US,en;q=0.8",
        })
        self.sleep = sleep or (lambda s: SLEEP(s))
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.max_attempts = max_attempts
        self.waits: list[float] = []   # every backoff wait, for reports and tests

    def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        if seconds > 0:
            self.sleep(seconds)

    def get(self, url: str) -> Fetched:
        requests = self._requests
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            retry_after = None
            try:
                with self.session.get(url, timeout=TIMEOUT, stream=True, allow_redirects=True) as resp:
                    status = resp.status_code
                    body = self._body(resp, url)
                    if status < 400:
                        return Fetched(url, resp.url or url, body, self.clock())
                    problem = f"HTTP {status} {resp.reason or ''}".rstrip()
                    words = server_words(body)
                    if words and words.lower() != (resp.reason or "").lower():
                        problem += f": {words}"
                    if status not in RETRYABLE:
                        raise RemoteError(f"{url}: {problem}", hint=_hint(status))
                    retry_after = retry_after_seconds(resp.headers.get("Retry-After"), self.clock())
            except requests.exceptions.SSLError as exc:
                raise RemoteError(f"{url}: TLS failed: {_short(exc)}", hint="check --base-url and the system's certificates") from exc
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:
                problem = f"network error: {type(exc).__name__}: {_short(exc)}"
            except requests.RequestException as exc:
                raise RemoteError(f"{url}: request failed: {type(exc).__name__}: {_short(exc)}") from exc
            if attempt < self.max_attempts:
                self._wait(retry_after if retry_after is not None else BACKOFF_BASE * 2 ** (attempt - 1))
        raise RemoteError(f"{url}: {problem} (gave up after {self.max_attempts} attempts)",
                          hint="the server is unavailable or rate-limiting; try again later, with a larger --delay")

    def _body(self, resp: Any, url: str) -> bytes:
        chunks: list[bytes] = []
        total = 0
        for chunk in resp.iter_content(64 * 1024):
            total += len(chunk)
            if total > MAX_PAGE_BYTES:
                raise RemoteError(f"{url}: the response is larger than {MAX_PAGE_BYTES // 2**20} MiB; not a feedback page")
            chunks.append(chunk)
        return b"".join(chunks)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def _hint(status: int) -> str | None:
    if status == 404:
        return "check the user name and --base-url"
    if status in (401, 403):
        return "the server refused the request; the profile may be private, or the site blocks automated access"
    return None


def ebay_feedback_items(
    user: str,
    *,
    importer: Any,
    base_url: str = DEFAULT_BASE_URL,
    max_pages: int | None = None,
    delay: float = 2.0,
    fetcher: Fetcher | None = None,
    on_page: Callable[[int, str, int], None] | None = None,
) -> Iterator[Item]:
    """Fetch the profile's pages and yield, per page, its CaptureItem then its items.

    ``importer`` is the eBay importer (its ``read_page`` reads a page).  ``on_page(n, url,
    ratings)`` is called after each captured page (progress for the command line).
    """
    if max_pages is not None and max_pages < 1:
        raise UsageError("--max-pages must be at least 1")
    if delay < 0:
        raise UsageError("--delay cannot be negative")
    fetcher = fetcher or Fetcher()
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
            moved = f" (redirected to {got.final_url})" if got.final_url != url else ""
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


def scrape_ebay(
    vault: "Vault",
    user: str,
    *,
    base_url: str = DEFAULT_BASE_URL,
    max_pages: int | None = None,
    delay: float = 2.0,
    on_page: Callable[[int, str, int], None] | None = None,
    on_event: Callable[["Event"], None] | None = None,
    fetcher: Fetcher | None = None,
) -> "ImportReport":
    """Capture USER's eBay feedback profile into ``vault`` (the caller holds the exclusive lock).

    Returns the same report as an import; raises RemoteError / UnsupportedInputError when nothing
    could be captured.  Records are committed as one segment, after the raw pages' objects.
    """
    from .. import plugins
    from .pipeline import run_items

    importer = plugins.importers.get("ebay")
    if importer is None or not hasattr(importer, "read_page"):
        problems = "; ".join(plugins.importers.warnings) or "no importer named 'ebay'"
        raise UnsupportedInputError(f"the eBay importer is not available ({problems})")
    label = ebay_profile_url(base_url, user)  # checks USER and --base-url before any work
    if max_pages is not None and max_pages < 1:
        raise UsageError("--max-pages must be at least 1")
    if delay < 0:
        raise UsageError("--delay cannot be negative")
    items = ebay_feedback_items(user, importer=importer, base_url=base_url, max_pages=max_pages, delay=delay,
                                fetcher=fetcher, on_page=on_page)
    return run_items(vault, importer, items, label=label, on_event=on_event)
