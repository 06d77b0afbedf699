"""What `vault import` says when no importer recognises its input (exit 20, `UnsupportedInputError`),
and that following its hint works."""

from __future__ import annotations

import shlex

from tests.support.builders import write_zip
from tests.support.meta_fixtures import fb_export
from vault.errors import ExitCode

USUAL = "run `vault sources` to see what can be imported, or name the source with --source"


def _hint_command(err: str) -> list[str]:
    """The arguments of the `vault import ...` command the hint shows."""
    line = next(line for line in err.splitlines() if line.startswith("vault: hint:"))
    start = line.index("`vault import ") + len("`vault import ")
    return shlex.split(line[start:line.index("`", start)])


def test_a_folder_of_an_exports_zips_names_them(vault_env, tmp_path):
    # A download folder holding a Facebook export in two zips: the folder is not the export.
    files = fb_export("2024")
    posts = {name: data for name, data in files.items() if name.endswith(".json")}
    rest = {name: data for name, data in files.items() if name not in posts}
    folder = tmp_path / "Downloads" / "facebook export"
    write_zip(folder / "facebook-jana-part1.zip", posts)
    write_zip(folder / "facebook-jana-part2.zip", rest)
    (folder / "notes.txt").write_text("downloaded in May")
    res = vault_env.run("import", folder)
    assert res.code == ExitCode.UNSUPPORTED_INPUT and "facebook export: not a recognised export" in res.err
    assert "the folder holds 2 archives, and an archive is read only when it is named" in res.err
    assert res.err.rstrip().endswith(USUAL)
    command = _hint_command(res.err)
    assert command == [str(folder / "facebook-jana-part1.zip"), str(folder / "facebook-jana-part2.zip")]

    rep = vault_env.run("import", *command, "--json")
    assert rep.code == 0, rep.err
    assert rep.json()["source"] == "facebook" and rep.json()["added"]["post"] == 5


def test_many_archives_are_counted_not_all_listed(vault_env, tmp_path):
    folder = tmp_path / "old backups"
    for n in range(6):
        write_zip(folder / f"backup-{n}.tar.gz.zip", {"readme.txt": b"not an export"})
    res = vault_env.run("import", folder)
    assert res.code == ExitCode.UNSUPPORTED_INPUT
    assert "the folder holds 6 archives" in res.err and "(and 2 more)" in res.err
    assert len(_hint_command(res.err)) == 4


def test_without_archives_the_usual_hint(vault_env, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "a.txt").write_text("no export here")
    res = vault_env.run("import", folder)
    assert res.code == ExitCode.UNSUPPORTED_INPUT
    assert f"vault: hint: {USUAL}" in res.err and "archive" not in res.err
