"""Posts and ratings: an importer's item turned into the record the catalog stores.

Ratings are merged across the forms one feedback arrives in (a CSV row, an API entry, a card of a
saved page): copies are found by a match key, else by a loose key (``vault.ratings.merge``), and
written as one record whose provenance names every source it was seen in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..ids import keyed, record_id
from ..models import PostItem, RatingItem, iso, nfc

if TYPE_CHECKING:
    from .run import Run

# Ratings remembered per loose key (vault.ratings.merge.loose_key) for matching copies without item id.
LOOSE_CANDIDATES = 64


# --- posts ------------------------------------------------------------------------------------


def post(run: "Run", item: PostItem) -> None:
    source = run.importer.name
    text = nfc(item.text)
    if not (text and text.strip()) and not item.media_refs and not item.links and not item.url and not item.repost_of:
        return  # docs/architecture.md, records: neither text nor media nor link is not a post
    rec: dict[str, Any] = {
        "id": run.post_ids.get(item.source_id) or record_id(run.wk, "post", source, item.source_id),
        "kind": "post",
        "source": source,
        "source_id": item.source_id,
        "created_at": iso(item.created_at),
        "title": nfc(item.title),
        "text": text,
        "url": item.url,
        "links": list(item.links),
        "place": item.place.to_json() if item.place else None,
        "reply_to": item.reply_to,
        "repost_of": item.repost_of,
        "source_visibility": item.source_visibility,
        "media_refs": list(item.media_refs),
        "tagged": [nfc(t) for t in item.tagged],
        "content_warning": nfc(item.content_warning),
        "provenance": run.provenance(item.member),
    }
    if item.extra:
        rec["extra"] = item.extra
    if item.raw is not None:
        rec["raw"] = item.raw
    run.upsert("post", rec)


# --- ratings ----------------------------------------------------------------------------------


def rating(run: "Run", item: RatingItem) -> None:
    """Store one rating, merged with the stored copy of the same feedback when there is one."""
    from ..ratings.merge import merge_provenance, merge_rating

    source = run.importer.name
    match_hint = "match:" + keyed(run.wk, "rating-match", source, item.match_key) if item.match_key else None
    rid = _matched_id(run, item, match_hint)
    rec = _rating_record(run, item, rid)
    loose_hint = _loose_hint(run, rec)
    stored = run.cat.get_raw(rid)
    if stored is None and loose_hint:
        stored = _loose_copy(run, rec, loose_hint)
        rid = rec["id"]
    if stored is None:
        run.upsert("rating", rec)
    else:
        merge_rating(stored, rec)
        rec["provenance"], new_source = merge_provenance(stored.get("provenance") or {}, rec["provenance"])
        _put_merged(run, rec, stored, new_source)
    _remember_keys(run, rid, match_hint, loose_hint)


def _matched_id(run: "Run", item: RatingItem, match_hint: str | None) -> str:
    """The rating's own id, or that of a stored copy sharing its match key.

    Same feedback seen without its id (a card) or with it (the CSV row of a card imported
    earlier): one record.  Two different feedback ids never merge."""
    rid = record_id(run.wk, "rating", run.importer.name, item.source_id)
    matched = run.cat.hint(match_hint) if match_hint else None
    if not matched or matched == rid or run.cat.get_raw(rid) is not None:
        return rid
    old = run.cat.get_raw(matched)
    both_ids = old is not None and old.get("feedback_id") and item.feedback_id
    if old is not None and not (both_ids and old["feedback_id"] != item.feedback_id):
        return matched
    return rid


def _rating_record(run: "Run", item: RatingItem, rid: str) -> dict[str, Any]:
    extra_prov = dict(item.provenance)
    capture_ref = extra_prov.pop("capture_ref", None)
    if capture_ref and capture_ref in run.captures:
        extra_prov["capture_object"] = run.captures[capture_ref]
    rec: dict[str, Any] = {
        "id": rid,
        "kind": "rating",
        "source": run.importer.name,
        "source_id": item.source_id,
        "created_at": iso(item.created_at),
        "direction": item.direction,
        "role": item.role,
        "polarity": item.polarity,
        "stars": item.stars,
        "comment": nfc(item.comment),
        "counterparty": nfc(item.counterparty),
        "item_title": nfc(item.item_title),
        "item_id": item.item_id,
        "price": item.price,
        "feedback_id": item.feedback_id,
        "reply": nfc(item.reply),
        "provenance": run.provenance(item.member, extra_prov),
    }
    if item.extra:
        rec["extra"] = dict(item.extra)
    if item.raw is not None:
        rec["raw"] = item.raw
    return rec


def _loose_hint(run: "Run", rec: dict) -> str | None:
    from ..ratings.merge import loose_key

    loose = loose_key(rec)
    return "loose:" + keyed(run.wk, "rating-loose", run.importer.name, loose) if loose else None


def _loose_copy(run: "Run", rec: dict, loose_hint: str) -> dict | None:
    """A stored copy with no id in common (a private-listing card has no item id): same words,
    rating, rater and a date that fits make it the same feedback.  ``rec`` takes its id."""
    from ..ratings.merge import same_feedback

    for cand in (run.cat.hint(loose_hint) or "").split():
        other = run.cat.get_raw(cand)
        if other is not None and same_feedback(other, rec):
            rec["id"] = cand
            return other
    return None


def _remember_keys(run: "Run", rid: str, match_hint: str | None, loose_hint: str | None) -> None:
    """Let later copies of this feedback find ``rid`` by its match key and its loose key."""
    if match_hint and run.cat.hint(match_hint) != rid:
        run.stage({"op": "hint", "k": match_hint, "v": rid})
    if loose_hint:
        known = (run.cat.hint(loose_hint) or "").split()
        if rid not in known:
            run.stage({"op": "hint", "k": loose_hint, "v": " ".join((known + [rid])[-LOOSE_CANDIDATES:])})


def _put_merged(run: "Run", rec: dict, stored: dict, new_source: bool) -> None:
    """Write a rating merged with its stored copy (``vault.ratings.merge`` made its provenance).

    A copy from a source not yet named in the provenance is written even when the rating's
    data is unchanged, so the provenance names it; the report still counts it unchanged."""
    from ..store.catalog import content_digest

    rid = rec["id"]
    if not run.first_time(rid):
        return  # the same feedback twice in one import: the first copy wins
    same = same_data(stored, rec)
    if same and not new_source:
        run.report.unchanged["rating"] += 1
        return
    run.stage({"op": "put", "r": rec, "d": content_digest(rec)})
    (run.report.unchanged if same else run.report.updated)["rating"] += 1


def same_data(old: dict, new: dict) -> bool:
    """Equal source data: provenance (when and from which file) and the id itself aside."""
    import json

    a = {k: v for k, v in old.items() if k not in ("provenance", "id")}
    b = {k: v for k, v in new.items() if k not in ("provenance", "id")}
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)
