"""The Etsy importer: saved Open API v3 review responses (docs/formats/etsy.md)."""

from __future__ import annotations

import zipfile

from tests.support.market_fixtures import etsy_json, etsy_review
from vault.errors import ExitCode


def _by_source_id(vault_env) -> dict[str, dict]:
    return {r["source_id"]: r for r in vault_env.records("--kind", "rating")}


def test_reviews_golden(vault_env, tmp_path):
    path = tmp_path / "etsy_reviews_mugshop.json"
    path.write_bytes(etsy_json([
        etsy_review(9001, 5, "Lovely mug, thanks O&#39;Connell!"),
        etsy_review(9002, 3, "Shop of O&amp;#39;Connell &lt;script&gt;", buyer=None),   # no buyer id (privacy)
        etsy_review(9003, 1, "", listing=778),                                         # empty text is still a rating
        etsy_review(9004, 4, None, alias=True, ts=1700000000),                          # null text, created_timestamp alias
        etsy_review(9005, 2, "meh"),
    ]))
    res = vault_env.run("import", path, "--json")
    assert res.code == 0, res.err
    rep = res.json()
    assert rep["source"] == "etsy" and rep["added"] == {"post": 0, "media": 0, "rating": 5} and rep["skipped"] == []
    got = _by_source_id(vault_env)
    a = got["9001"]
    assert a["comment"] == "Lovely mug, thanks O'Connell!"
    assert (a["stars"], a["polarity"], a["direction"], a["role"]) == (5, "positive", "received", "seller")
    assert a["created_at"] == "2024-03-05T14:22:10Z"
    assert (a["counterparty"], a["item_id"]) == ("4242", "777")
    assert a["extra"]["transaction_id"] == "9001" and a["extra"]["shop_id"] == "99"
    assert a["provenance"]["member"] == "etsy_reviews_mugshop.json"
    b = got["9002"]
    assert b["comment"] == "Shop of O&#39;Connell <script>"  # decoded exactly once; text kept verbatim
    assert b["counterparty"] is None and "buyer_user_id" not in b["extra"]
    assert (b["stars"], b["polarity"]) == (3, "neutral")
    assert (got["9003"]["comment"], got["9003"]["polarity"]) == (None, "negative")
    assert (got["9004"]["comment"], got["9004"]["created_at"], got["9004"]["polarity"]) == (None, "2023-11-14T22:13:20Z", "positive")
    assert got["9005"]["polarity"] == "negative"

    again = vault_env.run("import", path, "--json").json()
    assert again["added"]["rating"] == 0 and again["unchanged"]["rating"] == 5


def test_review_without_transaction_id_gets_a_stable_content_key(vault_env, tmp_path):
    path = tmp_path / "etsy_reviews_mugshop.json"
    path.write_bytes(etsy_json([etsy_review(None, 4, "no transaction id")]))
    assert vault_env.run("import", path).code == 0
    (r,) = vault_env.records("--kind", "rating")
    assert r["source_id"].startswith("content:")
    assert vault_env.run("import", path, "--json").json()["unchanged"]["rating"] == 1


def test_several_saved_pages_in_a_zip_and_a_short_page_warns(vault_env, tmp_path):
    target = tmp_path / "etsy.zip"
    with zipfile.ZipFile(target, "w") as zf:
        zf.writestr("etsy_reviews_mugshop_1.json", etsy_json([etsy_review(i, 5, f"r{i}") for i in range(1, 4)], count=5))
        zf.writestr("etsy_reviews_mugshop_2.json", etsy_json([etsy_review(i, 4, f"r{i}") for i in range(4, 6)], count=5))
    res = vault_env.run("import", target, "--json")
    assert res.code == 0, res.err
    rep = res.json()
    assert rep["added"]["rating"] == 5
    assert any("holds 3 of the shop's 5 reviews" in w for w in rep["warnings"])


def test_bad_rating_is_skipped_and_the_rest_imported(vault_env, tmp_path):
    path = tmp_path / "etsy_reviews_mugshop.json"
    path.write_bytes(etsy_json([etsy_review(1, 6, "six stars?"), etsy_review(2, 5, "fine")]))
    res = vault_env.run("import", path, "--json")
    assert res.code == ExitCode.PARTIAL
    rep = res.json()
    assert rep["skipped"] == [{"path": "etsy_reviews_mugshop.json:review 1", "reason": "rating 6 is not 1-5 stars"}]
    assert rep["added"]["rating"] == 1


def test_other_json_is_not_etsy(vault_env, tmp_path):
    path = tmp_path / "notes.json"
    path.write_text('{"results": [{"title": "not a review"}]}')
    res = vault_env.run("import", path, "--source", "etsy")
    assert res.code == ExitCode.UNSUPPORTED_INPUT and "not an Etsy reviews file" in res.err
