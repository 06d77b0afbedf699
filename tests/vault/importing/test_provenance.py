"""Where a record came from is never forgotten: a post edited across exports keeps the export it
was first seen in, the latest one as ``last_seen`` and every one between as ``earlier_seen``."""

from __future__ import annotations

from tests.support.post_fixtures import FakeImporter, post
from vault.importing.pipeline import run_items
from vault.repository import open_vault


def import_as(vault_env, label: str, text: str) -> dict:
    with open_vault(vault_env.path, exclusive=True) as v:
        v.unlock(vault_env.identity_file)
        report = run_items(v, FakeImporter("mastodon"), iter([post("p1", 2, text)]), label=label)
    return report.to_json()


def test_an_edited_post_keeps_every_export_it_was_seen_in(vault_env):
    assert import_as(vault_env, "export-2023.zip", "First words")["added"]["post"] == 1
    assert import_as(vault_env, "export-2024.zip", "First words, edited")["updated"]["post"] == 1
    assert import_as(vault_env, "export-2025.zip", "First words, edited twice")["updated"]["post"] == 1
    [rec] = vault_env.records("--kind", "post")
    res = vault_env.run("show", rec["id"], "--json")
    prov = res.json()["provenance"]
    assert prov["export"] == "export-2023.zip"
    assert prov["last_seen"]["export"] == "export-2025.zip"
    assert [p["export"] for p in prov["earlier_seen"]] == ["export-2024.zip"]
    assert res.json()["text"] == "First words, edited twice"
