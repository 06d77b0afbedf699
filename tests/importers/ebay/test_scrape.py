"""`vault scrape ebay USER` against a local server that plays eBay: pagination, politeness,
retries, failures, truncation, raw-page provenance, and dedup with exports and saved pages."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.market_fixtures import NOT_FEEDBACK_PAGE, Fb, FeedbackServer, Reply, card_page, ebay_zip, read_object, table_page, truncate_in_row
from vault import __version__
from vault.errors import ExitCode
from vault.importing import scraping

USER = "jana_sells"


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """Every sleep the scraper asks for, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(scraping, "SLEEP", recorded.append)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return recorded


def _pages(n_pages: int, per_page: int = 3, markup=table_page) -> list[str]:
    out = []
    for p in range(1, n_pages + 1):
        rows = [Fb(str(p * 100 + i), comment=f"page {p} row {i}", item_id=str(900000 + p * 100 + i)) for i in range(1, per_page + 1)]
        out.append(markup(rows, user=USER, page=p, has_next=p < n_pages, saved_from=False))
    return out


def _scrape(vault_env, server, *more) -> object:
    return vault_env.run("scrape", "ebay", USER, "--base-url", server.base_url, "--delay", "0", "--json", *more)


def test_three_pages_are_captured_with_their_provenance(vault_env, waits):
    pages = _pages(3)
    with FeedbackServer({1: [Reply(body=pages[0])], 2: [Reply(body=pages[1])], 3: [Reply(body=pages[2])]}) as srv:
        before = datetime.now(timezone.utc).replace(microsecond=0)
        res = vault_env.run("scrape", "ebay", USER, "--base-url", srv.base_url + "/", "--delay", "0.25", "--json")
    assert res.code == 0, res.err
    rep = res.json()
    assert rep["source"] == "ebay" and rep["export"] == f"{srv.base_url}/fdbk/feedback_profile/{USER}"
    assert rep["added"] == {"post": 0, "media": 0, "rating": 9} and rep["skipped"] == []
    assert waits == [0.25, 0.25]  # a pause between pages, none before the first
    assert [r["query"]["page_id"] for r in srv.requests] == [["1"], ["2"], ["3"]]
    for r in srv.requests:
        assert r["path"] == f"/fdbk/feedback_profile/{USER}"
        assert r["query"]["filter"] == ["feedback_page:All"] and r["query"]["limit"] == ["25"]
        assert r["headers"]["User-Agent"] == f"vault/{__version__} (+personal archive; feedback capture)"

    recs = vault_env.records("--kind", "rating")
    assert len(recs) == 9
    objects: dict[str, bytes] = {}
    for rec in recs:
        page_no = int(rec["source_id"]) // 100
        url = f"{srv.base_url}/fdbk/feedback_profile/{USER}?filter=feedback_page:All&page_id={page_no}&limit=25"
        prov = rec["provenance"]
        raw = pages[page_no - 1].encode()
        assert prov["url"] == url and prov["member"] is None
        assert prov["capture_sha256"] == hashlib.sha256(raw).hexdigest()
        stored = vault_env.path / "objects" / prov["capture_object"][:2] / prov["capture_object"][2:4] / prov["capture_object"]
        assert stored.read_bytes().startswith(b"age-encryption.org/v1")  # encrypted at rest
        objects[prov["capture_object"]] = raw
        assert prov["capture_time_source"] == "live capture"
        assert prov["approximate_time"].startswith("Past month (relative to ")
        created = datetime.fromisoformat(rec["created_at"].replace("Z", "+00:00"))
        assert before - timedelta(seconds=5) <= created <= datetime.now(timezone.utc)
        assert rec["comment"] == f"page {page_no} row {int(rec['source_id']) % 100}"
    assert len(objects) == 3  # one stored object per page, holding exactly the bytes served
    for object_id, raw in objects.items():
        assert read_object(vault_env.path, vault_env.identity_file, object_id) == raw


def test_429_with_retry_after_then_success(vault_env, waits):
    (page,) = _pages(1)
    routes = {1: [Reply(429, "<title>Too many requests</title>", {"Retry-After": "1"}), Reply(body=page)]}
    with FeedbackServer(routes) as srv:
        res = _scrape(vault_env, srv)
    assert res.code == 0, res.err
    assert waits == [1.0] and len(srv.requests) == 2
    assert res.json()["added"]["rating"] == 3


def test_500_then_success_backs_off(vault_env, waits):
    (page,) = _pages(1)
    with FeedbackServer({1: [Reply(500, "<title>Oops</title>"), Reply(body=page)]}) as srv:
        res = _scrape(vault_env, srv)
    assert res.code == 0, res.err
    assert waits == [1.0] and len(srv.requests) == 2


def test_persistent_500_is_an_error_with_the_servers_words(vault_env, waits):
    with FeedbackServer({1: [Reply(500, "<html><head><title>Internal trouble at the mill</title></head></html>")]}) as srv:
        res = _scrape(vault_env, srv)
    assert res.code == ExitCode.UNEXPECTED
    err = json.loads(res.err)
    assert err["type"] == "RemoteError"
    assert "HTTP 500" in err["error"] and "Internal trouble at the mill" in err["error"] and "gave up after 4 attempts" in err["error"]
    assert len(srv.requests) == 4 and waits == [1.0, 2.0, 4.0]
    assert vault_env.records("--kind", "rating") == []


