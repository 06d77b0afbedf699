"""The persistent catalog index (index/catalog.db): encrypted at rest, derived from the journal,
rebuilt when missing, stale or corrupt, checked by `vault check --read-data`; and the re-import
of an unchanged export, which reads none of its members."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import stat

import pytest

from tests.support.post_fixtures import inject, post
from tests.support.social_fixtures import m_export, m_later_statuses, m_statuses, write_zip
from vault.repository import open_vault
from vault.store import catalog as catalog_mod

SECRET_WORDS = ("Quokkaberry", "zebrafinchlantern", "Mandelbrotwaffle")


def ids(env, *filters) -> set[str]:
    return {r["id"] for r in env.records(*filters)}


def index_files(vault_dir):
    return sorted(p for p in (vault_dir / "index").iterdir() if p.is_file())


def test_index_pages_and_wal_hold_no_plaintext(vault_env, tmp_path):
    items = [post(f"s{i}", 1 + i, f"{SECRET_WORDS[i]} visits the {SECRET_WORDS[(i + 1) % 3]} again") for i in range(3)]
    with open_vault(vault_env.path, exclusive=True) as v:
        v.unlock(vault_env.identity_file)
        from tests.support.post_fixtures import FakeImporter
        from vault.importing.pipeline import run_items

        run_items(v, FakeImporter("mastodon"), iter(items), label="test")
        cat = v.catalog()
        # Staged but not committed: the rollback journal holds the pages it changes meanwhile.
        first = next(cat.query())["id"]
        cat.stage({"op": "curate", "id": first, "add": ["Snowleopardtag"]})
        cat.db.execute("PRAGMA cache_spill=1")
        cat.stage({"op": "curate", "id": first, "visibility": "public"})
        files = index_files(vault_env.path) + sorted(p for p in (vault_env.path / "tmp").iterdir() if p.is_file())
        names = {p.name for p in files}
        assert "catalog.db" in names and "catalog.db-journal" in names, names
        # The journal holds the original of at least one page of records (the words' page).
        assert (vault_env.path / "index" / "catalog.db-journal").stat().st_size > 16384
        for path in files:
            data = path.read_bytes()
            for word in (*SECRET_WORDS, "Snowleopardtag", "visits the"):
                assert word.encode() not in data and word.lower().encode() not in data, (path.name, word)
            assert not data.startswith(b"SQLite format 3"), path.name
        idx = vault_env.path / "index"
        assert stat.S_IMODE(idx.stat().st_mode) == 0o700
        for path in index_files(vault_env.path):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    # Found through the index all the same.
    assert len(ids(vault_env)) == 3
    res = vault_env.run("search", "--json", SECRET_WORDS[0].lower())
    assert res.code == 0 and len(res.jsonl()) == 2


def test_index_is_rebuilt_when_missing_corrupt_or_stale(vault_env, tmp_path):
    inject(vault_env.path, [post("a", 1, "first words"), post("b", 2, "second words")])
    before = vault_env.records()
    db = vault_env.path / "index" / "catalog.db"
    # Missing.
    for p in index_files(vault_env.path):
        p.unlink()
    assert vault_env.records() == before
    # Corrupt: scrambled pages are refused by their MACs and the index is made anew.
    raw = bytearray(db.read_bytes())
    raw[100:4000] = os.urandom(3900)
    db.write_bytes(bytes(raw))
    assert vault_env.records() == before
    # Stale: an older copy of the index is caught up with the segments written since.
    old = db.read_bytes()
    inject(vault_env.path, [post("c", 3, "third words")])
    for p in index_files(vault_env.path):
        p.unlink()
    db.write_bytes(old)
    os.chmod(db, 0o600)
    assert {r["source_id"] for r in vault_env.records()} == {"a", "b", "c"}
    # Stale the other way: a compaction by another copy of the program (new snapshot) rebuilds.
    res = vault_env.run("compact", "--json")
    assert res.code == 0, res.err
    saved = db.read_bytes()
    inject(vault_env.path, [post("d", 4, "fourth words")])
    res = vault_env.run("compact", "--json")
    for p in index_files(vault_env.path):
        p.unlink()
    db.write_bytes(saved)
    os.chmod(db, 0o600)
    assert {r["source_id"] for r in vault_env.records()} == {"a", "b", "c", "d"}
    assert len(vault_env.run("search", "--json", "words").jsonl()) == 4


def test_an_index_of_an_older_format_is_rebuilt(vault_env):
    """Format 1 did not index German words spelled out: such an index, its format named in its
    ``meta``, is rebuilt from the journal, and "Koeln" then finds Köln."""
    import apsw

    from vault.store.index import index_key

    inject(vault_env.path, [post("de", 1, "Grüße aus Köln"), post("en", 2, "plain words")])
    with open_vault(vault_env.path) as v:
        key = index_key(v.unlock(vault_env.identity_file).writer_key)
    db = apsw.Connection(str(vault_env.path / "index" / "catalog.db"))
    db.pragma("cipher", "chacha20")
    db.pragma("kdf_iter", 1)
    db.pragma("hexkey", key.hex())
    with db:  # what format 1 held: the words as written, nothing spelled out
        rows = db.execute("SELECT n, data FROM records").fetchall()
        db.execute("DELETE FROM fts")
        db.executemany("INSERT INTO fts(rowid, body) VALUES (?,?)", [(n, json.loads(data)["text"]) for n, data in rows])
        db.execute("UPDATE meta SET v='1' WHERE k='format'")
    db.close()
    found = vault_env.run("search", "--json", "Koeln")
    assert found.code == 0, found.err
    assert [r["source_id"] for r in found.jsonl()] == ["de"]


def test_a_rebuild_says_why_the_command_waits(vault_env):
    """Rebuilding takes seconds per 100,000 records: the command says so on stderr, unless
    --quiet or --json (whose stderr holds only an error object); an empty vault says nothing."""
    def drop_index():
        for p in index_files(vault_env.path) if (vault_env.path / "index").is_dir() else []:
            p.unlink()

    drop_index()
    assert "rebuilding" not in vault_env.run("status").err
    inject(vault_env.path, [post("a", 1, "first words"), post("b", 2, "second words")])
    # (arguments, index dropped first, the message expected)
    for args, dropped, says in ((["status"], True, True), (["status"], False, False), (["status", "--quiet"], True, False),
                                (["status", "--json"], True, False), (["search", "words"], True, True)):
        if dropped:
            drop_index()
        res = vault_env.run(*args)
        assert res.code == 0, res.err
        assert ("vault: rebuilding the catalog index from the journal (index/ held none this version can use)"
                in res.err) is says, (args, res.err)


def _write_segment(cat, name: str, ops: list[dict]) -> None:
    body = b"".join((json.dumps(op, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode() for op in ops)
    mac = hmac.new(cat._wk, b"segment\0" + name.encode() + b"\0" + body, hashlib.sha256).hexdigest()
    plain = body + json.dumps({"mac": mac}).encode() + b"\n"
    import io

    cat._write_encrypted(cat.journal_dir / name, io.BytesIO(plain), "test segment")


def test_a_version_1_vault_without_index_opens_and_searches(vault_env):
    """A vault written before the index existed: an old-style snapshot (with its own fts table
    and full provenance in every record) plus a segment on top; no index/ folder."""
    prov = {"importer": "mastodon", "importer_version": "1", "export": "archive.zip", "export_sha256": "ab" * 32,
            "member": "outbox.json", "captured_at": "2024-01-01T00:00:00Z"}
    with open_vault(vault_env.path, exclusive=True) as v:
        k = v.unlock(vault_env.identity_file)
        cat = catalog_mod.Catalog(v.path / "catalog", v.tmpdir, k.identity, k.writer_key, v.recipients,
                                  index_path=v.path / "index" / "unused.db")
        old = sqlite3.connect(":memory:")
        old.executescript("""
            CREATE TABLE records(id TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT NOT NULL, source_id TEXT,
                created_at TEXT, visibility TEXT NOT NULL DEFAULT 'private', data TEXT NOT NULL);
            CREATE TABLE explicit(id TEXT PRIMARY KEY, visibility TEXT NOT NULL);
            CREATE TABLE tags(id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY(id, tag));
            CREATE TABLE refs(source TEXT NOT NULL, ref TEXT NOT NULL, media TEXT NOT NULL, PRIMARY KEY(source, ref));
            CREATE TABLE hints(k TEXT PRIMARY KEY, v TEXT NOT NULL);
            CREATE TABLE digests(id TEXT PRIMARY KEY, digest TEXT NOT NULL);
            CREATE TABLE imports(at TEXT, source TEXT, export TEXT, summary TEXT);
            CREATE VIRTUAL TABLE fts USING fts5(id UNINDEXED, body, tokenize='unicode61 remove_diacritics 2');
        """)
        rec = {"kind": "post", "source": "mastodon", "source_id": "old-1", "created_at": "2020-05-01T00:00:00Z",
               "text": "Příliš žluťoučký kůň", "provenance": prov}
        old.execute("INSERT INTO records VALUES (?,?,?,?,?,?,?)",
                    ("p_old1", "post", "mastodon", "old-1", rec["created_at"], "public", json.dumps(rec, ensure_ascii=False)))
        old.execute("INSERT INTO explicit VALUES ('p_old1', 'public')")
        old.execute("INSERT INTO tags VALUES ('p_old1', 'horse')")
        old.commit()
        db_bytes = old.serialize()
        name = "000000000001-0a0b0c0d.sqlite.age"
        header = {"format": "vault-snapshot", "version": 1, "seq": 1, "supersedes": []}
        header["mac"] = cat._snapshot_mac(name, dict(header), db_bytes)
        import io

        cat._write_encrypted(cat.snap_dir / name, io.BytesIO(json.dumps(header).encode() + b"\n" + db_bytes), "snapshot")
        _write_segment(cat, "00000000000000000009-00000000.jsonl.age", [
            {"op": "put", "r": {"id": "p_old2", "kind": "post", "source": "mastodon", "source_id": "old-2",
                                "created_at": "2021-01-01T00:00:00Z", "text": "Grüße aus Köln", "provenance": prov}},
            {"op": "curate", "id": "p_old1", "add": ["kept"]},
        ])
        # The catalog head lists them, as the version that wrote such files would have.
        cat.head.record(name, ["00000000000000000009-00000000.jsonl.age"])
    assert not (vault_env.path / "index" / "catalog.db").exists()
    got = {r["id"]: r for r in vault_env.records()}
    assert set(got) == {"p_old1", "p_old2"}
    assert got["p_old1"]["visibility"] == "public" and got["p_old1"]["tags"] == ["horse", "kept"]
    assert got["p_old2"]["provenance"] == prov
    for query, want in (("prilis", "p_old1"), ("žluťoučký", "p_old1"), ("zlutoucky", "p_old1"),
                        ("Grusse", None), ("Gruße", "p_old2"), ("grüße", "p_old2"), ("koln", "p_old2"), ("Köln", "p_old2"),
                        ("Gruesse", "p_old2"), ("Koeln", "p_old2")):
        res = vault_env.run("search", "--json", query)
        assert res.code == 0
        assert [r["id"] for r in res.jsonl()] == ([want] if want else []), query


def test_provenance_is_stored_once_per_import(vault_env):
    inject(vault_env.path, [post(f"p{i}", 1 + i, f"post number {i}") for i in range(5)])
    with open_vault(vault_env.path) as v:
        v.unlock(vault_env.identity_file)
        cat = v.catalog()
        ops = [op for seg in cat.segments for op in cat.read_segment(seg)]
        provs = [op for op in ops if op["op"] == "prov"]
        puts = [op for op in ops if op["op"] == "put"]
        assert len(provs) == 1 and len(puts) == 5
        for op in puts:  # only what differs per record stays in it
            assert op["r"]["provenance"]["@"] == provs[0]["k"] and set(op["r"]["provenance"]) <= {"@", "member"}
        assert provs[0]["p"]["importer"] == "mastodon" and "captured_at" in provs[0]["p"]
    for rec in vault_env.records():
        assert rec["provenance"]["importer"] == "mastodon" and rec["provenance"]["captured_at"]
        assert "@" not in rec["provenance"]


def _forge_a_tag(vault_env) -> None:
    """Write into the index, and not the journal, a tag nobody set."""
    with open_vault(vault_env.path, exclusive=True) as v:
        v.unlock(vault_env.identity_file)
        cat = v.catalog()
        cat._begin()
        cat._apply({"op": "curate", "id": next(cat.query())["id"], "add": ["forged"]})
        cat._commit_tx()


def test_check_read_data_compares_the_index_with_the_journal(vault_env):
    inject(vault_env.path, [post("a", 1, "alpha"), post("b", 2, "beta")])
    res = vault_env.run("check", "--read-data", "--json")
    assert res.code == 0 and res.json()["ok"], res.out
    # An index that says something the journal does not (here: a tag nobody set).
    _forge_a_tag(vault_env)
    assert any(r["tags"] == ["forged"] for r in vault_env.records())
    res = vault_env.run("check", "--read-data", "--json")
    assert res.code == 13
    assert any(p["path"] == "index/catalog.db" for p in res.json()["problems"]), res.out
    # The check rebuilt it from the journal.
    assert all(r["tags"] == [] for r in vault_env.records())
    assert vault_env.run("check", "--read-data", "--json").code == 0
    # Said in words, without --json.
    _forge_a_tag(vault_env)
    res = vault_env.run("check", "--read-data")
    assert res.code == 13
    assert "rebuilding the catalog index from the journal (it disagreed with the journal)" in res.err, res.err


@pytest.mark.parametrize("table", ["fts", "tri"])
def test_check_read_data_compares_the_word_indexes_too(vault_env, table):
    """A record missing from the word index (or the trigram index) is not found by search, so
    the check compares them as well: term by term, as fts5vocab lists them."""
    inject(vault_env.path, [post("a", 1, "alpha 関数を定義する"), post("b", 2, "beta 関数型")])
    assert vault_env.run("check", "--read-data", "--json").code == 0
    word = "alpha" if table == "fts" else "関数を定義"
    assert len(vault_env.run("search", "--json", word).jsonl()) == 1
    with open_vault(vault_env.path, exclusive=True) as v:
        v.unlock(vault_env.identity_file)
        cat = v.catalog()
        cat._begin()
        (n,) = cat.db.execute("SELECT n FROM records WHERE source_id='a'").fetchone()
        cat.db.execute(f"DELETE FROM {table} WHERE rowid=?", (n,))
        cat._commit_tx()
    assert vault_env.run("search", "--json", word).jsonl() == []
    res = vault_env.run("check", "--read-data", "--json")
    assert res.code == 13
    assert any(p["path"] == "index/catalog.db" for p in res.json()["problems"]), res.out
    # Rebuilt from the journal: found again.
    assert len(vault_env.run("search", "--json", word).jsonl()) == 1
    assert vault_env.run("check", "--read-data", "--json").code == 0


def test_reimport_of_an_unchanged_export_reads_no_member(vault_env, tmp_path, monkeypatch):
    path = write_zip(tmp_path / "archive.zip", m_export())
    first = vault_env.run("import", path, "--json").json()
    assert first["added"]["post"] == 5
    from importers.mastodon.importer import MastodonImporter

    def refuse(*a, **kw):
        raise AssertionError("the export was parsed")

    with monkeypatch.context() as m:
        m.setattr(MastodonImporter, "read", refuse)
        again = vault_env.run("import", path, "--json")
    assert again.code == 0, again.err
    rep = again.json()
    assert rep["added"] == {"post": 0, "media": 0, "rating": 0} and rep["updated"] == rep["added"]
    assert rep["unchanged"] == {"post": 5, "media": 2, "rating": 0}
    assert rep["warnings"] == first["warnings"]
    # A changed export is read again, and only what is new is added.
    newer = write_zip(tmp_path / "archive2.zip", m_export(m_statuses() + m_later_statuses()))
    rep = vault_env.run("import", newer, "--json").json()
    assert rep["added"] == {"post": 2, "media": 0, "rating": 0}
    # An object lost since: the unchanged export is read again and puts it back.
    with open_vault(vault_env.path) as v:
        v.unlock(vault_env.identity_file)
        oid = v.catalog().source_objects("mastodon")[0]
        v.objects.path(oid).unlink()
    rep = vault_env.run("import", path, "--json").json()
    assert rep["added"]["post"] == 0
    with open_vault(vault_env.path) as v:
        assert v.objects.exists(oid)
    assert len(vault_env.records("--kind", "post")) == 7


def test_a_segment_that_never_reaches_the_journal_leaves_nothing_in_the_index(vault_env, monkeypatch):
    """The index commits just before the segment's rename (the commit point); when the rename
    fails, the index is marked for a rebuild and shows nothing of that import."""
    import errno

    inject(vault_env.path, [post("kept", 1, "already here")])

    def no_room(self):
        self._discard()
        raise catalog_mod.storage_error(OSError(errno.ENOSPC, "No space left on device"), "a catalog segment")

    with monkeypatch.context() as m:
        m.setattr(catalog_mod.SegmentWriter, "place", no_room)
        with pytest.raises(Exception, match="disk full"):
            inject(vault_env.path, [post("lost", 2, "never committed")])
    assert [r["source_id"] for r in vault_env.records()] == ["kept"]
    assert vault_env.run("check", "--read-data").code == 0
    assert list((vault_env.path / "tmp").iterdir()) == []


def test_ctrl_c_after_the_segment_is_sealed_and_before_the_commit_point_leaves_nothing(vault_env, monkeypatch):
    """Interrupted while the index commits (the segment sealed under its temporary name, not yet
    renamed into the journal): the temporary file goes, and nothing of the import shows."""
    inject(vault_env.path, [post("kept", 1, "already here")])
    real_commit = catalog_mod.Catalog._commit_tx

    def interrupted(self):
        real_commit(self)  # the worst moment: the index has committed, the rename is still to come
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(catalog_mod.Catalog, "_commit_tx", interrupted)
        with pytest.raises(KeyboardInterrupt):
            inject(vault_env.path, [post("lost", 2, "never committed")])
    assert list((vault_env.path / "tmp").iterdir()) == []
    assert [r["source_id"] for r in vault_env.records()] == ["kept"]
    assert vault_env.run("check", "--read-data").code == 0


def test_hints_are_looked_up_many_at_once_staged_stored_or_missing(vault_env):
    keys = [f"fp:{i:04d}" for i in range(1200)]  # more than one query's worth
    with open_vault(vault_env.path, exclusive=True) as v:
        v.unlock(vault_env.identity_file)
        cat = v.catalog()
        for key in keys[:1100]:
            cat.stage({"op": "hint", "k": key, "v": "stored-" + key})
        cat.flush()
    with open_vault(vault_env.path, exclusive=True) as v:
        v.unlock(vault_env.identity_file)
        cat = v.catalog()
        cat.stage({"op": "hint", "k": keys[1150], "v": "staged"})  # not committed yet
        found = cat.hints([*keys, keys[0]])
        assert found == {**{key: "stored-" + key for key in keys[:1100]}, keys[1150]: "staged"}
        assert all(cat.hint(key) == found.get(key) for key in keys[::97])
