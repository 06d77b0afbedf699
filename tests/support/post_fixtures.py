"""Put posts and media into a test vault through the real pipeline, as an importer would."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from vault.importing.pipeline import run_items
from vault.models import MediaItem, PostItem, RatingItem
from vault.repository import open_vault


class FakeImporter:
    def __init__(self, name: str) -> None:
        self.name = name
        self.version = "test"
        self.description = "test items"


def media_item(ref: str, data: bytes, caption: str | None = None) -> MediaItem:
    return MediaItem(ref=ref, open=lambda: io.BytesIO(data), size=len(data), filename=ref, caption=caption)


def post(source_id: str, day: int, text: str, media_refs=(), links=(), **kw) -> PostItem:
    return PostItem(source_id=source_id, created_at=datetime(2024, 1, 1, tzinfo=timezone.utc).replace(day=day),
                    text=text, media_refs=list(media_refs), links=list(links), **kw)


def rating(source_id: str, polarity: str, when: datetime, comment: str, stars=None, direction="received") -> RatingItem:
    return RatingItem(direction=direction, polarity=polarity, source_id=source_id, created_at=when, role="seller",
                      stars=stars, comment=comment, counterparty="b***r", item_title="Lens", item_id="1", feedback_id=source_id)


def inject(vault_dir, items, source: str = "mastodon", identity_file=None):
    with open_vault(vault_dir, exclusive=True) as v:
        v.unlock(identity_file)
        return run_items(v, FakeImporter(source), iter(items), label="test")
