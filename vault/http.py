"""The one retry policy of the vault's HTTP clients: when to try again, and how long to wait first.

Two clients use it: the polite page fetcher of ``vault scrape`` (:class:`vault.importing.scraping.Fetcher`)
and the hosted publish targets' API client (``exporters/targets/host_api.py``, through
:mod:`vault.plugin_api`).  Each sends one request at a time for one person, so the policy is simple:

* **What is retried**: HTTP 429 (the server did not act on the request) for every method; 5xx
  answers (but 501) and transient transport failures (refused or dropped connection, timeout, a body cut
  short) only for idempotent requests, which may be sent twice without harm.  Every other status,
  and a TLS failure, is final: trying again would get the same answer.
* **How often**: ``MAX_ATTEMPTS`` = 4 tries in all.
* **How long to wait** before try ``n + 1`` after failed try ``n``: the server's ``Retry-After``
  when it sends a readable one, else ``BACKOFF_BASE * 2 ** (n - 1)`` (1 s, 2 s, 4 s); never more
  than ``RETRY_AFTER_CAP``.
* **No jitter**: jitter spreads the retries of many clients hit by the same outage; here one
  person's command retries alone, and fixed waits keep the schedule predictable (and testable).

Why a 120 s cap: the hosts' rate limits are counted per minute (Netlify's API, for example), so a
server's ``Retry-After`` up to a full window, with margin, is honoured as asked; a server asking
for longer (an hour-long ban) is not waited for in silence by a command someone is watching: each
retry comes after at most 120 s and, when the tries run out, the command ends with the server's words.

This module never prints, sleeps or sends anything: clients ask it and act.
"""

from __future__ import annotations

import email.utils
import re
from datetime import datetime, timezone

MAX_ATTEMPTS = 4             # per request, the first try included
BACKOFF_BASE = 1.0           # seconds before the first retry; doubled after each failed attempt
RETRY_AFTER_CAP = 120.0      # the longest single wait, whatever the server asks (see the docstring)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

_DELAY_SECONDS = re.compile(r"\d+(\.\d+)?")   # RFC 9110 says digits; a fraction is forgiven


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` header value as seconds to wait from ``now``, capped; None when absent or unreadable.

    RFC 9110 section 10.2.3: either delay-seconds (``"120"``) or an HTTP-date (IMF-fixdate, or
    the obsolete RFC 850 and asctime forms, all GMT).  A date in the past means no wait.
    ``now`` MUST be timezone-aware.
    """
    if not value:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:   # the asctime form carries no zone; HTTP dates are GMT
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def backoff_seconds(attempt: int) -> float:
    """The wait after failed try ``attempt`` (1-based) when the server named none: 1 s, 2 s, 4 s, ... capped."""
    return min(BACKOFF_BASE * 2 ** max(attempt - 1, 0), RETRY_AFTER_CAP)


def retry_wait(attempt: int, retry_after: str | None = None, now: datetime | None = None) -> float:
    """Seconds to wait after failed try ``attempt`` (1-based): the server's ``Retry-After`` when
    readable, else :func:`backoff_seconds`."""
    asked = retry_after_seconds(retry_after, now or datetime.now(timezone.utc))
    return asked if asked is not None else backoff_seconds(attempt)


def retryable_status(status: int, *, idempotent: bool = True) -> bool:
    """Whether an answer with this HTTP status is worth another try.

    429 always (the server refused before acting); 5xx only when the request is idempotent (a
    failing server may have acted on a POST before it failed), except 501 Not Implemented, which
    does not go away by asking again.
    """
    return status == 429 or (idempotent and 500 <= status <= 599 and status != 501)


def transient_error(exc: BaseException, *, idempotent: bool = True) -> bool:
    """Whether a ``requests`` transport failure is worth another try: a refused or dropped
    connection, a timeout or a body cut short, for an idempotent request.  A TLS failure is not
    (it fails the same way each time), nor is anything that is not a ``requests`` failure."""
    if not idempotent:
        return False
    import requests  # imported here: `vault --help` must stay fast

    if isinstance(exc, requests.exceptions.SSLError):
        return False
    return isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                            requests.exceptions.ContentDecodingError))


def is_idempotent(method: str) -> bool:
    """Whether an HTTP method may be sent twice with the same effect as once (RFC 9110 section 9.2.2)."""
    return method.upper() in IDEMPOTENT_METHODS
