"""The lookups an import makes in the index: shared read transactions and rows fetched ahead.

Outside a write transaction, each lookup in the index is a transaction of its own unless it runs
in a ``batched_reads`` scope: there, lookups share read transactions of at most ``READ_BATCH``
lookups each, which end before any write and at ``end_reads``.  ``prefetch`` looks many records
up at once without their data, which only a changed record needs.  These tests watch the
statements SQLite is given (``exec_trace``) and a second connection that wants to write."""

from __future__ import annotations

import apsw
import pytest

from tests.support.post_fixtures import inject, post
from vault.repository import open_vault
from vault.store import catalog_read
from vault.store.index import index_key, open_db


@pytest.fixture
def unlocked(vault_env):
    inject(vault_env.path, [post(f"p{i}", 1 + i, f"post number {i}") for i in range(8)])
    with open_vault(vault_env.path) as vault:
        vault.unlock(vault_env.identity_file)
        yield vault


def watch(cat) -> list[tuple[str, bool]]:
    """Every statement the catalog's connection runs from now on, with whether a transaction was
    open when it started."""
    seen: list[tuple[str, bool]] = []

    def trace(cursor, sql, bindings):
        seen.append((sql.split()[0].upper(), cat.db.in_transaction))
        return True

    cat.db.exec_trace = trace
    return seen


def record_ids(cat) -> list[str]:
    return [rec["id"] for rec in cat.query()]


def test_lookups_in_a_batch_share_read_transactions_of_at_most_read_batch(unlocked, monkeypatch):
    monkeypatch.setattr(catalog_read, "READ_BATCH", 3)
    monkeypatch.setattr(catalog_read, "monotonic", lambda: 1000.0)  # counted, not timed
    cat = unlocked.catalog()
    ids = record_ids(cat)
    seen = watch(cat)
    for rid in ids[:2]:  # outside a batch: each lookup on its own
        cat.digest(rid)
    assert seen == [("SELECT", False), ("SELECT", False)]
    seen.clear()
    with cat.batched_reads():
        for rid in ids[:7]:
            assert cat.digest(rid)
        assert cat.db.in_transaction
    assert not cat.db.in_transaction
    assert [s for s in seen if s[0] == "SELECT"] == [("SELECT", True)] * 7
    # Seven lookups, three to a transaction: three transactions, each begun and committed.
    assert [s[0] for s in seen if s[0] != "SELECT"] == ["BEGIN", "COMMIT", "BEGIN", "COMMIT", "BEGIN", "COMMIT"]


def test_a_read_transaction_serves_no_lookup_after_read_seconds(unlocked, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(catalog_read, "monotonic", lambda: clock[0])
    cat = unlocked.catalog()
    ids = record_ids(cat)
    seen = watch(cat)
    with cat.batched_reads():
        assert cat.digest(ids[0]) and cat.digest(ids[1])
        clock[0] += catalog_read.READ_SECONDS / 2
        assert cat.digest(ids[2])
        clock[0] += catalog_read.READ_SECONDS  # the importer was busy elsewhere meanwhile
        assert cat.digest(ids[3])
    assert [s[0] for s in seen if s[0] != "SELECT"] == ["BEGIN", "COMMIT", "BEGIN", "COMMIT"]


def test_a_writer_waits_only_until_the_batch_ends_its_read_transaction(unlocked, vault_env):
    cat = unlocked.catalog()
    first, second = record_ids(cat)[:2]
    other = open_db(vault_env.path / "index" / "catalog.db", index_key(unlocked.keys.writer_key), busy_ms=0)
    try:
        with cat.batched_reads():
            assert cat.digest(first)
            # The read transaction holds SQLite's shared lock: another process cannot commit.
            with pytest.raises(apsw.BusyError):
                other.execute("UPDATE records SET visibility='public' WHERE id=?", (first,))
            cat.end_reads()  # as an import does before it waits for its workers
            other.execute("UPDATE records SET visibility='public' WHERE id=?", (first,))
            # The next lookup begins a new read transaction, which sees the commit.
            assert cat.digest(second)
            assert cat.get(first)["visibility"] == "public"
    finally:
        other.close()


def test_a_write_in_a_batch_ends_the_read_transaction_and_later_lookups_see_it(unlocked):
    cat = unlocked.catalog()
    first, second = record_ids(cat)[:2]
    seen = watch(cat)
    with cat.batched_reads():
        assert cat.get(first)["tags"] == []
        cat.stage({"op": "curate", "id": first, "add": ["batched"]})  # BEGIN IMMEDIATE, not nested
        cat.flush()
        assert not cat.db.in_transaction
        assert cat.get(first)["tags"] == ["batched"]
        assert cat.get(second)["tags"] == []
    statements = [s[0] for s in seen if s[0] in ("BEGIN", "COMMIT", "ROLLBACK")]
    assert statements[:3] == ["BEGIN", "COMMIT", "BEGIN"] and "ROLLBACK" not in statements
    assert not cat.db.in_transaction


def test_a_batch_ended_by_an_error_reports_that_error(unlocked):
    cat = unlocked.catalog()
    rid = record_ids(cat)[0]
    with pytest.raises(KeyError, match="the import's own"):
        with cat.batched_reads():
            assert cat.digest(rid)
            raise KeyError("the import's own")
    assert not cat.db.in_transaction
    assert cat.digest(rid)


def test_prefetched_rows_leave_the_data_out_until_a_record_is_read_whole(unlocked):
    cat = unlocked.catalog()
    ids = record_ids(cat)
    whole = {rid: cat.get_raw(rid) for rid in ids}
    digests = {rid: cat.digest(rid) for rid in ids}
    seen: list[str] = []
    cat.db.exec_trace = lambda cursor, sql, bindings: seen.append(" ".join(sql.split())) or True
    cat.prefetch(ids)
    assert len(seen) == 1 and "data" not in seen[0]
    assert [cat.digest(rid) for rid in ids[:4]] == [digests[rid] for rid in ids[:4]]  # asked no more
    assert len(seen) == 1
    assert cat.get_raw(ids[4]) == whole[ids[4]]  # its data, read now: one query
    assert seen[1:] == ["SELECT data FROM records WHERE n=?"]
    assert cat.get(ids[4])["id"] == ids[4]
    assert [q for q in seen if "data" in q] == ["SELECT data FROM records WHERE n=?"]  # not again
    assert cat.get_raw("r_not_there") is None
