"""Curation: visibility and tags.  Curation is stored apart from source data, so importing a
newer export never resets what the owner chose."""

from __future__ import annotations

from ..errors import UsageError
from ..repository import Vault
from ..settings import PUBLIC_AUDIENCES
from .query import resolve_id


def restricted_audience(rec: dict) -> str | None:
    """The audience a record had on its network when that was narrower than everyone
    (followers-only, direct, connections...), else None."""
    audience = (rec.get("source_visibility") or "").strip()
    return None if audience.lower() in PUBLIC_AUDIENCES else audience


def mark(vault: Vault, ids: list[str], filters: dict, *, visibility: str | None, add_tags: list[str], remove_tags: list[str],
         force: bool = False) -> dict:
    """Apply a visibility and tag change to the selected records; returns counts.

    A bulk selection (filters or everything, no ids) made ``public`` MUST NOT silently publish
    what its network showed to a narrower audience: unless ``force``, it raises ``UsageError``
    naming how many records and which audiences, and changes nothing."""
    cat = vault.catalog()
    if ids:
        chosen = [resolve_id(cat, i) for i in ids]
        records = list(cat.query(ids=chosen, **filters))
    else:
        records = list(cat.query(**filters))
    changed = 0
    explicit = cat.explicit_ids()
    if visibility == "public" and not ids and not force:
        narrow: dict[str, int] = {}
        for rec in records:
            audience = restricted_audience(rec)
            if audience and not (rec["visibility"] == "public" and rec["id"] in explicit):
                narrow[audience] = narrow.get(audience, 0) + 1
        if narrow:
            counts = ", ".join(f"{n} {a}" for a, n in sorted(narrow.items()))
            raise UsageError(f"{sum(narrow.values())} of the selected records were not public on their network ({counts}); "
                             "--public would publish them to everyone",
                             hint="add --force to publish them anyway, or narrow the selection (e.g. mark them by id)")
    for rec in records:
        op: dict = {"op": "curate", "id": rec["id"]}
        if visibility and (rec["visibility"] != visibility or rec["id"] not in explicit):
            op["visibility"] = visibility
        add = [t for t in add_tags if t not in rec["tags"]]
        remove = [t for t in remove_tags if t in rec["tags"]]
        if add:
            op["add"] = add
        if remove:
            op["remove"] = remove
        if len(op) > 2:
            cat.stage(op)
            changed += 1
    vault.commit()
    return {"matched": len(records), "changed": changed, "visibility": visibility, "added_tags": add_tags, "removed_tags": remove_tags}
