"""Small, realistic sample exports for `vault demo` (built from code, so they ship with the package).

They follow the formats in the project's export reference: a camera roll, a Facebook "Download
Your Information" JSON export (2024 layout, with Meta's mojibake), an eBay data-request zip and an
Etsy reviews file.  Nothing here is real personal data.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path


def _jpeg(color: tuple[int, int, int], size: tuple[int, int] = (320, 240), taken: str | None = None) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(img)
    for i in range(0, size[0], 20):
        draw.line([(i, 0), (size[0] - i, size[1])], fill=tuple(255 - c for c in color), width=2)
    exif = Image.Exif()
    if taken:
        exif[0x8769] = {0x9003: taken, 0x9011: "+01:00"}
        exif[0x8825] = {1: "N", 2: (50.0, 5.0, 0.0), 3: "E", 4: (14.0, 25.0, 0.0)}  # GPS: stripped on publish
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, exif=exif.tobytes() if len(exif) else b"")
    return buf.getvalue()


def _meta(text: str) -> str:
    """Meta's export bug: every UTF-8 byte written as its own code point."""
    return text.encode("utf-8").decode("latin-1")


def camera_roll(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shots = [((180, 90, 40), "2024:05:01 09:12:00"), ((40, 120, 180), "2024:06:15 18:40:00"), ((90, 160, 60), "2024:08:02 07:05:00")]
    for i, (color, taken) in enumerate(shots):
        (root / f"IMG_{2041 + i}.jpg").write_bytes(_jpeg(color, taken=taken))
    return root


def facebook_export(path: Path) -> Path:
    base = "your_facebook_activity/posts"
    photo = f"{base}/media/Mobileuploads_LvJWqglAvA/123456789_10158123456789012_1234567890123456789_n.jpg"
    posts = [
        {
            "timestamp": 1717236000,
            "attachments": [{"data": [{"media": {"uri": photo, "creation_timestamp": 1717236010, "title": "Mobile uploads",
                                                 "description": _meta("Ranní káva u Vltavy ☕")}},
                                      {"place": {"name": _meta("Kavárna Slavia"), "coordinate": {"latitude": 50.0815, "longitude": 14.4137}}}]}],
            "data": [{"post": _meta("Ranní káva u Vltavy ☕ — the best coffee in Prague 👩‍👩‍👧")}],
            "title": _meta("Jana Nováková was at Kavárna Slavia."),
        },
        {
            "timestamp": 1719828000,
            "attachments": [{"data": [{"external_context": {"url": "https://example.org/repair-cafe", "name": "Repair café"}}]}],
            "data": [{"post": "Fixed my grandmother's radio at the repair café today. <b>Not</b> markup, just text."}],
            "title": _meta("Jana Nováková shared a link."),
        },
        {"timestamp": 1722506400, "data": [{"post": _meta("Vintage camera sale this weekend 📷 — all lenses tested.")}],
         "title": _meta("Jana Nováková updated her status.")},
    ]
    profile = {"profile_v2": {"name": {"full_name": _meta("Jana Nováková")}, "username": "jana.novakova"}}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{base}/your_posts__check_ins__photos_and_videos_1.json", json.dumps(posts, indent=2))
        zf.writestr("personal_information/profile_information/profile_information.json", json.dumps(profile, indent=2))
        zf.writestr(photo, _jpeg((200, 150, 90), taken="2024:06:01 09:59:00"))
    return path


def ebay_export(path: Path) -> Path:
    header = ["Feedback ID", "Role", "Rating", "Comment", "From User", "From User Feedback Score", "Date (UTC)",
              "Item ID", "Item Title", "Item Price", "Currency", "Transaction ID", "Reply"]
    rows = [
        ["1873340001", "Seller", "Positive", "Lens arrived perfectly packed, exactly as described. A+++", "p***r", "212",
         "2024-03-05T14:22:10.000Z", "315512340001", "Helios 44-2 58mm f/2 lens", "45.00", "USD", "2488100001", ""],
        ["1873340002", "Seller", "Positive", "Fast shipping, \"mint\" condition,\r\nwould buy again", "k***a", "57",
         "2024-06-18T09:01:44.000Z", "315512340002", "Zenit E film camera body", "60.00", "USD", "2488100002", "Thank you!"],
        ["1873340003", "Seller", "Neutral", "OK but took a week &amp; a half", "m***n", "8",
         "2024-09-30T17:45:00.000Z", "315512340003", "Leather camera strap", "12.50", "USD", "2488100003", ""],
    ]
    left = [["1873349999", "Buyer", "Positive", "Great seller, smooth transaction", "", "", "2024-02-10T10:00:00.000Z",
             "315599990001", "Kodak Portra 400 (5 rolls)", "49.90", "USD", "2488199999", ""]]

    def csv_bytes(head: list[str], data: list[list[str]]) -> bytes:
        import csv

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(head)
        w.writerows(data)
        return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")

    left_header = [h if h != "From User" else "To User" for h in header if h not in ("From User Feedback Score", "Reply")]
    left_rows = [[c for h, c in zip(header, r) if h not in ("From User Feedback Score", "Reply")] for r in left]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Feedback/Feedback_Received.csv", csv_bytes(header, rows))
        zf.writestr("Feedback/Feedback_Left.csv", csv_bytes(left_header, left_rows))
    return path


def etsy_export(path: Path) -> Path:
    results = [
        {"shop_id": 4242, "listing_id": 990001, "transaction_id": 77001, "buyer_user_id": 5101, "rating": 5,
         "review": "Beautiful hand-bound notebook, O&#39;Connell would love it", "language": "en",
         "create_timestamp": 1714000000, "created_timestamp": 1714000000, "update_timestamp": 1714000000, "updated_timestamp": 1714000000},
        {"shop_id": 4242, "listing_id": 990002, "transaction_id": 77002, "rating": 4, "review": None, "language": "en",
         "create_timestamp": 1721000000, "created_timestamp": 1721000000, "update_timestamp": 1721000000, "updated_timestamp": 1721000000},
    ]
    path.write_text(json.dumps({"count": len(results), "results": results}, indent=2), encoding="utf-8")
    return path


def write_all(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    return {
        "files": camera_roll(root / "camera-roll"),
        "facebook": facebook_export(root / "facebook-jana.novakova-2024-09-01-AbCd1234.zip"),
        "ebay": ebay_export(root / "eBay_data_jana_novakova_2024-10-01.zip"),
        "etsy": etsy_export(root / "etsy_reviews_JanaBinds.json"),
    }
