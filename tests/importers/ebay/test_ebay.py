"""The eBay importer end to end: data-request CSVs, saved pages in both markups, saved API
responses, and how the three forms of one feedback merge (docs/formats/ebay.md)."""

from __future__ import annotations

import hashlib
import os
import zipfile
from datetime import datetime, timezone

import pytest

from tests.support.market_fixtures import NOT_FEEDBACK_PAGE, Fb, card_page, csv_bytes, ebay_zip, getfeedback_xml, read_object, rest_feedback_json, table_page
from vault.errors import ExitCode

SAVED = "Tue Mar 05 2024 14:22:10 GMT+0100 (Central European Standard Time)"  # = 2024-03-05T13:22:10Z
SAVED_ISO = "2024-03-05T13:22:10Z"
TRICKY = 'Fast, "careful" packing,\nwould buy again <script>alert(1)</script>'


def _ratings(vault_env) -> dict[str, dict]:
    return {r["source_id"]: r for r in vault_env.records("--kind", "rating")}


# --- data-request zip ---------------------------------------------------------------------------


def test_data_request_zip_golden(vault_env, tmp_path):
    received = [
        Fb("1001", comment=TRICKY, user="j***e", score=120, reply="Thanks!\nCome back soon"),
        Fb("1002", rating="Neutral", role="Buyer", user="bigshop", score=5000, comment="Tom &amp; Jerry",
           date="2023-01-10T08:00:00.000Z", item_id="998877", title="Chair & table", price="1025.00", currency="EUR"),
        Fb("1003", rating="Negative", comment="never arrived", date="2022-06-01T00:00:00.000Z", item_id="555"),
        Fb("1004", rating="Withdrawn", comment="oops"),
    ]
    left = [Fb("2001", role="Buyer", user="shopkeeper", score=None, comment="Great seller", item_id="424242")]
    export = ebay_zip(tmp_path / "eBay_data_jana_2024-06-01.zip", received, left, wrapper="eBay_data_jana_2024-06-01")
    res = vault_env.run("import", export, "--json")
    assert res.code == 0, res.err
    rep = res.json()
    assert rep["source"] == "ebay"
    assert rep["added"] == {"post": 0, "media": 0, "rating": 4}
    assert rep["skipped"] == []
    assert any("Feedback_Received.csv:row 5" in w and "withdrawn feedback 1004" in w for w in rep["warnings"])

    got = _ratings(vault_env)
    assert set(got) == {"1001", "1002", "1003", "2001"}
    r = got["1001"]
    assert r["comment"] == TRICKY  # quoted comma, quotes and CRLF newline; entities decoded once; <script> verbatim
    assert (r["direction"], r["role"], r["polarity"], r["stars"]) == ("received", "seller", "positive", None)
    assert r["created_at"] == "2024-03-05T14:22:10Z"
    assert r["counterparty"] == "j***e"  # masked names stay masked
    assert (r["item_id"], r["item_title"], r["price"], r["feedback_id"]) == ("123456789012", "Vintage brass lamp", "25.00 USD", "1001")
    assert r["reply"] == "Thanks!\nCome back soon"
    assert r["extra"]["counterparty_score"] == 120
    prov = r["provenance"]
    assert prov["importer"] == "ebay" and prov["export"] == export.name
    assert prov["member"] == "Feedback/Feedback_Received.csv"
    assert prov["export_sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()

    assert got["1002"]["comment"] == "Tom &amp; Jerry"  # "&amp;amp;" in the file: decoded exactly once
    assert got["1002"]["item_title"] == "Chair & table"
    assert (got["1002"]["role"], got["1002"]["polarity"], got["1002"]["price"]) == ("buyer", "neutral", "1025.00 EUR")
    assert got["1003"]["polarity"] == "negative"
    lr = got["2001"]
    assert (lr["direction"], lr["role"], lr["counterparty"]) == ("left", "buyer", "shopkeeper")
    assert lr["provenance"]["member"] == "Feedback/Feedback_Left.csv"

    again = vault_env.run("import", export, "--json").json()
    assert again["added"]["rating"] == 0 and again["unchanged"]["rating"] == 4


def test_reimport_reports_unchanged(vault_env, tmp_path):
    export = ebay_zip(tmp_path / "eBay_data.zip", [Fb("1001"), Fb("1002", comment="ok")])
    assert vault_env.run("import", export).code == 0
    again = vault_env.run("import", export, "--json").json()
    assert again["unchanged"]["rating"] == 2 and again["updated"]["rating"] == 0


def test_columns_are_found_by_name_in_any_order(vault_env, tmp_path):
    header = ["  rating ", "Mystery Column", "COMMENT", "date (utc)", "\ufefffeedback id", "From User", "Role"]
    data = csv_bytes([], header=header, extra_rows=[["Positive", "zzz", "Lovely", "2024-01-02T03:04:05.000Z", "77", "a***b", "seller"]])
    path = tmp_path / "Feedback_Received.csv"
    path.write_bytes(data)
    res = vault_env.run("import", path, "--json")
    assert res.code == 0, res.err
    (r,) = vault_env.records("--kind", "rating")
    assert (r["source_id"], r["comment"], r["created_at"], r["counterparty"], r["role"]) == (
        "77", "Lovely", "2024-01-02T03:04:05Z", "a***b", "seller")


def test_file_without_rating_and_comment_columns_is_refused_with_reason(vault_env, tmp_path):
    path = tmp_path / "Feedback_Received.csv"
    path.write_bytes(csv_bytes([], header=["Feedback ID", "Score", "Text"], extra_rows=[["1", "5", "hi"]]))
    res = vault_env.run("import", path, "--json")
    assert res.code == ExitCode.PARTIAL
    (skipped,) = res.json()["skipped"]
    assert skipped["path"] == "Feedback_Received.csv"
    assert "no Rating and Comment columns" in skipped["reason"] and "Feedback ID, Score, Text" in skipped["reason"]


def test_malformed_row_is_skipped_by_row_number_and_the_rest_imported(vault_env, tmp_path):
    rows = [Fb("1", comment="multi\nline\ncomment"), Fb(None, date="yesterday", comment="bad"), Fb("3", comment="fine")]
    export = ebay_zip(tmp_path / "eBay_data.zip", rows)
    res = vault_env.run("import", export, "--json")
    assert res.code == ExitCode.PARTIAL, res.err
    rep = res.json()
    # The header is row 1; quoted newlines do not shift the numbering.
    assert rep["skipped"] == [{"path": "Feedback/Feedback_Received.csv:row 3",
                               "reason": "unreadable date 'yesterday' and no feedback id: nothing identifies this feedback"}]
    assert rep["added"]["rating"] == 2
    text = vault_env.run("import", export)
    assert text.code == ExitCode.PARTIAL and "Feedback/Feedback_Received.csv:row 3" in text.out


def test_row_without_id_gets_a_stable_content_key(vault_env, tmp_path):
    export = ebay_zip(tmp_path / "eBay_data.zip", [Fb(None, comment="no id here")])
    assert vault_env.run("import", export).code == 0
    (r,) = vault_env.records("--kind", "rating")
    assert r["source_id"].startswith("content:") and r["feedback_id"] is None
    assert vault_env.run("import", export, "--json").json()["unchanged"]["rating"] == 1


# --- saved feedback-profile pages ---------------------------------------------------------------


def _bucket_rows() -> list[Fb]:
    return [
        Fb("3001", comment=TRICKY, bucket="Past month"),
        Fb("3002", rating="Neutral", bucket="Past 6 months", role="Buyer", user="bigshop", score=9999),
        Fb("3003", rating="Negative", bucket="Past year", item_id="111"),
        Fb("3004", bucket="More than a year ago", item_id=None),
    ]


def test_saved_table_page_golden(vault_env, tmp_path):
    page = tmp_path / "Feedback Profile for jana_sells | eBay.html"
    page.write_text(table_page(_bucket_rows(), saved=SAVED), encoding="utf-8")
    res = vault_env.run("import", page, "--json")
    assert res.code == 0, res.err
    assert res.json()["added"]["rating"] == 4
    got = _ratings(vault_env)
    assert set(got) == {"3001", "3002", "3003", "3004"}  # the <tr> inside <script> is not a row
    r = got["3001"]
    assert r["comment"] == TRICKY and r["feedback_id"] == "3001"
    assert (r["counterparty"], r["extra"]["counterparty_score"], r["role"], r["direction"]) == ("j***e", 120, "seller", "received")
    assert (r["item_id"], r["item_title"], r["price"]) == ("123456789012", "Vintage brass lamp", "25.00 USD")
    # Honest approximate dates: the latest moment each bucket allows, relative to the save date.
    expect = {
        "3001": (SAVED_ISO, ["2024-02-05T13:22:10Z", SAVED_ISO], "Past month"),
        "3002": ("2024-02-05T13:22:10Z", ["2023-09-05T13:22:10Z", "2024-02-05T13:22:10Z"], "Past 6 months"),
        "3003": ("2023-09-05T13:22:10Z", ["2023-03-05T13:22:10Z", "2023-09-05T13:22:10Z"], "Past year"),
        "3004": ("2023-03-05T13:22:10Z", [None, "2023-03-05T13:22:10Z"], "More than a year ago"),
    }
    for sid, (created, date_range, bucket) in expect.items():
        rec = got[sid]
        assert rec["created_at"] == created, sid
        assert rec["extra"]["date_range"] == date_range, sid
        assert rec["provenance"]["approximate_time"] == f"{bucket} (relative to 2024-03-05)"
        assert rec["provenance"]["capture_time_source"] == "SingleFile 'saved date' comment"
    assert (got["3002"]["role"], got["3002"]["polarity"], got["3002"]["counterparty"]) == ("buyer", "neutral", "bigshop")
    assert got["3004"]["item_id"] is None and got["3004"]["extra"]["private_listing"] is True
    prov = r["provenance"]
    assert prov["url"] == "https://www.ebay.com/fdbk/feedback_profile/jana_sells"
    assert prov["capture_sha256"] == hashlib.sha256(page.read_bytes()).hexdigest()
    assert prov["captured_at"] == SAVED_ISO
    assert read_object(vault_env.path, vault_env.identity_file, prov["capture_object"]) == page.read_bytes()


def test_saved_card_page_dated_by_file_mtime(vault_env, tmp_path):
    page = tmp_path / "feedback.html"
    page.write_text(card_page(_bucket_rows(), saved=None, saved_from=False), encoding="utf-8")
    mtime = datetime(2024, 1, 15, 12, 0, tzinfo=timezone.utc).timestamp()
    os.utime(page, (mtime, mtime))
    res = vault_env.run("import", page, "--json")
    assert res.code == 0, res.err
    recs = vault_env.records("--kind", "rating")
    assert len(recs) == 4
    by_comment = {(r["polarity"], r["comment"]): r for r in recs}
    r = by_comment[("positive", TRICKY)]
    assert r["source_id"].startswith("card:") and r["feedback_id"] is None
    assert r["created_at"] == "2024-01-15T12:00:00Z"
    assert r["provenance"]["capture_time_source"] == "file modification time"
    assert r["provenance"]["approximate_time"] == "Past month (relative to 2024-01-15)"
    assert (r["counterparty"], r["extra"]["counterparty_score"], r["item_id"]) == ("j***e", 120, "123456789012")
    neutral = by_comment[("neutral", "Great buyer, thanks!")]
    assert (neutral["role"], neutral["counterparty"]) == ("buyer", "bigshop")
    again = vault_env.run("import", page, "--json").json()
    assert again["added"]["rating"] == 0 and again["unchanged"]["rating"] == 4


@pytest.mark.parametrize("container", ["zip", "folder"])
def test_saved_page_inside_a_zip_or_folder(vault_env, tmp_path, container):
    name = "Feedback Profile for jana_sells _ eBay"
    files = {
        f"{name}.html": table_page(_bucket_rows(), saved=SAVED).encode(),
        f"{name}_files/logo.png": b"\x89PNG\r\n\x1a\nnot really",
        f"{name}_files/frame.html": NOT_FEEDBACK_PAGE.encode(),
    }
    if container == "zip":
        target = tmp_path / "pages.zip"
        with zipfile.ZipFile(target, "w") as zf:
            for rel, data in files.items():
                zf.writestr(rel, data)
    else:
        target = tmp_path / "pages"
        for rel, data in files.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(data)
    res = vault_env.run("import", target, "--json")
    assert res.code == 0, res.err
    assert res.json()["source"] == "ebay" and res.json()["added"]["rating"] == 4
    assert {r["provenance"]["member"] for r in vault_env.records("--kind", "rating")} == {f"{name}.html"}


def test_non_feedback_html_is_not_recognised_and_refused_when_forced(vault_env, tmp_path):
    from importers.ebay.importer import EbayImporter
    from vault.importing.archive import ExportSource

    page = tmp_path / "holiday.html"
    page.write_text(NOT_FEEDBACK_PAGE)
    with ExportSource([page]) as src:
        assert EbayImporter().recognize(src) == 0
    res = vault_env.run("import", page, "--source", "ebay")
    assert res.code == ExitCode.UNSUPPORTED_INPUT
    assert "not an eBay feedback page" in res.err
    assert vault_env.run("import", page).code == ExitCode.UNSUPPORTED_INPUT


def test_feedback_page_without_rows_says_the_markup_changed(vault_env, tmp_path):
    page = tmp_path / "feedback.html"
    page.write_text(table_page([], saved=SAVED).replace('<div class="mfyi-score">', "<div>"))
    res = vault_env.run("import", page)
    assert res.code == ExitCode.UNSUPPORTED_INPUT
    assert "no feedback rows were found" in res.err and "markup" in res.err


# --- saved official API responses ---------------------------------------------------------------


def test_trading_api_getfeedback_xml(vault_env, tmp_path):
    path = tmp_path / "GetFeedback_received.xml"
    path.write_bytes(getfeedback_xml([Fb("4001", comment=TRICKY, price="25.0"), Fb("4002", rating="Negative", role="Buyer", user="bigshop")]))
    res = vault_env.run("import", path, "--json")
    assert res.code == 0, res.err
    got = _ratings(vault_env)
    assert got["4001"]["comment"] == TRICKY and got["4001"]["price"] == "25.0 USD"
    assert (got["4001"]["counterparty"], got["4001"]["created_at"], got["4001"]["role"]) == ("j***e", "2024-03-05T14:22:10Z", "seller")
    assert (got["4002"]["polarity"], got["4002"]["role"]) == ("negative", "buyer")


def test_xml_with_doctype_or_entities_is_refused(vault_env, tmp_path):
    path = tmp_path / "GetFeedback.xml"
    path.write_bytes(getfeedback_xml([Fb("4001")], doctype=True))
    res = vault_env.run("import", path, "--json")
    assert res.code == ExitCode.PARTIAL
    (skipped,) = res.json()["skipped"]
    assert skipped["path"] == "GetFeedback.xml" and "DOCTYPE" in skipped["reason"]
    assert vault_env.records("--kind", "rating") == []


def test_rest_feedback_api_json(vault_env, tmp_path):
    path = tmp_path / "feedback_api.json"
    path.write_bytes(rest_feedback_json([Fb("5001", comment=TRICKY), Fb("5002", rating="Neutral", role="Buyer")]))
    res = vault_env.run("import", path, "--json")
    assert res.code == 0, res.err
    got = _ratings(vault_env)
    r = got["5001"]
    assert (r["comment"], r["polarity"], r["role"], r["direction"]) == (TRICKY, "positive", "seller", "received")
    assert (r["item_id"], r["item_title"], r["price"], r["counterparty"]) == ("123456789012", "Vintage brass lamp", "25.00 USD", "j***e")
    assert got["5002"]["role"] == "buyer"


# --- one feedback, three forms ------------------------------------------------------------------


def _same_feedback() -> list[Fb]:
    return [Fb("6001", comment="Super  fast\nshipping", bucket="Past month"),
            Fb("6002", rating="Neutral", comment="Slow", item_id="222", bucket="Past 6 months")]


def test_csv_then_cards_then_table_page_make_no_duplicates(vault_env, tmp_path):
    export = ebay_zip(tmp_path / "eBay_data.zip", _same_feedback())
    cards = tmp_path / "cards.html"
    cards.write_text(card_page(_same_feedback(), saved=SAVED))
    table = tmp_path / "table.html"
    table.write_text(table_page(_same_feedback(), saved=SAVED))
    assert vault_env.run("import", export).code == 0
    rep = vault_env.run("import", cards, "--json").json()
    assert rep["added"]["rating"] == 0 and rep["unchanged"]["rating"] == 2  # poorer copies of known feedback
    assert vault_env.run("import", table).code == 0
    recs = vault_env.records("--kind", "rating")
    assert sorted(r["feedback_id"] for r in recs) == ["6001", "6002"]


def test_cards_then_csv_merge_into_one_record(vault_env, tmp_path):
    cards = tmp_path / "cards.html"
    cards.write_text(card_page(_same_feedback(), saved=SAVED))
    assert vault_env.run("import", cards).code == 0
    assert all(r["feedback_id"] is None for r in vault_env.records("--kind", "rating"))
    rep = vault_env.run("import", ebay_zip(tmp_path / "eBay_data.zip", _same_feedback()), "--json").json()
    assert rep["added"]["rating"] == 0 and rep["updated"]["rating"] == 2
    recs = {r["feedback_id"]: r for r in vault_env.records("--kind", "rating")}
    assert set(recs) == {"6001", "6002"}
    assert recs["6001"]["created_at"] == "2024-03-05T14:22:10Z"  # the exact date replaced the bucket


def test_exact_dates_survive_a_later_page_import(vault_env, tmp_path):
    export = ebay_zip(tmp_path / "eBay_data.zip", _same_feedback())
    table = tmp_path / "table.html"
    table.write_text(table_page(_same_feedback(), saved=SAVED))
    assert vault_env.run("import", export).code == 0
    assert vault_env.run("import", table).code == 0
    recs = {r["feedback_id"]: r for r in vault_env.records("--kind", "rating")}
    assert recs["6001"]["created_at"] == "2024-03-05T14:22:10Z"


def test_two_feedback_on_one_item_with_the_same_words_stay_two(vault_env, tmp_path):
    # A multi-quantity listing: two buyers, or one buyer twice, both writing "A+++".
    rows = [Fb("7001", comment="A+++", user="a***1"), Fb("7002", comment="A+++", user="b***2", date="2024-03-06T10:00:00.000Z")]
    assert vault_env.run("import", ebay_zip(tmp_path / "eBay_data.zip", rows)).code == 0
    assert sorted(r["feedback_id"] for r in vault_env.records("--kind", "rating")) == ["7001", "7002"]


# --- the page reader on its own -----------------------------------------------------------------


def test_months_before_clamps_the_day():
    from importers.ebay.page import months_before

    assert months_before(datetime(2024, 3, 31, tzinfo=timezone.utc), 1) == datetime(2024, 2, 29, tzinfo=timezone.utc)
    assert months_before(datetime(2024, 1, 15, tzinfo=timezone.utc), 12) == datetime(2023, 1, 15, tzinfo=timezone.utc)
    assert months_before(datetime(2024, 5, 31, tzinfo=timezone.utc), 6) == datetime(2023, 11, 30, tzinfo=timezone.utc)


def test_unknown_time_text_is_only_at_or_before_the_save_date():
    from importers.ebay.page import row_time

    at = datetime(2024, 3, 5, 12, tzinfo=timezone.utc)
    t = row_time("Letzter Monat", at)
    assert t.created_at == at and t.date_range == [None, "2024-03-05T12:00:00Z"]
    assert "not a known time bucket" in t.approximate
    exact = row_time("Mar-01-24 10:30", at)
    assert exact.created_at == datetime(2024, 3, 1, 10, 30, tzinfo=timezone.utc) and exact.approximate is None


def test_page_reader_survives_hostile_markup():
    from importers.ebay.page import parse_page

    deep = "<div>" * 50000 + "x"
    page = parse_page(deep)
    assert page.rows == [] and not page.markers
    weird = '<table id="feedback-cards"><tr data-feedback-id="1"><td><div class="card__rating" aria-label="Positive feedback rating">' \
            '</div><div class="card__comment"><span>a</b></i></span></div></td></tr></table>'
    (row,) = parse_page(weird).rows
    assert row.complete and row.polarity == "positive" and row.comment == "a"


def test_a_card_seen_again_does_not_undo_the_csv_merge(vault_env, tmp_path):
    cards = tmp_path / "cards.html"
    cards.write_text(card_page(_same_feedback(), saved=SAVED))
    assert vault_env.run("import", cards).code == 0
    assert vault_env.run("import", ebay_zip(tmp_path / "eBay_data.zip", _same_feedback())).code == 0
    later = tmp_path / "cards-later.html"
    later.write_text(card_page(_same_feedback(), saved="Fri Apr 05 2024 10:00:00 GMT+0000"))
    assert vault_env.run("import", later).code == 0
    recs = {r["feedback_id"]: r for r in vault_env.records("--kind", "rating")}
    assert set(recs) == {"6001", "6002"}
    assert recs["6001"]["created_at"] == "2024-03-05T14:22:10Z"


def test_markers_deep_inside_a_large_saved_page_are_found(tmp_path):
    from importers.ebay.importer import EbayImporter
    from vault.importing.archive import ExportSource

    page = table_page([Fb("1")], saved_from=False).replace("<head>", "<head><script>" + "var cfg='ebay';" * 6000 + "</script>", 1)
    path = tmp_path / "feedback.html"
    path.write_text(page)
    assert "feedback-cards" not in page[:65536] and "data-feedback-id" not in page[:65536]
    with ExportSource([path]) as src:
        assert EbayImporter().recognize(src) == 85
