"""`vault reputation` and ``reputation.summarize``: exact figures on a known set of ratings."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from tests.support.market_fixtures import Fb, card_page, ebay_zip, etsy_json, etsy_review, open_catalog_summary

NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)  # the 12-month window is (2023-06-01, 2024-06-01]


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


@pytest.fixture
def known_set(vault_env, tmp_path):
    """eBay CSV (received and left), a saved card page with approximate dates, and Etsy reviews."""
    received = [
        Fb("R1", date="2024-05-01T00:00:00.000Z", item_id="1"),
        Fb("R2", date="2023-07-01T00:00:00.000Z", item_id="2"),
        Fb("R3", rating="Negative", date="2024-01-10T00:00:00.000Z", item_id="3"),
        Fb("R4", rating="Neutral", date="2023-08-01T00:00:00.000Z", item_id="4"),
        Fb("R5", date="2022-01-01T00:00:00.000Z", item_id="5"),
        Fb("R6", rating="Negative", date="2021-05-05T00:00:00.000Z", item_id="6"),
        Fb("R7", date="2023-06-01T00:00:00.000Z", item_id="7"),  # exactly 12 months before NOW: outside
    ]
    left = [Fb("L1", role="Buyer", date="2024-02-02T00:00:00.000Z", item_id="8"),
            Fb("L2", role="Buyer", date="2020-01-01T00:00:00.000Z", item_id="9")]
    export = ebay_zip(tmp_path / "eBay_data.zip", received, left)
    assert vault_env.run("import", export).code == 0
    page = tmp_path / "feedback.html"
    page.write_text(card_page([Fb(None, comment="card one", item_id="11", bucket="Past month"),
                               Fb(None, rating="Negative", comment="card two", item_id="12", bucket="More than a year ago")],
                              saved="Mon May 20 2024 00:00:00 GMT+0000"))
    assert vault_env.run("import", page).code == 0
    etsy = tmp_path / "etsy_reviews_mugshop.json"
    etsy.write_bytes(etsy_json([
        etsy_review(1, 5, "great", ts=_ts("2024-05-01")),
        etsy_review(2, 5, "super", ts=_ts("2024-04-01")),
        etsy_review(3, 3, "ok", ts=_ts("2023-01-01")),
        etsy_review(4, 1, "bad", ts=_ts("2024-03-01")),
    ]))
    assert vault_env.run("import", etsy).code == 0
    return {"export": export, "page": page, "etsy": etsy}


def counts(p, n, neg):
    return {"positive": p, "neutral": n, "negative": neg, "total": p + n + neg}


def test_figures_are_exact(vault_env, known_set):
    s = open_catalog_summary(vault_env.path, vault_env.identity_file, now=NOW)
    assert s["generated_at"] == "2024-06-01T00:00:00Z"
    assert s["window"] == {"months": 12, "since": "2023-06-01T00:00:00Z", "until": "2024-06-01T00:00:00Z"}
    assert list(s["marketplaces"]) == ["ebay", "etsy"]

    ebay = s["marketplaces"]["ebay"]
    assert ebay["ratings"] == 11
    assert ebay["received"] == counts(5, 1, 3)
    assert ebay["left"] == counts(2, 0, 0)
    assert ebay["percent_positive"] == {"all_time": 62.5, "last_12_months": 75.0}
    assert ebay["last_12_months"] == {"received": counts(3, 1, 1), "left": counts(1, 0, 0), "approximate_dates": 1}
    assert ebay["stars"] is None
    assert ebay["date_range"] == {"oldest": "2020-01-01T00:00:00Z", "newest": "2024-05-20T00:00:00Z"}
    assert (ebay["approximate_dates"], ebay["undated"]) == (2, 0)
    (exp,) = ebay["provenance"]["exports"]
    assert exp["export"] == "eBay_data.zip" and exp["ratings"] == 9 and exp["importer"] == "ebay"
    assert exp["sha256"] == hashlib.sha256(known_set["export"].read_bytes()).hexdigest()
    assert exp["members"] == ["Feedback/Feedback_Left.csv", "Feedback/Feedback_Received.csv"]
    (cap,) = ebay["provenance"]["captures"]
    assert cap["sha256"] == hashlib.sha256(known_set["page"].read_bytes()).hexdigest()
    assert cap["url"] == "https://www.ebay.com/fdbk/feedback_profile/jana_sells"
    assert (cap["captured_at"], cap["ratings"], cap["export"]) == ("2024-05-20T00:00:00Z", 2, "feedback.html")
    assert cap["object"] and cap["time_source"] == "SingleFile 'saved date' comment"

    etsy = s["marketplaces"]["etsy"]
    assert etsy["received"] == counts(2, 1, 1) and etsy["left"] == counts(0, 0, 0)
    assert etsy["percent_positive"] == {"all_time": 66.7, "last_12_months": 66.7}
    assert etsy["last_12_months"]["received"] == counts(2, 0, 1)
    assert etsy["stars"] == {"histogram": {"1": 1, "2": 0, "3": 1, "4": 0, "5": 2}, "count": 4, "mean": 3.5}
    assert etsy["date_range"] == {"oldest": "2023-01-01T00:00:00Z", "newest": "2024-05-01T00:00:00Z"}
    assert etsy["approximate_dates"] == 0
    assert [e["export"] for e in etsy["provenance"]["exports"]] == ["etsy_reviews_mugshop.json"]

    overall = s["overall"]
    assert overall["ratings"] == 15
    assert overall["received"] == counts(7, 2, 4) and overall["left"] == counts(2, 0, 0)
    assert overall["percent_positive"] == {"all_time": 63.6, "last_12_months": 71.4}
    assert overall["stars"] == etsy["stars"]
    assert overall["date_range"] == {"oldest": "2020-01-01T00:00:00Z", "newest": "2024-05-20T00:00:00Z"}
    assert len(overall["provenance"]["exports"]) == 2 and len(overall["provenance"]["captures"]) == 1


def test_window_moves_with_now(vault_env, known_set):
    later = open_catalog_summary(vault_env.path, vault_env.identity_file, now=datetime(2025, 6, 1, tzinfo=timezone.utc))
    ebay = later["marketplaces"]["ebay"]
    assert ebay["last_12_months"]["received"] == counts(0, 0, 0)
    assert ebay["percent_positive"] == {"all_time": 62.5, "last_12_months": None}


def test_cli_json_and_text(vault_env, known_set):
    res = vault_env.run("reputation", "--json")
    assert res.code == 0, res.err
    s = res.json()
    assert set(s) == {"generated_at", "window", "overall", "marketplaces"}
    assert s["marketplaces"]["ebay"]["received"] == counts(5, 1, 3)
    assert s["marketplaces"]["ebay"]["percent_positive"]["all_time"] == 62.5
    text = vault_env.run("reputation")
    assert text.code == 0
    assert "ebay  11 ratings  (2020-01-01 .. 2024-05-20)" in text.out
    assert "received, all time" in text.out and "62.5%" in text.out
    assert "5★ 2" in text.out and "mean 3.50" in text.out
    assert "2 dates are approximate" in text.out
    assert "from export eBay_data.zip" in text.out and "from page https://www.ebay.com/fdbk/feedback_profile/jana_sells" in text.out


def test_empty_vault(vault_env):
    res = vault_env.run("reputation", "--json")
    assert res.code == 0
    s = res.json()
    assert s["marketplaces"] == {}
    assert s["overall"]["ratings"] == 0 and s["overall"]["percent_positive"] == {"all_time": None, "last_12_months": None}
    assert "no ratings yet" in vault_env.run("reputation").out


def test_provenance_counts_every_place_a_rating_was_seen(vault_env, tmp_path):
    """A rating seen in three places (a data-request CSV, a saved page, a newer CSV) keeps the
    middle one in ``earlier_seen``; the summary still names it as evidence of that rating."""
    feedback = [Fb("8001", comment="Perfect, thanks", item_id="31337", bucket="Past month", date="2024-03-01T10:00:00.000Z"),
                Fb("8002", rating="Negative", comment="Broken on arrival", item_id="31338", bucket="Past 6 months",
                   date="2024-01-15T10:00:00.000Z")]
    first = ebay_zip(tmp_path / "eBay_data_2024-03.zip", feedback)
    page = tmp_path / "feedback.html"
    page.write_text(card_page(feedback, saved="Tue Mar 05 2024 14:22:10 GMT+0100"))
    # A later data request holds one more rating (an identical one would be recognised unread).
    newer = ebay_zip(tmp_path / "eBay_data_2024-05.zip", [*feedback, Fb("8003", comment="Fast", item_id="31339", date="2024-05-02T10:00:00.000Z")])
    for export in (first, page, newer):
        assert vault_env.run("import", export).code == 0
    recs = [r for r in vault_env.records("--kind", "rating") if r["feedback_id"] != "8003"]
    assert len(recs) == 2
    for rec in recs:   # the page is neither the first nor the last place: it is in earlier_seen
        prov = rec["provenance"]
        assert prov["export"] == first.name and prov["last_seen"]["export"] == newer.name
        assert [p.get("capture_sha256") for p in prov["earlier_seen"]] == [hashlib.sha256(page.read_bytes()).hexdigest()]

    ebay = open_catalog_summary(vault_env.path, vault_env.identity_file, now=NOW)["marketplaces"]["ebay"]
    assert ebay["ratings"] == 3 and ebay["received"] == counts(2, 0, 1)   # each rating counted once
    assert sorted((e["export"], e["ratings"]) for e in ebay["provenance"]["exports"]) == [(first.name, 2), (newer.name, 3)]
    (cap,) = ebay["provenance"]["captures"]
    assert (cap["sha256"], cap["export"], cap["ratings"]) == (hashlib.sha256(page.read_bytes()).hexdigest(), page.name, 2)
    assert "from page https://www.ebay.com/fdbk/feedback_profile/jana_sells" in vault_env.run("reputation").out