def test_404_is_not_retried(vault_env, waits):
    with FeedbackServer({}) as srv:
        res = vault_env.run("scrape", "ebay", "nobody", "--base-url", srv.base_url, "--delay", "0")
    assert res.code == ExitCode.UNEXPECTED
    assert "HTTP 404" in res.err and "no such page" in res.err and "check the user name" in res.err
    assert len(srv.requests) == 1 and waits == []


def test_failure_after_a_captured_page_keeps_what_was_captured(vault_env, waits):
    pages = _pages(2)
    with FeedbackServer({1: [Reply(body=pages[0])], 2: [Reply(503, "<title>Service Unavailable</title>")]}) as srv:
        res = _scrape(vault_env, srv)
    assert res.code == ExitCode.PARTIAL, res.err
    rep = res.json()
    (skipped,) = rep["skipped"]
    assert skipped["path"].endswith("page_id=2&limit=25")
    assert "HTTP 503" in skipped["reason"] and "the 1 page(s) before it were captured" in skipped["reason"]
    assert rep["added"]["rating"] == 3
    assert len(vault_env.records("--kind", "rating")) == 3


def test_truncated_page_keeps_its_complete_rows(vault_env, waits):
    (page,) = _pages(1)
    cut = truncate_in_row(page, keep_rows=2)
    with FeedbackServer({1: [Reply(body=cut)]}) as srv:
        res = _scrape(vault_env, srv)
    assert res.code == ExitCode.PARTIAL, res.err
    rep = res.json()
    assert rep["added"]["rating"] == 2
    (skipped,) = rep["skipped"]
    assert skipped["path"].endswith("page_id=1&limit=25")
    assert skipped["reason"] == "page truncated: 2 complete row(s) read, 1 incomplete row(s) not read"


def test_a_page_that_is_not_feedback_is_refused(vault_env, waits):
    with FeedbackServer({1: [Reply(body=NOT_FEEDBACK_PAGE)]}) as srv:
        res = _scrape(vault_env, srv)
    assert res.code == ExitCode.UNSUPPORTED_INPUT
    assert "not an eBay feedback page" in json.loads(res.err)["error"]


def test_max_pages_stops_early(vault_env, waits):
    pages = _pages(3)
    pages[2] = table_page([Fb("301")], user=USER, page=3, has_next=True)
    with FeedbackServer({i + 1: [Reply(body=p)] for i, p in enumerate(pages)}) as srv:
        res = _scrape(vault_env, srv, "--max-pages", "2")
    assert res.code == 0, res.err
    assert len(srv.requests) == 2 and res.json()["added"]["rating"] == 6


def test_bad_base_url_is_a_usage_error(vault_env):
    res = vault_env.run("scrape", "ebay", USER, "--base-url", "ftp://example.org")
    assert res.code == ExitCode.USAGE and "not a base URL" in res.err


# --- one feedback from three places -------------------------------------------------------------


def _feedback() -> list[Fb]:
    return [Fb("8001", comment="Perfect\n  thanks", item_id="31337", bucket="Past month"),
            Fb("8002", rating="Negative", comment="Broken on arrival", item_id="31338", bucket="Past 6 months")]


def test_csv_then_saved_cards_then_live_scrape_make_no_duplicates(vault_env, waits, tmp_path):
    saved = tmp_path / "feedback.html"
    saved.write_text(card_page(_feedback(), saved="Tue Mar 05 2024 14:22:10 GMT+0100"))
    assert vault_env.run("import", ebay_zip(tmp_path / "eBay_data.zip", _feedback())).code == 0
    assert vault_env.run("import", saved).code == 0
    with FeedbackServer({1: [Reply(body=card_page(_feedback(), user=USER, page=1, saved_from=False))]}) as srv:
        res = _scrape(vault_env, srv)
    assert res.code == 0, res.err
    assert res.json()["added"]["rating"] == 0
    recs = vault_env.records("--kind", "rating")
    assert sorted(r["feedback_id"] for r in recs) == ["8001", "8002"]
    assert {r["created_at"] for r in recs} == {"2024-03-05T14:22:10Z"}  # the export's exact dates stand


def test_live_scrape_then_saved_cards_then_csv_make_no_duplicates(vault_env, waits, tmp_path):
    with FeedbackServer({1: [Reply(body=card_page(_feedback(), user=USER, page=1, saved_from=False))]}) as srv:
        assert _scrape(vault_env, srv).code == 0
    saved = tmp_path / "feedback.html"
    saved.write_text(card_page(_feedback(), saved="Tue Mar 05 2024 14:22:10 GMT+0100"))
    assert vault_env.run("import", saved).code == 0
    assert len(vault_env.records("--kind", "rating")) == 2
    rep = vault_env.run("import", ebay_zip(tmp_path / "eBay_data.zip", _feedback()), "--json").json()
    assert rep["added"]["rating"] == 0 and rep["updated"]["rating"] == 2
    recs = vault_env.records("--kind", "rating")
    assert sorted(r["feedback_id"] for r in recs) == ["8001", "8002"]
    assert {r["created_at"] for r in recs} == {"2024-03-05T14:22:10Z"}


def test_a_challenge_page_in_the_middle_is_reported_not_taken_for_the_end(vault_env, waits):
    pages = _pages(2)
    with FeedbackServer({1: [Reply(body=pages[0])], 2: [Reply(body=NOT_FEEDBACK_PAGE)]}) as srv:
        res = _scrape(vault_env, srv)
    assert res.code == ExitCode.PARTIAL, res.err
    (skipped,) = res.json()["skipped"]
    assert skipped["path"].endswith("page_id=2&limit=25") and skipped["reason"].startswith("not a feedback page")
    assert len(vault_env.records("--kind", "rating")) == 3
