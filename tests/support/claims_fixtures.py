"""A vault with public posts and ratings from two marketplaces, published to a folder."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.support.post_fixtures import inject, post, rating
from vault.models import RatingItem

SETTINGS = """\
publish:
  title: Jana's archive
  author: Jana Nováková
  base_url: {base_url}
"""


def reputation_vault(env, base_url: str = "https://jana.example.org/") -> None:
    """Posts, eBay ratings (one with a captured feedback page) and Etsy ratings with stars, all public."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    inject(env.path, [post("p1", 1, "Hello from the archive"), post("p2", 2, "A second post")])
    page = {"url": "https://www.ebay.com/fdbk/feedback_profile/jana", "capture_sha256": "ab" * 32}
    inject(env.path, [rating("e1", "positive", now - timedelta(days=10), "Great seller"),
                      rating("e2", "negative", now - timedelta(days=400), "Late"),
                      rating("e3", "positive", now - timedelta(days=3), "Fast", direction="left")], source="ebay")
    inject(env.path, [rating("t1", "positive", now - timedelta(days=20), "Lovely", stars=5),
                      rating("t2", "neutral", now - timedelta(days=30), "Fine", stars=3)], source="etsy")
    inject(env.path, [RatingItem(direction="received", polarity="positive", source_id="e4", created_at=now - timedelta(days=1),
                                 role="seller", comment="Captured", feedback_id="e4", provenance=page)], source="ebay")
    (env.path / "vault.yaml").write_text(SETTINGS.format(base_url=base_url))
    assert env.run("mark", "--all", "--public").code == 0


def publish(env, out: Path) -> dict:
    res = env.run("publish", "--out", out, "--json")
    assert res.code == 0, res.err
    return res.json()


def signed_documents(out: Path) -> dict[str, Path]:
    """Every credential and the manifest of a bundle, by bundle path."""
    manifest = json.loads((out / "manifest.json").read_text())
    creds = sorted(f for f in manifest["files"] if f.startswith("credentials/") and f != "credentials/index.json")
    return {rel: out / rel for rel in [*creds, "manifest.json"]}
