"""Marketplace fixtures built at test time: eBay data-request CSVs, saved feedback pages in both
markups, saved API responses, Etsy review responses, and a local HTTP server that plays eBay.

Everything is small and readable on purpose: each builder takes plain ``Fb`` values (what the
feedback *is*) and writes it the way the source represents it (entity-escaped CSV with a BOM and
CRLF, HTML-escaped page markup with ``<br>`` for newlines, namespaced XML, ...).
"""

from __future__ import annotations

import csv
import html
import io
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.builders import write_zip


@dataclass
class Fb:
    """One eBay feedback as it really is (unescaped text)."""

    fid: str | None
    rating: str = "Positive"
    comment: str = "Great buyer, thanks!"
    user: str = "j***e"            # the other party, as eBay shows it (buyers are masked)
    score: int | None = 120
    date: str = "2024-03-05T14:22:10.000Z"
    item_id: str | None = "123456789012"
    title: str | None = "Vintage brass lamp"
    price: str | None = "25.00"
    currency: str | None = "USD"
    role: str = "Seller"           # the OWNER's role
    reply: str | None = None
    bucket: str = "Past month"     # what a feedback page shows instead of the date
    transaction: str | None = None


HEADER_RECEIVED = ["Feedback ID", "Role", "Rating", "Comment", "From User", "From User Feedback Score", "Date (UTC)",
                   "Item ID", "Item Title", "Item Price", "Currency", "Transaction ID", "Reply"]
HEADER_LEFT = ["Feedback ID", "Role", "Rating", "Comment", "To User", "Date (UTC)",
               "Item ID", "Item Title", "Item Price", "Currency", "Transaction ID"]


def _esc(text: str | None) -> str:
    """eBay data is HTML-entity-escaped; CRLF inside a quoted field, as eBay's CSV writer does."""
    return html.escape(text or "").replace("\n", "\r\n")


def csv_bytes(rows: list[Fb], left: bool = False, header: list[str] | None = None, extra_rows: list[list[str]] | None = None) -> bytes:
    """A Feedback CSV: UTF-8 with BOM, CRLF, RFC 4180 quoting."""
    header = header or (HEADER_LEFT if left else HEADER_RECEIVED)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    for fb in rows:
        values = {
            "Feedback ID": fb.fid or "", "Role": fb.role, "Rating": fb.rating, "Comment": _esc(fb.comment),
            "From User": fb.user, "To User": fb.user, "From User Feedback Score": "" if fb.score is None else str(fb.score),
            "Date (UTC)": fb.date, "Item ID": fb.item_id or "", "Item Title": _esc(fb.title), "Item Price": fb.price or "",
            "Currency": fb.currency or "", "Transaction ID": fb.transaction or "", "Reply": _esc(fb.reply),
        }
        w.writerow([values.get(h.strip(), "") for h in header])
    for raw in extra_rows or []:
        w.writerow(raw)
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def ebay_zip(path: Path, received: list[Fb], left: list[Fb] | None = None, wrapper: str | None = None,
             extra: dict[str, bytes] | None = None) -> Path:
    files = {"Feedback/Feedback_Received.csv": csv_bytes(received)}
    if left is not None:
        files["Feedback/Feedback_Left.csv"] = csv_bytes(left, left=True)
    files["Orders/Orders.csv"] = b"\xef\xbb\xbfOrder ID,Total\r\n1,2\r\n"
    files.update(extra or {})
    return write_zip(path, files, wrapper)


# --- saved feedback-profile pages -------------------------------------------------------------


def _page_text(text: str | None) -> str:
    return html.escape(text or "").replace("\n", "<br>")


def _party(fb: Fb) -> str:
    # The owner sold (role Seller) -> the feedback was left by the buyer.
    return "buyer" if fb.role == "Seller" else "seller"


def _item_html_table(fb: Fb) -> str:
    if not fb.item_id:
        return '<div class="card__item"><span>Private listing</span></div>'
    return (f'<div class="card__item"><span>{html.escape(fb.title or "")} (#</span>'
            f'<a href="https://www.ebay.com/itm/{fb.item_id}">{fb.item_id}</a><span>)</span></div>')


def table_row(fb: Fb) -> str:
    score = f" ({fb.score})" if fb.score is not None else ""
    price = f'<div class="card__price"><span>US ${fb.price}</span></div>' if fb.price else ""
    return f"""
      <tr data-feedback-id="{fb.fid}">
        <td>
          <div class="card__feedback-container">
            <div class="card__rating"><svg class="icon icon--{fb.rating.lower()}" aria-label="{fb.rating} feedback rating" role="img"><use href="#icon-{fb.rating.lower()}"/></svg></div>
            <div class="card__feedback">
              <div class="card__comment"><span>{_page_text(fb.comment)}</span></div>
              {_item_html_table(fb)}
            </div>
          </div>
        </td>
        <td>
          <div class="card__from"><span aria-label="Feedback left by {_party(fb)}.">{html.escape(fb.user)}{score}</span></div>
          {price}
        </td>
        <td><div class="card__time"><span>{fb.bucket}</span></div></td>
      </tr>"""


