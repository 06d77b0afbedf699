"""Etsy reviews: docs/formats/etsy.md.

Reads saved Open API v3 review responses (``getReviewsByShop`` / ``getReviewsByListing``):
``{"count": n, "results": [TransactionReview, ...]}``, saved as ``etsy_reviews_<shop>.json``; several
saved pages of one shop (the API pages by at most 100) can be imported together from a folder or
zip.  A bare list of reviews, or a single review object, is accepted too.

Every review is a rating the shop owner received as seller: ``stars`` is Etsy's 1-5 ``rating`` and
``polarity`` follows from it (4-5 positive, 3 neutral, 1-2 negative).  The dedup key is
``transaction_id``; a review without one gets a content key.  ``review`` text may be empty or null (it
is still a rating), ``buyer_user_id`` may be absent (privacy), and the time is ``create_timestamp``
or its alias ``created_timestamp`` (epoch seconds).  Etsy strings carry HTML entities
(etsy/open-api#446): they are decoded exactly once, so ``O&#39;Connell`` becomes ``O'Connell`` and
``O&amp;#39;Connell`` becomes ``O&#39;Connell``.
"""

from __future__ import annotations

import hashlib
import html
import json
import posixpath
from typing import Any, Iterator

from vault.plugin_api import ArchiveMemberError, Item, RatingItem, Skipped, UnsupportedInputError, Warning_, from_epoch, iso, polarity_from_stars

SNIFF_BYTES = 64 * 1024
MAX_FILE_BYTES = 256 * 2**20
MAX_SNIFF = 200  # JSON members recognize() looks into
_REVIEW_KEYS = ("transaction_id", "shop_id", "listing_id", "buyer_user_id", "rating")


def _looks_etsy(head: str) -> bool:
    if not head.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        return False
    hits = sum(1 for k in _REVIEW_KEYS if f'"{k}"' in head)
    return '"rating"' in head and hits >= 3


def _reviews(doc: Any) -> list[Any] | None:
    if isinstance(doc, dict):
        if "results" in doc:
            results = doc["results"]
            if isinstance(results, dict):
                return [results]  # a single object where a list was expected
            return results if isinstance(results, list) else []
        if "rating" in doc and ("transaction_id" in doc or "shop_id" in doc):
            return [doc]
        return None
    if isinstance(doc, list):
        return doc
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    out = html.unescape(str(value)).replace("\r\n", "\n")
    return out if out.strip() else None


def _id(value: Any) -> str | None:
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    text = str(value).strip()
    return text or None


