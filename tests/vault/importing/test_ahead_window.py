"""Members sent to the workers ahead of their items, a window at a time (``Run.send_ahead``):
memory holds at most ``AHEAD_WINDOW`` of their jobs whatever the number of photos, the vault is the
one storing everything in this process gives, and no member is stored twice, also when its item
comes before the window reached it.

The size thresholds are lowered so that a small export starts the workers."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from tests.support.builders import jpeg, write_zip
from tests.support.meta_fixtures import fb_export
from vault.importing import run as run_module
from vault.importing import sealing

EXTRA = 40  # photos in a media folder that no post names (found by scanning, yielded last)


def _export(path):
    files = fb_export("2024")
    for i in range(EXTRA):
        files[f"your_facebook_activity/posts/media/Mobileuploads_LvJWqglAvA/{10**15 + i}_n.jpg"] = jpeg((i * 6, 255 - i * 6, (i * 37) % 256), size=(8, 6))
    return write_zip(path, files)


@pytest.fixture
def watched(monkeypatch):
    """Lowered thresholds; every name sent to the workers (ahead or for an item that was not) and
    the most jobs that waited for their items after any ``send_ahead``."""
    seen: dict = {"sent": Counter(), "most_waiting": 0}
    monkeypatch.setattr(sealing, "MIN_BYTES", 0)
    monkeypatch.setattr(sealing, "START_AFTER", 0)
    real_ahead, real_submit, real_send = sealing.SealPool.send_ahead, sealing.SealPool.submit, run_module.Run.send_ahead

    def send_ahead(self, portable, name):
        seen["sent"][name] += 1
        return real_ahead(self, portable, name)

    def submit(self, tag, portable, name):
        seen["sent"][name] += 1
        return real_submit(self, tag, portable, name)

    def run_send(self):
        real_send(self)
        seen["most_waiting"] = max(seen["most_waiting"], len(self.ahead))

    monkeypatch.setattr(sealing.SealPool, "send_ahead", send_ahead)
    monkeypatch.setattr(sealing.SealPool, "submit", submit)
    monkeypatch.setattr(run_module.Run, "send_ahead", run_send)
    return seen


def _media(env, vault_dir) -> list[dict]:
    res = env.run("--vault", vault_dir, "list", "--json", "--kind", "media")
    assert res.code == 0, res.err
    return sorted(({k: v for k, v in r.items() if k != "provenance"} for r in res.jsonl()), key=lambda r: r["filename"])


def _objects(vault_dir) -> set[str]:
    return {p.name for p in (vault_dir / "objects").rglob("*") if p.is_file()}


@pytest.mark.parametrize("window, batch", [(3, 2), (1, 1), (10_000, 500)])
def test_a_window_of_jobs_ahead_gives_the_same_vault_and_stores_each_member_once(window, batch, watched, vault_env,
                                                                                 template_vault, tmp_path, monkeypatch):
    monkeypatch.setattr(run_module, "AHEAD_WINDOW", window)
    monkeypatch.setattr(run_module, "AHEAD_BATCH", batch)
    path = _export(tmp_path / "fb.zip")
    res = vault_env.run("--json", "import", path)
    assert res.code == 0, res.err
    assert res.json()["added"]["media"] == 6 + EXTRA
    # Never more jobs waiting for their items than the window and the batch that filled it.
    assert 0 < watched["most_waiting"] <= window + batch - 1
    # Each photo went to the workers once: an item that came before the window reached its
    # member was sent for itself, and its member was not sent ahead afterwards.
    assert len(watched["sent"]) == 6 + EXTRA and set(watched["sent"].values()) == {1}

    monkeypatch.setattr(sealing, "MIN_BYTES", 1 << 60)  # the same export, stored in this process
    here = tmp_path / "here"
    shutil.copytree(template_vault[0], here)
    assert vault_env.run("--vault", here, "import", path).code == 0
    assert _media(vault_env, vault_env.path) == _media(vault_env, here)
    assert _objects(vault_env.path) == _objects(here)
    assert vault_env.run("check", "--read-data").code == 0


def test_members_announced_in_two_calls_are_all_sent_ahead(watched, vault_env, tmp_path, monkeypatch):
    """An importer may call ``store_ahead`` once per folder: the second list is sent after what
    the window left of the first, none of it lost."""
    from vault.importing.run import Run

    monkeypatch.setattr(run_module, "AHEAD_WINDOW", 2)
    monkeypatch.setattr(run_module, "AHEAD_BATCH", 1)
    real = Run.store_ahead
    monkeypatch.setattr(Run, "store_ahead", lambda self, media: (real(self, media[:len(media) // 2]),
                                                                 real(self, media[len(media) // 2:]))[0])
    ahead: list[str] = []
    real_ahead = sealing.SealPool.send_ahead
    monkeypatch.setattr(sealing.SealPool, "send_ahead", lambda self, portable, name: ahead.append(name) or
                        real_ahead(self, portable, name))
    res = vault_env.run("--json", "import", _export(tmp_path / "fb.zip"))
    assert res.code == 0, res.err
    assert res.json()["added"]["media"] == 6 + EXTRA
    assert set(watched["sent"].values()) == {1}
    # Photos of the first list that the window held back went ahead once room was made, and so
    # did those of the second.
    assert f"{10**15 + 12}_n.jpg" in ahead and f"{10**15 + EXTRA - 1}_n.jpg" in ahead
