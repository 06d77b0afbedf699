"""Curation: visibility and tags.  Curation is stored apart from source data, so importing a
newer export never resets what the owner chose."""

from __future__ import annotations

from .query import resolve_id
from .repository import Vault


def mark(vault: Vault, ids: list[str], filters: dict, *, visibility: str | None, add_tags: list[str], remove_tags: list[str]) -> dict:
    """Apply a visibility and tag change to the selected records; returns counts."""
    cat = vault.catalog()
    if ids:
        chosen = [resolve_id(cat, i) for i in ids]
        records = list(cat.query(ids=chosen, **filters))
    else:
        records = list(cat.query(**filters))
    changed = 0
    explicit = cat.explicit_ids()
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
