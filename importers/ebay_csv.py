"""The data request's ``Feedback_Received.csv`` / ``Feedback_Left.csv``: columns found by header
name, each row read as one feedback."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Iterator

from vault.archive import ArchiveMemberError
from vault.models import Item, RatingItem, Skipped

from .ebay_record import _csv_row

if TYPE_CHECKING:
    from .ebay import _ReadState

# Column header (lowercase, whitespace collapsed) -> field.
COLUMNS = {
    "feedback id": "feedback_id", "feedbackid": "feedback_id", "id": "feedback_id",
    "role": "role",
    "rating": "rating", "comment type": "rating", "commenttype": "rating",
    "comment": "comment", "comment text": "comment", "commenttext": "comment",
    "from user": "from_user", "commenting user": "from_user",
    "to user": "to_user",
    "from user feedback score": "score", "to user feedback score": "score", "commenting user score": "score",
    "feedback score": "score",
    "date (utc)": "date", "date": "date", "comment time": "date", "date (gmt)": "date",
    "item id": "item_id", "itemid": "item_id",
    "item title": "item_title",
    "item price": "item_price", "price": "item_price",
    "currency": "currency",
    "transaction id": "transaction_id",
    "order line item id": "order_line_item_id",
    "reply": "reply", "feedback response": "reply", "response": "reply",
}


def read_csv(entry, direction: str, state: "_ReadState") -> Iterator[Item]:
    """Items of a data-request CSV whose rows are feedback in ``direction``."""
    label = entry.rel
    try:
        with entry.open() as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            try:
                header = next(reader, None)
            except csv.Error as exc:
                yield Skipped(label, f"unreadable CSV header: {exc}")
                return
            if header is None:
                yield Skipped(label, "empty file")
                return
            cols: dict[str, int] = {}
            for i, name in enumerate(header):
                key = " ".join(name.replace("\ufeff", "").split()).lower()
                if key in COLUMNS and COLUMNS[key] not in cols:
                    cols[COLUMNS[key]] = i
            if "rating" not in cols or "comment" not in cols:
                shown = ", ".join(h.strip() for h in header[:12]) or "none"
                yield Skipped(label, f"not an eBay feedback file: no Rating and Comment columns (columns: {shown})")
                return
            row_no = 1
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    yield Skipped(f"{label}:row {row_no + 1}", f"unreadable CSV (line {reader.line_num}): {exc}; the rest of the file was not read")
                    break
                row_no += 1
                if not any(v.strip() for v in values):
                    continue
                row = {f: (values[i] if i < len(values) else "") for f, i in cols.items()}
                raw_row = {h.replace("\ufeff", "").strip(): v for h, v in zip(header, values)}
                for item in _csv_row(row, raw_row, direction, f"{label}:row {row_no}", entry.rel):
                    if isinstance(item, RatingItem):
                        state.ratings += 1
                    yield item
    except ArchiveMemberError as exc:
        yield Skipped(label, exc.message)
    except UnicodeDecodeError as exc:
        yield Skipped(label, f"not UTF-8 text ({exc.reason} at byte {exc.start}); rows before it were read")