def card_row(fb: Fb) -> str:
    score = f' <span class="fdbk-container__details__info__username__score">({fb.score})</span>' if fb.score is not None else ""
    item = (f'<div class="fdbk-container__details__item-link"><a href="https://www.ebay.com/itm/{fb.item_id}">'
            f'{html.escape(fb.title or "")} (#{fb.item_id})</a></div>') if fb.item_id else \
        '<div class="fdbk-container__details__item-link"><span>Private listing</span></div>'
    return f"""
      <li class="fdbk-container">
        <div class="fdbk-container__details">
          <div class="fdbk-container__details__info">
            <div class="fdbk-container__details__info__icon"><svg data-test-type="{fb.rating.lower()}" aria-label="{fb.rating} Feedback" focusable="false"><use href="#icon-{fb.rating.lower()}-16"></use></svg></div>
            <div class="fdbk-container__details__info__username"><span>{html.escape(fb.user)}{score}</span></div>
            <span class="fdbk-container__details__info__divide">- Feedback left by {_party(fb)}.</span>
            <span class="fdbk-container__details__info__divide__time"><span>{fb.bucket}</span></span>
          </div>
          <div class="fdbk-container__details__comment"><span>{_page_text(fb.comment)}</span></div>
          {item}
        </div>
      </li>"""


def _pagination(user: str, page: int | None, has_next: bool) -> str:
    if page is None:
        return ""
    nxt = (f'<a class="pagination__next" href="/fdbk/feedback_profile/{user}?filter=feedback_page:All&amp;page_id={page + 1}&amp;limit=25" '
           f'aria-label="Go to next page">Next</a>') if has_next else \
        '<button class="pagination__next" aria-disabled="true" aria-label="Go to next page">Next</button>'
    return f'<nav class="pagination" aria-label="Results Pagination - Page {page}"><ol class="pagination__items"><li><a aria-current="page">{page}</a></li></ol>{nxt}</nav>'


def _head(user: str, saved: str | None, saved_from: bool) -> str:
    marks = ""
    if saved_from:
        url = f"https://www.ebay.com/fdbk/feedback_profile/{user}"
        marks += f"<!-- saved from url=({len(url):04d}){url} -->\n"
    if saved:
        marks += (f"<!--\n Page saved with SingleFile \n url: https://www.ebay.com/fdbk/feedback_profile/{user} \n"
                  f" saved date: {saved}\n-->\n")
    return marks


def table_page(rows: list[Fb], *, user: str = "jana_sells", saved: str | None = None, page: int | None = None,
               has_next: bool = False, saved_from: bool = True, score: int = 42) -> str:
    """A feedback profile page in the table markup (~2019-2024)."""
    body = "".join(table_row(fb) for fb in rows)
    return f"""{_head(user, saved, saved_from)}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback Profile for {user} | eBay</title>
<script>window.__fdbk = {{"x": "<tr data-feedback-id=\\"not-a-row\\">"}};</script>
<style>.card__time {{ color: #707070 }}</style></head>
<body>
  <div class="mfyi-score"><span aria-label="Feedback score: {score}">{score}</span> <span>100% positive feedback</span></div>
  <table id="feedback-cards" class="fdbk-detail-list__table">
    <thead><tr><th>Feedback</th><th>From</th><th>When</th></tr></thead>
    <tbody>{body}
    </tbody>
  </table>
  {_pagination(user, page, has_next)}
</body></html>
"""


def card_page(rows: list[Fb], *, user: str = "jana_sells", saved: str | None = None, page: int | None = None,
              has_next: bool = False, saved_from: bool = True) -> str:
    """A feedback profile page in the 2024+ card markup."""
    body = "".join(card_row(fb) for fb in rows)
    return f"""{_head(user, saved, saved_from)}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback Profile for {user} | eBay</title></head>
<body>
  <div class="fdbk-detail-list">
    <ul class="fdbk-detail-list__cards">{body}
    </ul>
  </div>
  {_pagination(user, page, has_next)}
</body></html>
"""


def truncate_in_row(page: str, keep_rows: int, marker: str = "<tr data-feedback-id", cut_at: str = "card__time") -> str:
    """The page cut in the middle of row ``keep_rows + 1`` (as a dropped connection leaves it)."""
    start = page.index("<body")
    for _ in range(keep_rows + 1):
        start = page.index(marker, start) + 1
    return page[:page.index(cut_at, start) - 20]


NOT_FEEDBACK_PAGE = """<!DOCTYPE html>
<html><head><title>My holiday</title></head><body><h1>Photos from Prague</h1><p>Nice trip.</p></body></html>
"""


# --- saved official API responses -------------------------------------------------------------


