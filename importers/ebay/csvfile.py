"""The data request's ``Feedback_Received.csv`` / ``Feedback_Left.csv``: columns found by header
name, each row read as one feedback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from vault.plugin_api import ArchiveMemberError, Item, RatingItem, Skipped

from ..common.members import CsvFileError, csv_rows
from .record import feedback_row_items

if TYPE_CHECKING:
    from .state import ReadState

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


def read_csv(entry, direction: str, state: "ReadState") -> Iterator[Item]:
    """Items of a data-request CSV whose rows are feedback in ``direction``.

    Rows are read one by one: a row with bytes that are not UTF-8 is skipped and named (row
    number and byte offset), every other row is read.
    """
    label = entry.rel
    try:
        raw = entry.open()
    except (ArchiveMemberError, OSError) as exc:
        yield Skipped(label, getattr(exc, "message", None) or f"cannot read: {exc}")
        return
    with raw:
        rows = csv_rows(raw)
        try:
            first = next(rows, None)
        except CsvFileError as exc:
            yield Skipped(label, f"unreadable CSV header: {exc.reason}")
            return
        if first is None:
            yield Skipped(label, "empty file")
            return
        if first.problem:
            yield Skipped(label, f"unreadable CSV header: {first.problem}")
            return
        header = first.values
        cols: dict[str, int] = {}
        for i, name in enumerate(header):
            key = " ".join(name.replace("\ufeff", "").split()).lower()
            if key in COLUMNS and COLUMNS[key] not in cols:
                cols[COLUMNS[key]] = i
        if "rating" not in cols or "comment" not in cols:
            shown = ", ".join(h.strip() for h in header[:12]) or "none"
            yield Skipped(label, f"not an eBay feedback file: no Rating and Comment columns (columns: {shown})")
            return
        while True:
            try:
                row_read = next(rows, None)
            except CsvFileError as exc:
                yield Skipped(label, f"{exc.reason}; the rest of the file was not read")
                return
            if row_read is None:
                return
            where = f"{label}:row {row_read.number}"
            if row_read.problem:
                yield Skipped(where, f"{row_read.problem}; the row was not imported")
                continue
            values = row_read.values
            if not any(v.strip() for v in values):
                continue
            row = {f: (values[i] if i < len(values) else "") for f, i in cols.items()}
            raw_row = {h.replace("\ufeff", "").strip(): v for h, v in zip(header, values)}
            for item in feedback_row_items(row, raw_row, direction, where, entry.rel):
                if isinstance(item, RatingItem):
                    state.ratings += 1
                yield item

