"""`vault scrape`: capture a public marketplace feedback profile over HTTP, politely.

The marketplace's importer knows its pages (for eBay, ``importers/ebay/scrape.py``: the profile's
URLs, pagination, when to stop); this module is the HTTP policy it is handed, a ``Fetcher``, and the
run that commits what was captured.  Pages are fetched one at a time:

* a clear User-Agent (``vault/<version> (+personal archive; feedback capture)``);
* a pause between pages (``delay``, 2 s by default);
* timeouts (connect 10 s, read 30 s) and a cap on the size of a page;
* HTTP 429 and 5xx (and dropped connections) are retried by the policy in :mod:`vault.http`:
  4 attempts in all, waiting 1 s, 2 s, 4 s or the server's ``Retry-After`` (capped at 120 s).

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

import html
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from .. import __version__, http
from ..errors import RemoteError, UnsupportedInputError, UsageError

if TYPE_CHECKING:
    from ..repository import Vault
    from .pipeline import Event, ImportReport

TIMEOUT = (10.0, 30.0)            # (connect, read) seconds
MAX_PAGE_BYTES = 32 * 2**20

# The sleep used for politeness delays and backoff.  Tests replace it to record waits instead.
SLEEP: Callable[[float], None] = time.sleep


def user_agent() -> str:
    return f"vault/{__version__} (+personal archive; feedback capture)"


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
                 clock: Callable[[], datetime] | None = None, max_attempts: int = http.MAX_ATTEMPTS) -> None:
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
            retry_after: str | None = None
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
                    if not http.retryable_status(status):
                        raise RemoteError(f"{url}: {problem}", hint=_hint(status))
                    retry_after = resp.headers.get("Retry-After")
            except requests.exceptions.SSLError as exc:
                raise RemoteError(f"{url}: TLS failed: {_short(exc)}", hint="check --base-url and the system's certificates") from exc
            except requests.RequestException as exc:
                if not http.transient_error(exc):
                    raise RemoteError(f"{url}: request failed: {type(exc).__name__}: {_short(exc)}") from exc
                problem = f"network error: {type(exc).__name__}: {_short(exc)}"
            if attempt < self.max_attempts:
                self._wait(http.retry_wait(attempt, retry_after, self.clock()))
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


def scrape_ebay(
    vault: "Vault",
    user: str,
    *,
    base_url: str,
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
    if importer is None or not hasattr(importer, "feedback_items"):
        problems = "; ".join(plugins.importers.warnings) or "no importer named 'ebay'"
        raise UnsupportedInputError(f"the eBay importer is not available ({problems})")
    label = importer.profile_url(base_url, user)  # checks USER and --base-url before any work
    if max_pages is not None and max_pages < 1:
        raise UsageError("--max-pages must be at least 1")
    if delay < 0:
        raise UsageError("--delay cannot be negative")
    items = importer.feedback_items(user, base_url=base_url, max_pages=max_pages, delay=delay,
                                    fetcher=fetcher or Fetcher(), on_page=on_page)
    return run_items(vault, importer, items, label=label, on_event=on_event)
