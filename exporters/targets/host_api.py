"""HTTP plumbing shared by the hosted publish targets (Netlify, Neocities): tokens and requests.

Tokens: the OS keyring first (service ``vault``, user names such as ``netlify:SITE_ID``), then an
environment variable.  A missing, locked or failing keyring is skipped (``vault.keys.lookup`` does that,
and honours ``VAULT_NO_KEYRING``).  Tokens are held as :class:`vault.keys.secret.Secret` and go only into
the Authorization header: never into messages, exceptions, reprs or files.

Requests: bounded retries, by the core's one HTTP retry policy (``vault.http``, through the plugin
API): 429 (rate limited: the host did not act on the request) is retried for every method,
honouring ``Retry-After`` (seconds or an HTTP date, capped at 120 s); connection failures and 5xx
answers are retried only for idempotent methods; 4 attempts in all.  Every failure becomes
:class:`~vault.errors.RemoteError` carrying the host's own message, with the token masked.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Sequence

from vault.plugin_api import RETRY_ATTEMPTS, RemoteError, Secret, UsageError, __version__, is_idempotent, keyring_get, retry_wait, retryable_status, transient_error

if TYPE_CHECKING:
    import requests

USER_AGENT = f"vault/{__version__} (personal data vault publisher)"
MAX_ATTEMPTS = RETRY_ATTEMPTS   # per request, the first try included
TIMEOUT = (15.0, 300.0)   # connect, read (a large upload may take a while to be acknowledged)
_MAX_MESSAGE = 400


def find_token(keyring_users: Sequence[str], env_var: str) -> Secret | None:
    """The first of: the keyring entries (service ``vault``) in order, then ``$env_var``."""
    for user in keyring_users:
        found = keyring_get(user)
        if found is not None and found.reveal():
            return found
    value = os.environ.get(env_var, "").strip()
    return Secret(value) if value else None


def require_token(keyring_users: Sequence[str], env_var: str, host: str) -> Secret:
    """Like :func:`find_token`, but a missing token is a UsageError that says where to put one."""
    token = find_token(keyring_users, env_var)
    if token is None:
        raise UsageError(
            f"no {host} token found",
            hint=f"store it in the keyring (`keyring set vault {keyring_users[0]}`) or set {env_var}; never in vault.yaml")
    return token


class HostError(RemoteError):
    """A host answered with an error: its HTTP status and, where it gives one, its error code."""

    def __init__(self, message: str, hint: str | None = None, *, status: int | None = None, error_type: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.error_type = error_type


class HostClient:
    """A small JSON/HTTP client for one host and one token.

    ``request`` MUST either return a response whose status is in ``ok`` or raise RemoteError;
    it MUST NOT retry a non-idempotent request that may have reached the host, except after 429.
    """

    def __init__(self, host: str, base_url: str, token: Secret) -> None:
        self.host = host
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._session: requests.Session | None = None
        self.sleep = time.sleep   # tests may replace it

    def __repr__(self) -> str:
        return f"HostClient({self.host!r}, {self.base_url!r}, token=***)"

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def _secret(self) -> str:
        value = self._token.reveal()
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value

    def _mask(self, text: str) -> str:
        secret = self._secret()
        return text.replace(secret, "***") if len(secret) >= 3 else text

    @staticmethod
    def _body(resp: requests.Response) -> Any:
        try:
            return resp.json()
        except ValueError:
            return None

    def _message(self, resp: requests.Response) -> str:
        """The host's own words: a JSON ``message``/``error_message``/``error``, else the body."""
        text = ""
        body = self._body(resp)
        if isinstance(body, dict):
            for key in ("message", "error_message", "error", "errors"):
                if isinstance(body.get(key), str) and body[key].strip():
                    text = body[key].strip()
                    break
        if not text:
            text = " ".join((resp.text or "").split()) or resp.reason or "no message"
        text = self._mask(text)
        return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."

    def request(self, method: str, path: str, *, what: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> requests.Response:
        """Send ``method path`` with the token; ``what`` names the action for error messages.

        ``data`` may be a callable returning a fresh body (an open file) for each attempt; other
        bodies MUST be re-sendable (bytes, dicts), never an open file.
        """
        import requests

        if self._session is None:
            self._session = requests.Session()
        url = self.url(path)
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("User-Agent", USER_AGENT)
        secret = self._secret

        class Bearer(requests.auth.AuthBase):
            # An auth object rather than a header: with none, requests would let a ~/.netrc
            # entry for the host replace the token.
            def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
                r.headers["Authorization"] = f"Bearer {secret()}"
                return r

        data = kwargs.pop("data", None)
        idempotent = is_idempotent(method)
        last = ""
        resp = None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            body = data() if callable(data) else data
            try:
                resp = self._session.request(method, url, headers=headers, data=body, auth=Bearer(), timeout=TIMEOUT, **kwargs)
            except requests.RequestException as exc:
                last = f"cannot reach {self.host} ({type(exc).__name__})"
                resp = None
                if not transient_error(exc, idempotent=idempotent) or attempt == MAX_ATTEMPTS:
                    raise RemoteError(f"{what}: {last}", hint=f"check the network and {self.base_url}") from None
                self.sleep(retry_wait(attempt))
                continue
            finally:
                if callable(data) and hasattr(body, "close"):
                    body.close()
            if resp.status_code in ok:
                return resp
            last = f"HTTP {resp.status_code}: {self._message(resp)}"
            if not retryable_status(resp.status_code, idempotent=idempotent) or attempt == MAX_ATTEMPTS:
                break
            self.sleep(retry_wait(attempt, resp.headers.get("Retry-After")))
        hint = None
        if last.startswith(("HTTP 401", "HTTP 403")):
            hint = f"check the {self.host} token (keyring or environment variable) and that it may access this site"
        elif last.startswith("HTTP 429"):
            hint = f"{self.host} is rate limiting this account; try again later"
        answer = self._body(resp) if resp is not None else None
        error_type = answer.get("error_type") if isinstance(answer, dict) and isinstance(answer.get("error_type"), str) else None
        raise HostError(f"{self.host} refused {what}: {last}", hint=hint,
                        status=resp.status_code if resp is not None else None, error_type=error_type)

    def json(self, method: str, path: str, *, what: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        resp = self.request(method, path, what=what, ok=ok, **kwargs)
        try:
            return resp.json()
        except ValueError:
            raise RemoteError(f"{self.host} sent an unreadable answer to {what} (HTTP {resp.status_code})") from None