class EtsyImporter:
    name = "etsy"
    version = "1"
    description = "Etsy reviews: saved Open API v3 review responses"
    reads = 'etsy_reviews_<shop>.json: {"count", "results": [TransactionReview]} (one or more saved pages)'

    def recognize(self, src) -> int:
        seen = 0
        for entry in src.entries:
            if not _candidate(entry.path):
                continue
            seen += 1
            if seen > MAX_SNIFF:
                break  # cheap on exports with thousands of JSON files (Facebook, X)
            head = _head(entry)
            if head is not None and _looks_etsy(head):
                return 90
        return 0

    def read(self, src) -> Iterator[Item]:
        found = False
        candidates = [entry for entry in src.entries if _candidate(entry.path)]
        for entry in candidates:
            head = _head(entry)
            if head is None or not _looks_etsy(head):
                continue
            found = True
            # A file an earlier import read is skipped (a review in two files counts once).
            if not src.unchanged(entry, depends=candidates):
                yield from self._file(entry)
        if not found:
            raise UnsupportedInputError(
                f"{src.display_name}: not an Etsy reviews file",
                hint='expected a saved Open API v3 response: {"count": n, "results": [{"transaction_id": ..., "rating": ...}]}',
            )

    def _file(self, entry) -> Iterator[Item]:
        label = entry.rel
        try:
            data = entry.read_bytes(MAX_FILE_BYTES)
        except ArchiveMemberError as exc:
            yield Skipped(label, exc.message)
            return
        # Bytes that are not UTF-8 spoil only the reviews holding them: they are decoded as lone
        # surrogates, and those reviews are skipped below with the offset of their first bad byte.
        bad_bytes = _undecodable_offsets(data)
        try:
            doc = json.loads(data.decode("utf-8-sig", "surrogateescape"))
        except (ValueError, RecursionError) as exc:
            yield Skipped(label, f"not valid JSON: {exc}")
            return
        reviews = _reviews(doc)
        if reviews is None:
            yield Skipped(label, "no review results in this JSON")
            return
        count = doc.get("count") if isinstance(doc, dict) else None
        if isinstance(count, int) and not isinstance(count, bool) and count > len(reviews):
            yield Warning_(f"holds {len(reviews)} of the shop's {count} reviews (the API returns at most 100 "
                           "per page; save every page with offset=100, 200, ... and import them together)", path=label)
        for i, review in enumerate(reviews, 1):
            spoiled = _surrogates_in(review)
            if spoiled:
                first, bad_bytes = bad_bytes[:1], bad_bytes[spoiled:]
                where = f" (byte {first[0]} of the file)" if first else ""
                yield Skipped(f"{label}:review {i}", f"holds text that is not UTF-8{where}; the review was not imported")
                continue
            yield self._review(review, f"{label}:review {i}", entry.rel)

    def _review(self, review: Any, where: str, member: str) -> Item:
        if not isinstance(review, dict):
            return Skipped(where, "not a review object")
        rating = review.get("rating")
        stars = rating if isinstance(rating, int) and not isinstance(rating, bool) else None
        if stars is None and isinstance(rating, str) and rating.strip().isdigit():
            stars = int(rating.strip())
        if stars is None or not 1 <= stars <= 5:
            return Skipped(where, f"rating {rating!r} is not 1-5 stars")
        created = from_epoch(review.get("create_timestamp", review.get("created_timestamp")))
        comment = _text(review.get("review"))
        transaction_id = _id(review.get("transaction_id"))
        buyer = _id(review.get("buyer_user_id"))
        listing = _id(review.get("listing_id"))
        shop = _id(review.get("shop_id"))
        if transaction_id is None and created is None:
            return Skipped(where, "no transaction_id and no timestamp: nothing identifies this review")
        source_id = transaction_id or "content:" + hashlib.sha256(
            "\x1f".join([shop or "", listing or "", buyer or "", iso(created) or "", " ".join((comment or "").split())]).encode()
        ).hexdigest()
        extra: dict[str, Any] = {}
        for key, value in (("transaction_id", transaction_id), ("shop_id", shop), ("buyer_user_id", buyer)):
            if value:
                extra[key] = value
        for key in ("language", "image_url_fullxfull"):
            if isinstance(review.get(key), str) and review[key]:
                extra[key] = review[key]
        updated = from_epoch(review.get("update_timestamp", review.get("updated_timestamp")))
        if updated and updated != created:
            extra["updated_at"] = iso(updated)
        return RatingItem(
            direction="received",
            polarity=polarity_from_stars(stars),  # type: ignore[arg-type]
            source_id=source_id,
            created_at=created,
            role="seller",
            stars=stars,
            comment=comment,
            counterparty=buyer,
            item_id=listing,
            member=member,
            extra=extra,
            raw=review,
        )


def _undecodable_offsets(data: bytes) -> list[int]:
    """File offsets of the bytes that are not UTF-8, in order."""
    offsets: list[int] = []
    pos = 0
    while True:
        try:
            data[pos:].decode("utf-8")
            return offsets
        except UnicodeDecodeError as exc:
            offsets.extend(range(pos + exc.start, pos + exc.end))
            pos += exc.end


def _surrogates_in(value: Any) -> int:
    """How many lone surrogates (undecodable bytes) the strings in ``value`` hold.  Iterative."""
    count = 0
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            count += sum(1 for ch in node if "\ud800" <= ch <= "\udfff")
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def _candidate(path: str) -> bool:
    base = posixpath.basename(path)
    if base.startswith(".") or "__MACOSX/" in path:
        return False
    ext = posixpath.splitext(base.lower())[1]
    return ext in (".json", ".txt", "")


def _head(entry) -> str | None:
    try:
        with entry.open() as fh:
            return fh.read(SNIFF_BYTES).decode("utf-8", "replace")
    except (ArchiveMemberError, OSError, ValueError):
        return None

