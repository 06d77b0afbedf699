"""An export never imported before has its files hashed and, when big, its worker processes
started while its importer is still being chosen (``headstart``): the import then uses them, and
whatever it did not need (workers of an export whose media were all stored, everything after an
export nobody recognised) is ended with it, leaving no process behind."""

from __future__ import annotations

import pytest

from tests.support.builders import jpeg, write_zip
from tests.support.meta_fixtures import fb_export
from vault.importing import pipeline, provenance, sealing


@pytest.fixture
def started(monkeypatch):
    """Every worker process spawned and every hashing child started, and what had been started
    by the time the importer was chosen; the thresholds lowered so a small export is big."""
    seen: dict[str, list] = {"spawned": [], "hashing": [], "at_choice": []}
    real_spawn, real_child, real_choose = sealing.spawn, provenance._HashChild, pipeline.choose_importer

    def spawn():
        proc = real_spawn()
        seen["spawned"].append(proc)
        return proc

    class Child(real_child):  # type: ignore[misc, valid-type]
        def __init__(self, path: str) -> None:
            super().__init__(path)
            seen["hashing"].append(self)

    def choose(src, name):
        seen["at_choice"].append((len(seen["spawned"]), len(seen["hashing"])))
        return real_choose(src, name)

    monkeypatch.setattr(sealing, "spawn", spawn)
    monkeypatch.setattr(provenance, "_HashChild", Child)
    monkeypatch.setattr(pipeline, "choose_importer", choose)
    monkeypatch.setattr(sealing, "MIN_BYTES", 0)
    monkeypatch.setattr(sealing, "START_AFTER", 0)
    return seen


def _ended(seen: dict[str, list]) -> bool:
    return all(proc.poll() is not None for proc in seen["spawned"]) and all(
        child.proc.poll() is not None for child in seen["hashing"])


def test_a_new_export_is_hashed_and_its_workers_started_before_its_importer_is_chosen(started, vault_env, tmp_path,
                                                                                      monkeypatch):
    pools: list = []
    real_pool = sealing.SealPool

    class Pool(real_pool):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(sealing, "SealPool", Pool)
    export = write_zip(tmp_path / "facebook-1.zip", fb_export("2024"))
    res = vault_env.run("--json", "import", export)
    assert res.code == 0, res.err
    assert res.json()["added"]["media"] == 6
    assert started["at_choice"] == [(sealing.worker_count(), 1)]
    # The pool is made of the processes started ahead, not of new ones.
    assert len(pools) == 1 and {w.proc.pid for w in pools[0]._workers} == {p.pid for p in started["spawned"]}
    assert _ended(started)
    assert vault_env.run("check", "--read-data").code == 0


def test_the_same_export_again_starts_nothing_ahead(started, vault_env, tmp_path):
    export = write_zip(tmp_path / "facebook-1.zip", fb_export("2024"))
    assert vault_env.run("import", export).code == 0
    started["spawned"].clear()
    started["hashing"].clear()
    started["at_choice"].clear()
    res = vault_env.run("--json", "import", export)
    assert res.code == 0, res.err
    assert res.json()["unchanged"]["media"] == 6
    # Its importer is remembered (no choice made), its hash too, and nothing is stored.
    assert started == {"spawned": [], "hashing": [], "at_choice": []}


def test_workers_started_ahead_for_an_export_whose_media_are_stored_are_ended(started, vault_env, tmp_path,
                                                                             monkeypatch):
    assert vault_env.run("import", write_zip(tmp_path / "facebook-1.zip", fb_export("2024"))).code == 0
    started["spawned"].clear()
    pools: list = []
    monkeypatch.setattr(sealing, "START_AFTER", 1 << 40)  # the one new photo is not worth the workers
    real_init = sealing.SealPool.__init__
    monkeypatch.setattr(sealing.SealPool, "__init__", lambda self, *a, **k: pools.append(self) or real_init(self, *a, **k))
    newer = write_zip(tmp_path / "facebook-2.zip", {
        **fb_export("2024"), "your_facebook_activity/posts/media/Mobileuploads_LvJWqglAvA/new_n.jpg": jpeg((7, 7, 7))})
    res = vault_env.run("--json", "import", newer)
    assert res.code == 0, res.err
    assert res.json()["added"]["media"] == 1
    assert len(started["spawned"]) == sealing.worker_count() and pools == []
    assert _ended(started)


def test_an_export_nobody_recognises_leaves_no_process_running(started, vault_env, tmp_path):
    odd = write_zip(tmp_path / "odd.zip", {"notes/readme.txt": b"nothing any importer reads" * 100})
    res = vault_env.run("import", odd)
    assert res.code != 0 and "not a recognised export" in res.err
    assert started["spawned"] and started["hashing"]  # started ahead, then ended
    assert _ended(started)


def test_a_dry_run_starts_nothing_ahead(started, vault_env, tmp_path):
    res = vault_env.run("import", "--dry-run", write_zip(tmp_path / "facebook-1.zip", fb_export("2024")))
    assert res.code == 0, res.err
    assert started["spawned"] == []