def getfeedback_xml(details: list[Fb], doctype: bool = False) -> bytes:
    items = []
    for fb in details:
        items.append(f"""
    <FeedbackDetail>
      <CommentingUser>{html.escape(fb.user)}</CommentingUser>
      <CommentingUserScore>{fb.score or 0}</CommentingUserScore>
      <CommentText>{html.escape(html.escape(fb.comment))}</CommentText>
      <CommentTime>{fb.date}</CommentTime>
      <CommentType>{fb.rating}</CommentType>
      <ItemID>{fb.item_id or ""}</ItemID>
      <Role>{fb.role}</Role>
      <ItemTitle>{html.escape(html.escape(fb.title or ""))}</ItemTitle>
      <ItemPrice currencyID="{fb.currency or "USD"}">{fb.price or "0.0"}</ItemPrice>
      <FeedbackID>{fb.fid}</FeedbackID>
      <TransactionID>{fb.transaction or ""}</TransactionID>
    </FeedbackDetail>""")
    dt = '<!DOCTYPE lolz [<!ENTITY lol "lol">]>\n' if doctype else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
{dt}<GetFeedbackResponse xmlns="urn:ebay:apis:eBLBaseComponents">
  <Timestamp>2024-06-01T10:00:00.000Z</Timestamp>
  <Ack>Success</Ack>
  <FeedbackDetailArray>{"".join(items)}
  </FeedbackDetailArray>
  <FeedbackDetailItemTotal>{len(details)}</FeedbackDetailItemTotal>
  <FeedbackScore>42</FeedbackScore>
</GetFeedbackResponse>
""".encode("utf-8")


def rest_feedback_json(entries: list[Fb]) -> bytes:
    out = []
    for fb in entries:
        out.append({
            "feedbackId": fb.fid,
            "commentType": fb.rating.upper(),
            "feedbackComment": {"commentText": html.escape(fb.comment)},
            "feedbackEnteredDate": fb.date,
            "providerUserDetail": {"userId": fb.user, "feedbackScore": fb.score, "role": "BUYER" if fb.role == "Seller" else "SELLER"},
            "orderLineItemSummary": {"listingId": fb.item_id, "listingTitle": fb.title,
                                     "listingPrice": {"value": fb.price, "currency": fb.currency}},
            "automatedFeedback": False,
        })
    return json.dumps({"feedbackEntries": out, "pagination": {"count": len(out), "total": len(out)}}).encode()


# --- Etsy --------------------------------------------------------------------------------------


def etsy_review(transaction_id: int | None, rating: int, review: str | None, *, ts: int = 1709648530,
                buyer: int | None = 4242, listing: int = 777, shop: int = 99, alias: bool = False, **more: Any) -> dict:
    r: dict[str, Any] = {"shop_id": shop, "listing_id": listing, "rating": rating, "review": review, "language": "en",
                         ("created_timestamp" if alias else "create_timestamp"): ts,
                         ("updated_timestamp" if alias else "update_timestamp"): ts}
    if transaction_id is not None:
        r["transaction_id"] = transaction_id
    if buyer is not None:
        r["buyer_user_id"] = buyer
    r.update(more)
    return r


def etsy_json(results: list[dict], count: int | None = None) -> bytes:
    return json.dumps({"count": len(results) if count is None else count, "results": results}).encode()


# --- a local server that plays eBay -----------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)


class FeedbackServer:
    """A ThreadingHTTPServer on 127.0.0.1:<random port>.

    ``routes[page_id]`` is a list of replies served in turn (the last one repeats); a missing
    page gets ``default``.  Every request's path and headers are recorded in ``requests``.
    """

    def __init__(self, routes: dict[int, list[Reply]], default: Reply | None = None) -> None:
        self.routes = {k: list(v) for k, v in routes.items()}
        self.default = default or Reply(404, b"<html><head><title>Not Found</title></head><body>no such page</body></html>")
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                from urllib.parse import parse_qs, urlsplit

                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                server.requests.append({"path": parts.path, "query": query, "headers": dict(self.headers)})
                page = int(query.get("page_id", ["1"])[0])
                queue = server.routes.get(page)
                reply = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else server.default
                body = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "FeedbackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


# --- reading the vault back -------------------------------------------------------------------


def read_object(vault_dir: Path, identity_file: Path, object_id: str) -> bytes:
    """Decrypt one stored object (e.g. a raw captured page) with the vault's identity."""
    from vault.repository import open_vault

    with open_vault(vault_dir) as vault:
        keys = vault.unlock(identity_file)
        return vault.objects.read_bytes(object_id, keys.identity, keys.writer_key)


def open_catalog_summary(vault_dir: Path, identity_file: Path, now=None) -> dict:
    """``reputation.summarize`` over the vault's catalog, with a fixed ``now``."""
    from vault.ratings.reputation import summarize
    from vault.repository import open_vault

    with open_vault(vault_dir) as vault:
        vault.unlock(identity_file)
        return summarize(vault.catalog(), now=now)
