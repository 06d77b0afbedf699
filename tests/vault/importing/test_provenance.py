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


def test_provenances_kept_per_member_are_bounded_and_change_nothing(vault_env, template_vault, tmp_path, monkeypatch):
    """Each photo is a member of its own: the provenances kept for the next record of the same
    member are dropped past MEMBERS_KEPT, and the records are the same as when all are kept."""
    import shutil

    from tests.support.builders import jpeg, write_zip
    from tests.support.meta_fixtures import fb_export
    from vault.importing import provenance

    files = fb_export("2024")
    for i in range(12):
        files[f"your_facebook_activity/posts/media/Mobileuploads_LvJWqglAvA/{10**15 + i}_n.jpg"] = jpeg((i * 20, 9, 9), size=(8, 6))
    export = write_zip(tmp_path / "fb.zip", files)
    most: list[int] = []
    real_of = provenance.Provenances.of

    def of(self, member, extra=None):
        most.append(len(self._by_member))
        return real_of(self, member, extra)

    monkeypatch.setattr(provenance.Provenances, "of", of)
    monkeypatch.setattr(provenance, "MEMBERS_KEPT", 2)
    assert vault_env.run("import", export).code == 0
    assert max(most) <= 2
    monkeypatch.setattr(provenance, "MEMBERS_KEPT", 10_000)
    here = tmp_path / "here"
    shutil.copytree(template_vault[0], here)
    assert vault_env.run("--vault", here, "import", export).code == 0

    def records(vault_dir) -> list[dict]:
        res = vault_env.run("--vault", vault_dir, "list", "--json")
        assert res.code == 0, res.err
        return sorted(({**r, "provenance": {k: v for k, v in r["provenance"].items() if k != "captured_at"}}
                       for r in res.jsonl()), key=lambda r: r["id"])

    kept_few, kept_all = records(vault_env.path), records(here)
    assert len(kept_few) == 5 + 6 + 12 and kept_few == kept_all
