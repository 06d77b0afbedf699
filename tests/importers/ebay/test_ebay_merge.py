"""One account's feedback from the data request and from a saved profile page, in both orders:
the merge keeps every value the richer copy knew, never a masked name or a null from the page,
and names both sources in the provenance (issue: marketplace merging)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.support.market_fixtures import Fb, card_page, ebay_zip, table_page

SAVED = "Tue Mar 05 2024 14:22:10 GMT+0100 (Central European Standard Time)"  # 2024-03-05T13:22:10Z
NAMES = ["nick_s1990", "tomas88", "alena.k", "bookworm_7", "petr.novak", "xeno42",
         "olga_shop", "radek-m", "hana1", "kuba_2000", "vera_v", "dan_e"]


def _mask(name: str) -> str:
    return f"{name[0]}***{name[-1]}"


def _comment(i: int) -> str:
    # Row 3 has spacing the CSV keeps and a page collapses.
    return "Thanks,  smooth\ndeal   number 3" if i == 3 else f"Thanks, smooth deal number {i}"


def _csv_rows() -> list[Fb]:
    rows = []
    for i, name in enumerate(NAMES):
        rows.append(Fb(str(8000 + i), user=name, score=10 + i, comment=_comment(i),
                       date=f"2024-02-{10 + i:02d}T09:00:00.000Z", item_id=str(4000000 + i), title=f"Item {i}",
                       price=f"{i + 1}.50", transaction=f"T{9100 + i}"))
    return rows


def _page_rows(private: int = 11) -> list[Fb]:
    """What the profile page shows of the same feedback: masked buyers, no transaction ids, and
    row ``private`` as a private listing (no item id, title or price)."""
    out = []
    for i, fb in enumerate(_csv_rows()):
        shown = dataclasses.replace(fb, user=_mask(fb.user), transaction=None, bucket="Past month")
        if i == private:
            shown = dataclasses.replace(shown, item_id=None, title=None, price=None)
        out.append(shown)
    return out


def _by_fid(vault_env) -> dict[str, dict]:
    return {r["feedback_id"]: r for r in vault_env.records("--kind", "rating")}


def _assert_csv_values_kept(got: dict[str, dict]) -> None:
    assert sorted(got) == [str(8000 + i) for i in range(12)]
    for i, name in enumerate(NAMES):
        r = got[str(8000 + i)]
        assert r["counterparty"] == name
        assert r["extra"]["transaction_id"] == f"T{9100 + i}"
        assert (r["item_id"], r["item_title"], r["price"]) == (str(4000000 + i), f"Item {i}", f"{i + 1}.50 USD")
        assert r["created_at"] == f"2024-02-{10 + i:02d}T09:00:00Z"
        # Both import orders end with the CSV's facts only: no page notes (markup, bucket text).
        assert r["extra"] == {"counterparty_score": 10 + i, "transaction_id": f"T{9100 + i}"}
        assert (r["source_id"], r["polarity"], r["role"], r["direction"]) == (str(8000 + i), "positive", "seller", "received")
        assert r["comment"] == _comment(i)
        assert r["raw"]["Transaction ID"] == f"T{9100 + i}"


def _exports(r: dict) -> set[str]:
    prov = r["provenance"]
    seen = [prov, prov.get("last_seen") or {}] + list(prov.get("earlier_seen") or [])
    return {p.get("export") for p in seen if p.get("export")}


@pytest.mark.parametrize("markup", ["table", "cards"])
def test_csv_then_page_keeps_what_the_csv_knew(vault_env, tmp_path, markup):
    export = ebay_zip(tmp_path / "eBay_data_jana_2024-03-06.zip", _csv_rows())
    page = tmp_path / "Feedback Profile for jana_sells | eBay.html"
    page.write_text((table_page if markup == "table" else card_page)(_page_rows(), saved=SAVED), encoding="utf-8")
    assert vault_env.run("import", export).code == 0
    res = vault_env.run("import", page, "--json")
    assert res.code == 0, res.err
    rep = res.json()
    # The page adds nothing the CSV did not know: no new rating, no changed one.
    assert (rep["added"]["rating"], rep["updated"]["rating"], rep["unchanged"]["rating"]) == (0, 0, 12)
    got = _by_fid(vault_env)
    _assert_csv_values_kept(got)
    for r in got.values():
        assert _exports(r) == {export.name, page.name}  # provenance names both sources
    again = vault_env.run("import", page, "--json").json()
    assert again["unchanged"]["rating"] == 12
    assert len(vault_env.records("--kind", "rating")) == 12


@pytest.mark.parametrize("markup", ["table", "cards"])
def test_page_then_csv_ends_with_the_same_values(vault_env, tmp_path, markup):
    page = tmp_path / "Feedback Profile for jana_sells | eBay.html"
    page.write_text((table_page if markup == "table" else card_page)(_page_rows(), saved=SAVED), encoding="utf-8")
    export = ebay_zip(tmp_path / "eBay_data_jana_2024-03-06.zip", _csv_rows())
    assert vault_env.run("import", page).code == 0
    first = vault_env.records("--kind", "rating")
    assert len(first) == 12 and {r["counterparty"] for r in first} == {_mask(n) for n in NAMES}
    res = vault_env.run("import", export, "--json")
    assert res.code == 0, res.err
    rep = res.json()
    assert (rep["added"]["rating"], rep["updated"]["rating"]) == (0, 12)
    got = _by_fid(vault_env)
    _assert_csv_values_kept(got)
    for r in got.values():
        assert _exports(r) == {export.name, page.name}
    # A page seen again later still cannot take anything away.
    later = tmp_path / "later.html"
    later.write_text((table_page if markup == "table" else card_page)(_page_rows(), saved="Fri Mar 08 2024 10:00:00 GMT+0000"))
    assert vault_env.run("import", later).code == 0
    got = _by_fid(vault_env)
    _assert_csv_values_kept(got)
    assert all(_exports(r) == {export.name, page.name, later.name} for r in got.values())


def test_private_listing_card_outside_the_csv_dates_is_a_new_rating(vault_env, tmp_path):
    # Same words and a fitting masked name, but the page says "More than a year ago" while the CSV
    # row is a month old: a different feedback.
    csv_row = _csv_rows()[0]
    card = dataclasses.replace(csv_row, fid=None, user=_mask(csv_row.user), item_id=None, title=None, price=None,
                               bucket="More than a year ago")
    assert vault_env.run("import", ebay_zip(tmp_path / "eBay_data.zip", [csv_row])).code == 0
    page = tmp_path / "cards.html"
    page.write_text(card_page([card], saved=SAVED))
    rep = vault_env.run("import", page, "--json").json()
    assert rep["added"]["rating"] == 1
    assert len(vault_env.records("--kind", "rating")) == 2


def test_private_listing_card_with_another_buyer_is_a_new_rating(vault_env, tmp_path):
    csv_row = _csv_rows()[0]  # nick_s1990
    card = dataclasses.replace(csv_row, fid=None, user="m***0", item_id=None, title=None, price=None)
    assert vault_env.run("import", ebay_zip(tmp_path / "eBay_data.zip", [csv_row])).code == 0
    page = tmp_path / "cards.html"
    page.write_text(card_page([card], saved=SAVED))
    assert vault_env.run("import", page, "--json").json()["added"]["rating"] == 1


def test_merge_rules_directly():
    from vault.ratings.merge import mask_fits, merge_provenance, merge_rating

    assert mask_fits("n***0", "nick_s1990") and not mask_fits("n***1", "nick_s1990") and not mask_fits("m***0", "nick_s1990")
    stored = {"counterparty": "nick_s1990", "feedback_id": "1", "item_id": "9", "price": "1.00 USD", "polarity": "neutral",
              "comment": "Slow  but fine", "created_at": "2024-01-01T00:00:00Z", "extra": {"transaction_id": "T1"},
              "provenance": {"export": "a.zip"}}
    # A newer full copy: a revised rating wins, unknowns and masked names do not.
    rec = {"counterparty": "n***0", "feedback_id": "1", "item_id": None, "price": "", "polarity": "positive",
           "comment": "Slow but fine", "created_at": "2024-01-01T00:00:00Z", "extra": {}, "provenance": {"export": "b.zip"}}
    merge_rating(stored, rec)
    assert (rec["counterparty"], rec["item_id"], rec["price"], rec["polarity"], rec["comment"]) == (
        "nick_s1990", "9", "1.00 USD", "positive", "Slow  but fine")
    assert rec["extra"] == {"transaction_id": "T1"}
    prov, fresh = merge_provenance({"export": "a.zip", "last_seen": {"export": "b.zip"}}, {"export": "c.html"})
    assert fresh and prov["last_seen"] == {"export": "c.html"} and prov["earlier_seen"] == [{"export": "b.zip"}]
    assert merge_provenance(prov, {"export": "b.zip"})[1] is False


def test_etsy_later_response_without_the_buyer_keeps_the_buyer(vault_env, tmp_path):
    from tests.support.market_fixtures import etsy_json, etsy_review

    first = tmp_path / "etsy_reviews_shop.json"
    first.write_bytes(etsy_json([etsy_review(501, 5, "Lovely &amp; fast", buyer=4242)]))
    later = tmp_path / "etsy_reviews_shop_later.json"
    # Saved later: the buyer hid their id (privacy) and edited the review down to 4 stars.
    later.write_bytes(etsy_json([etsy_review(501, 4, "Lovely & fast, one chip", buyer=None, update_timestamp=1712000000)]))
    assert vault_env.run("import", first).code == 0
    rep = vault_env.run("import", later, "--json").json()
    assert (rep["added"]["rating"], rep["updated"]["rating"]) == (0, 1)
    (r,) = vault_env.records("--kind", "rating")
    assert (r["stars"], r["polarity"], r["comment"]) == (4, "positive", "Lovely & fast, one chip")
    assert r["counterparty"] == "4242" and r["extra"]["buyer_user_id"] == "4242"
    assert _exports(r) == {first.name, later.name}


@pytest.mark.parametrize("csv_first", [True, False])
def test_private_listing_card_finds_its_row_among_rows_with_the_same_words(vault_env, tmp_path, csv_first):
    rows = [Fb("9101", user="nick_s1990", comment="A+++", item_id="51", transaction="T1"),
            Fb("9102", user="mira_k1", comment="A+++", item_id="52", transaction="T2"),
            Fb("9103", user="nora_10", comment="A+++", item_id="53", transaction="T3", date="2021-01-01T00:00:00.000Z")]
    card = dataclasses.replace(rows[0], fid=None, user="n***0", item_id=None, title=None, price=None, transaction=None)
    export = ebay_zip(tmp_path / "eBay_data.zip", rows)
    page = tmp_path / "cards.html"
    page.write_text(card_page([card], saved=SAVED))
    for path in ([export, page] if csv_first else [page, export]):
        assert vault_env.run("import", path).code == 0
    got = _by_fid(vault_env)
    assert sorted(got) == ["9101", "9102", "9103"]  # the card added nothing
    r = got["9101"]
    assert (r["counterparty"], r["item_id"], r["extra"]["transaction_id"]) == ("nick_s1990", "51", "T1")
    assert _exports(r) == {export.name, page.name}
    assert _exports(got["9103"]) == {export.name}  # "n***0" fits nora_10 too, but not its 2021 date
