"""The one HTTP retry policy (vault/http.py) and the two clients that follow it: the scraper's
Fetcher and the hosted targets' HostClient, each against a real server on 127.0.0.1."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from vault import http
from vault.errors import RemoteError
from vault.keys.secret import Secret

NOW = datetime(2015, 10, 21, 7, 27, 30, tzinfo=timezone.utc)


def test_retry_after_delay_seconds_and_the_three_http_date_forms():
    assert http.retry_after_seconds("5", NOW) == 5.0
    assert http.retry_after_seconds(" 7 ", NOW) == 7.0
    assert http.retry_after_seconds("1.5", NOW) == 1.5
    assert http.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", NOW) == 30.0      # IMF-fixdate
    assert http.retry_after_seconds("Wednesday, 21-Oct-15 07:28:10 GMT", NOW) == 40.0  # obsolete RFC 850
    assert http.retry_after_seconds("Wed Oct 21 07:28:20 2015", NOW) == 50.0           # asctime, no zone: GMT
    assert http.retry_after_seconds("Wed, 21 Oct 2015 07:00:00 GMT", NOW) == 0.0       # in the past


def test_retry_after_is_capped_and_unreadable_values_are_none():
    assert http.retry_after_seconds("100000", NOW) == http.RETRY_AFTER_CAP == 120.0
    assert http.retry_after_seconds("1" + "0" * 400, NOW) == 120.0
    assert http.retry_after_seconds("Thu, 22 Oct 2015 07:27:30 GMT", NOW) == 120.0
    for bad in (None, "", "soon", "-5", "5s", "0x10"):
        assert http.retry_after_seconds(bad, NOW) is None, bad


def test_backoff_schedule_and_wait():
    assert [http.backoff_seconds(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert http.backoff_seconds(30) == http.RETRY_AFTER_CAP
    assert http.retry_wait(2, None, NOW) == 2.0
    assert http.retry_wait(2, "soon", NOW) == 2.0       # unreadable: backoff
    assert http.retry_wait(3, "0", NOW) == 0.0          # the server's word wins
    assert http.retry_wait(1, "Wed, 21 Oct 2015 07:28:00 GMT", NOW) == 30.0


def test_which_answers_and_failures_are_retried():
    assert http.retryable_status(429) and http.retryable_status(429, idempotent=False)
    assert all(http.retryable_status(s) for s in (500, 502, 503, 504, 599))
    assert not any(http.retryable_status(s, idempotent=False) for s in (500, 503))
    assert not any(http.retryable_status(s) for s in (200, 301, 400, 401, 403, 404, 409, 422, 501, 600))
    assert http.is_idempotent("get") and http.is_idempotent("PUT") and not http.is_idempotent("POST")
    assert http.transient_error(requests.ConnectionError("refused"))
    assert http.transient_error(requests.ReadTimeout("slow"))
    assert http.transient_error(requests.exceptions.ChunkedEncodingError("cut"))
    assert not http.transient_error(requests.ConnectionError("refused"), idempotent=False)
    assert not http.transient_error(requests.exceptions.SSLError("bad certificate"))
    assert not http.transient_error(requests.exceptions.InvalidURL("no"))
    assert not http.transient_error(ValueError("not HTTP"))


class _Scripted:
    """A server on 127.0.0.1 answering each request with the next (status, headers) in ``script``
    (the last one repeats), and logging ``(method, path)``."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.log: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.log.append((self.command, self.path))
                status, headers = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                body = b'{"message": "scripted answer"}'
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json", "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "_Scripted":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def _client(url: str, waits: list[float]):
    from exporters.targets.host_api import HostClient

    client = HostClient("Host", url, Secret("tok-123456"))
    client.sleep = waits.append
    return client


def test_host_client_retries_a_5xx_get_on_the_shared_schedule():
    waits: list[float] = []
    with _Scripted([(503, {}), (502, {"Retry-After": "3"}), (200, {})]) as srv:
        resp = _client(srv.url, waits).request("GET", "/x", what="listing")
    assert resp.status_code == 200 and len(srv.log) == 3
    assert waits == [1.0, 3.0]


def test_host_client_does_not_repeat_a_post_that_failed_with_5xx_but_does_after_429():
    waits: list[float] = []
    with _Scripted([(500, {})]) as srv:
        with pytest.raises(RemoteError) as err:
            _client(srv.url, waits).request("POST", "/deploys", what="creating a deploy")
    assert len(srv.log) == 1 and waits == [] and "HTTP 500" in err.value.message
    with _Scripted([(429, {"Retry-After": "100000"}), (200, {})]) as srv:
        _client(srv.url, waits).request("POST", "/deploys", what="creating a deploy")
    assert len(srv.log) == 2 and waits == [http.RETRY_AFTER_CAP]


def test_host_client_gives_up_after_the_shared_number_of_attempts():
    waits: list[float] = []
    with _Scripted([(503, {})]) as srv:
        with pytest.raises(RemoteError) as err:
            _client(srv.url, waits).request("PUT", "/file", what="uploading", data=b"x")
    assert len(srv.log) == http.MAX_ATTEMPTS == 4 and waits == [1.0, 2.0, 4.0]
    assert "HTTP 503" in err.value.message and "tok-123456" not in str(err.value)


def test_fetcher_follows_the_same_policy():
    from vault.importing.scraping import Fetcher

    waits: list[float] = []
    with _Scripted([(503, {"Retry-After": "Wed, 21 Oct 2015 07:27:35 GMT"}), (501, {})]) as srv:
        fetcher = Fetcher(sleep=waits.append, clock=lambda: NOW)
        with pytest.raises(RemoteError) as err:
            fetcher.get(srv.url + "/page")
    assert waits == [5.0] and len(srv.log) == 2   # 501 is final
    assert "HTTP 501" in err.value.message
