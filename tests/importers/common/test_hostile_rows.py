"""One bad row or record loses only itself: it is skipped and named with its position (row and
byte offset), and every other row, before and after it, is imported."""

from __future__ import annotations

import json
import zipfile

from tests.support.market_fixtures import Fb, csv_bytes, etsy_json, etsy_review


def test_ebay_invalid_utf8_row_after_200_good_rows(vault_env, tmp_path):
    good = [Fb(fid=f"{9000000 + i}", comment=f"Thanks number {i} — great!") for i in range(200)]
    data = csv_bytes(good)
    bad_row = b'9999999,Seller,Positive,"Bad \xff\xfe bytes",x***y,5,2024-03-05T14:22:10.000Z,1,t,1.00,USD,,\r\n'
    later = b'9999998,Seller,Negative,"after the bad row",x***y,5,2024-03-06T14:22:10.000Z,1,t,1.00,USD,,\r\n'
    export = tmp_path / "ebay.zip"
    with zipfile.ZipFile(export, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Feedback/Feedback_Received.csv", data + bad_row + later)
        zf.writestr("Orders/Orders.csv", b"\xef\xbb\xbfOrder ID,Total\r\n1,2\r\n")
    res = vault_env.run("--json", "import", export)
    assert res.code == 3, res.err
    report = res.json()
    assert report["added"]["rating"] == 201  # all 200 before, and the one after
    offset = len(data) + bad_row.index(b"\xff")
    assert report["skipped"] == [{
        "path": "Feedback/Feedback_Received.csv:row 202",
        "reason": f"not UTF-8 text (byte {offset} of the file, line 202); the row was not imported"}]


def test_linkedin_invalid_utf8_row_keeps_every_valid_row(vault_env, tmp_path):
    header = b"\xef\xbb\xbfDate,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\r\n"
    rows = [f'2024-01-{d:02d} 10:00:00,https://www.linkedin.com/feed/update/urn:li:share:{d},"Post {d}\r\non two lines",,,PUBLIC\r\n'.encode()
            for d in range(1, 21)]
    bad = b'2024-02-01 10:00:00,https://www.linkedin.com/feed/update/urn:li:share:99,"caf\xe9 in latin-1",,,PUBLIC\r\n'
    data = header + b"".join(rows[:10]) + bad + b"".join(rows[10:])
    export = tmp_path / "Basic_LinkedInDataExport.zip"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr("Shares.csv", data)
    res = vault_env.run("--json", "import", export)
    assert res.code == 3, res.err
    report = res.json()
    assert report["added"]["post"] == 20
    line = 1 + 10 * 2 + 1  # header, ten two-line rows, then the bad one
    offset = data.index(bad) + bad.index(b"\xe9")
    assert report["skipped"] == [{
        "path": f"Shares.csv:{line}",
        "reason": f"not UTF-8 text (byte {offset} of the file, line {line}); "
                  "the row was not imported"}]


def test_etsy_review_with_invalid_utf8_is_the_only_one_skipped(vault_env, tmp_path):
    reviews = [etsy_review(i, 5, f"MARKER{i}") for i in range(1, 5)]
    data = etsy_json(reviews).replace(b"MARKER2", b"caf\xe9")
    path = tmp_path / "etsy_reviews_mugshop.json"
    path.write_bytes(data)
    offset = data.index(b"\xe9")
    res = vault_env.run("--json", "import", path)
    assert res.code == 3, res.err
    report = res.json()
    assert report["added"]["rating"] == 3
    assert report["skipped"] == [{
        "path": "etsy_reviews_mugshop.json:review 2",
        "reason": f"holds text that is not UTF-8 (byte {offset} of the file); the review was not imported"}]
    assert json.dumps(report)  # the report itself stays valid JSON
