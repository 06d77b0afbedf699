"""Media stored by worker processes (a big import): the same records and objects as storing them
in the importer's process, and the same answers to damaged members, duplicates, leftovers of an
interrupted run, a worker that dies and a full disk.

The size thresholds are lowered so that a small export starts the workers."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import zipfile

import pytest

from tests.support.builders import jpeg, write_zip
from tests.support.media_fixtures import camera_roll
from vault.errors import ExitCode
from vault.importing import sealing
from vault.importing.archive import ArchiveMemberError
from vault.importing.archive.portable import open_spec, read_spec


@pytest.fixture
def workers(monkeypatch):
    """Workers start at the first media file; the list holds every pool started."""
    started: list = []

    class Counted(sealing.SealPool):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(sealing, "MIN_BYTES", 0)
    monkeypatch.setattr(sealing, "START_AFTER", 0)
    monkeypatch.setattr(sealing, "SealPool", Counted)
    return started


def _media(env, vault_dir=None) -> list[dict]:
    args = ("--vault", vault_dir) if vault_dir else ()
    res = env.run(*args, "list", "--json", "--kind", "media")
    assert res.code == 0, res.err
    return sorted(res.jsonl(), key=lambda r: r["filename"])


def _objects(vault_dir) -> set[str]:
    return {p.name for p in (vault_dir / "objects").rglob("*") if p.is_file()}


def _comparable(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in ("provenance",)}


def test_workers_store_what_the_importer_would_have(workers, vault_env, template_vault, tmp_path, monkeypatch):
    roll = camera_roll(tmp_path / "roll", n=12, big=1)  # twelve photos and one streamed 9 MiB file
    res = vault_env.run("import", roll)
    assert res.code == 0, res.err
    assert len(workers) == 1  # the photos went through the worker processes
    with_workers = _media(vault_env)

    # The same export into a copy of the same vault (same keys), stored in this process.
    monkeypatch.setattr(sealing, "MIN_BYTES", 1 << 60)
    here = tmp_path / "here"
    shutil.copytree(template_vault[0], here)
    assert vault_env.run("--vault", here, "import", roll).code == 0
    assert len(workers) == 1
    assert [_comparable(r) for r in with_workers] == [_comparable(r) for r in _media(vault_env, here)]
    assert _objects(vault_env.path) == _objects(here)
    assert len(with_workers) == 13
    photo = with_workers[0]
    assert (photo["mime"], photo["width"], photo["height"]) == ("image/jpeg", 6, 4)
    assert photo["taken_at"] == "2023-05-01T08:00:00Z"  # 10:00 at +02:00, from EXIF
    # Every object decrypts to its name and matches its checksum line.
    assert vault_env.run("check", "--read-data").code == 0


@pytest.mark.parametrize("damage", ["crc", "local-name"])
def test_a_damaged_member_is_a_skipped_item_and_the_rest_is_stored(damage, workers, vault_env, tmp_path):
    photos = {f"IMG_{i}.jpg": jpeg((i * 40, 10, 10), (5, 5)) for i in range(3)}
    path = write_zip(tmp_path / "roll.zip", photos, compression=zipfile.ZIP_STORED)
    raw = bytearray(path.read_bytes())
    if damage == "crc":
        at = raw.index(photos["IMG_1.jpg"]) + 200
        raw[at] ^= 0xFF
    else:  # the local header names another file than the central directory
        at = raw.index(b"IMG_1.jpg")
        raw[at:at + 9] = b"IMG_X.jpg"
    path.write_bytes(bytes(raw))
    res = vault_env.run("--json", "import", path)
    assert res.code == ExitCode.PARTIAL, res.err
    report = res.json()
    assert [s["path"] for s in report["skipped"]] == ["IMG_1.jpg"]
    assert "IMG_1.jpg" in report["skipped"][0]["reason"]
    assert report["added"]["media"] == 2
    assert {r["filename"] for r in _media(vault_env)} == {"IMG_0.jpg", "IMG_2.jpg"}
    assert len(workers) == 1
    assert vault_env.run("check", "--read-data").code == 0


def test_the_same_bytes_twice_make_one_object(workers, vault_env, tmp_path):
    same = jpeg((9, 9, 9), (8, 8))
    roll = tmp_path / "roll"
    roll.mkdir()
    for i in range(6):
        (roll / f"copy_{i}.jpg").write_bytes(same)
    res = vault_env.run("--json", "import", roll)
    assert res.code == 0, res.err
    assert len(_objects(vault_env.path)) == 1
    assert len(_media(vault_env)) == 1
    assert vault_env.run("check", "--read-data").code == 0


def test_an_object_left_by_an_interrupted_run_is_written_again(workers, vault_env, tmp_path):
    from vault.repository import open_vault

    roll = camera_roll(tmp_path / "roll", n=2)
    first = (roll / "IMG_0000.jpg").read_bytes()
    with open_vault(vault_env.path, exclusive=True) as v:
        v.unlock(vault_env.identity_file)
        oid = v.objects.object_id(v.keys.writer_key, first)
        path = v.objects.path(oid)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a file, never synced")  # and no checksum line names it
    assert vault_env.run("import", roll).code == 0
    assert path.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert vault_env.run("check", "--read-data").code == 0


def test_workers_that_cannot_start_leave_the_import_to_this_process(workers, vault_env, tmp_path, monkeypatch):
    """No `python -m` to be had (a frozen build, a broken interpreter): the media are stored here."""
    monkeypatch.setattr(sealing, "WORKER", ["-c", "import sys; sys.exit(1)"])
    roll = camera_roll(tmp_path / "roll", n=5)
    res = vault_env.run("--json", "import", roll)
    assert res.code == 0, res.err
    assert len(workers) == 1 and res.json()["added"]["media"] == 5
    assert len(_media(vault_env)) == 5 == len(_objects(vault_env.path))
    assert vault_env.run("check", "--read-data").code == 0


# A worker that dies (as if killed) when its third job comes: killed from the test instead, a
# worker could answer every job before the importer took the replies that set off the kill.
# With DIE_MARK set, only the first worker to create that file dies.
DIES_AT_THIRD_JOB = ["-c", "\n".join([
    "import os",
    "from vault.importing import sealworker",
    "mark = os.environ.get('DIE_MARK')",
    "dies = True",
    "if mark:",
    "    try:",
    "        os.close(os.open(mark, os.O_CREAT | os.O_EXCL))",
    "    except FileExistsError:",
    "        dies = False",
    "real, jobs = sealworker._seal, []",
    "def seal(*args):",
    "    jobs.append(1)",
    "    if dies and len(jobs) == 3:",
    "        os._exit(9)",
    "    return real(*args)",
    "sealworker._seal = seal",
    "sealworker.main()",
])]


def test_workers_that_die_stop_the_import_and_nothing_shows(workers, vault_env, tmp_path, monkeypatch):
    monkeypatch.setattr(sealing, "MAX_WORKERS", 2)
    monkeypatch.setattr(sealing, "WORKER", DIES_AT_THIRD_JOB)
    roll = camera_roll(tmp_path / "roll", n=40)
    res = vault_env.run("import", roll)
    assert res.code == ExitCode.UNEXPECTED
    assert "vault: error: a worker process storing media stopped unexpectedly" in res.err
    assert "Traceback" not in res.err
    assert _media(vault_env) == []
    assert vault_env.run("check").code == 0


def test_the_jobs_of_a_worker_that_dies_go_to_the_others(workers, vault_env, tmp_path, monkeypatch):
    monkeypatch.setattr(sealing, "MAX_WORKERS", 2)
    monkeypatch.setattr(sealing.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(sealing, "WORKER", DIES_AT_THIRD_JOB)
    monkeypatch.setenv("DIE_MARK", str(tmp_path / "first-worker-dies"))
    roll = camera_roll(tmp_path / "roll", n=40)
    res = vault_env.run("--json", "import", roll)
    assert res.code == 0, res.err
    assert (tmp_path / "first-worker-dies").exists()
    assert [w.proc.returncode for w in workers[0]._workers].count(9) == 1
    assert res.json()["added"]["media"] == 40 == len(_media(vault_env))
    assert vault_env.run("check", "--read-data").code == 0


def test_the_writer_key_is_never_on_a_command_line_or_in_the_environment(workers, vault_env, tmp_path, monkeypatch):
    from vault.repository import open_vault

    seen: list[tuple[list[str], dict]] = []
    real = subprocess.Popen

    def spy(args, *rest, **kwargs):
        seen.append(([str(a) for a in args], dict(kwargs.get("env") or {})))
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(sealing.subprocess, "Popen", spy)
    assert vault_env.run("import", camera_roll(tmp_path / "roll", n=2)).code == 0
    with open_vault(vault_env.path) as v:
        v.unlock(vault_env.identity_file)
        key_hex = v.keys.writer_key.hex()
    assert any(sealing.WORKER[-1] in args for args, _ in seen), seen
    for args, env in seen:
        assert key_hex not in " ".join(args)
        assert not any(key_hex in value for value in env.values())


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_open_spec_and_read_spec_apply_the_checks_entry_open_does(compression, tmp_path):
    data = random.Random(1).randbytes(10_000)  # does not deflate: the cut below falls inside it
    path = write_zip(tmp_path / "a.zip", {"dir/file.bin": data}, compression=compression)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("dir/file.bin")
    spec = {"kind": "zip", "path": str(path), "offset": info.header_offset, "method": info.compress_type,
            "stored": info.compress_size, "size": info.file_size, "crc": info.CRC, "flags": info.flag_bits,
            "name": info.orig_filename}
    with open_spec(spec, "'dir/file.bin'", "dir/file.bin", len(data)) as stream:
        assert stream.read() == data
    assert read_spec(spec, "'dir/file.bin'", "dir/file.bin", len(data)) == data
    # A declared size that differs from the data, a CRC that does not match, a wrong offset.
    for bad in (dict(spec, size=len(data) - 1), dict(spec, crc=spec["crc"] ^ 1), dict(spec, offset=spec["offset"] + 1)):
        with pytest.raises(ArchiveMemberError) as caught:
            with open_spec(bad, "'dir/file.bin'", "dir/file.bin", bad["size"]) as stream:
                stream.read()
        assert caught.value.member == "dir/file.bin" and "dir/file.bin" in caught.value.message
        with pytest.raises(ArchiveMemberError) as caught:
            read_spec(bad, "'dir/file.bin'", "dir/file.bin", bad["size"])
        assert caught.value.member == "dir/file.bin" and "dir/file.bin" in caught.value.message
    # The export cut short after the member's first bytes (a download that stopped).
    with open(path, "r+b") as fh:
        fh.truncate(info.header_offset + 30 + len(b"dir/file.bin") + 100)
    with pytest.raises(ArchiveMemberError) as caught:
        read_spec(spec, "'dir/file.bin'", "dir/file.bin", len(data))
    assert caught.value.member == "dir/file.bin" and "dir/file.bin" in caught.value.message
    json.dumps(spec)  # what travels to a worker is plain JSON


def _facebook_zip(path, thumbnail: bool = True):
    """The Facebook fixture, with a video thumbnail a post names (not media of its own, yet a
    file in the media folders, so sent ahead and never claimed)."""
    from tests.support.meta_fixtures import fb_export, fb_posts, meta_json

    files = fb_export("2024")
    if thumbnail:
        posts = fb_posts("2024")
        posts[3]["attachments"][0]["data"][0]["media"]["thumbnail"] = {"uri": THUMBNAIL}
        files[FB_POSTS] = meta_json(posts)
        files[THUMBNAIL] = jpeg((1, 2, 3))
    return write_zip(path, files)


FB_POSTS = "your_facebook_activity/posts/your_posts__check_ins__photos_and_videos_1.json"
THUMBNAIL = "your_facebook_activity/posts/media/videos/thumb_353101234_5.jpg"


@pytest.fixture
def sent_ahead(workers, monkeypatch):
    """The members the pipeline was told to store ahead, and those whose jobs an item claimed."""
    from vault.importing.run import Run

    told: list[str] = []
    real = Run.store_ahead

    def store_ahead(self, media):
        told.extend(entry.rel for entry, _ in media)
        return real(self, media)

    monkeypatch.setattr(Run, "store_ahead", store_ahead)
    real_adopt = sealing.SealPool.adopt

    def adopt(self, job, tag):
        claimed.append(tag[0].member)
        return real_adopt(self, job, tag)

    claimed: list[str] = []
    monkeypatch.setattr(sealing.SealPool, "adopt", adopt)
    return told, claimed


def test_media_sent_ahead_give_the_same_vault_and_the_unclaimed_leave_nothing(sent_ahead, workers, vault_env,
                                                                               template_vault, tmp_path, monkeypatch):
    path = _facebook_zip(tmp_path / "fb.zip")
    res = vault_env.run("--json", "import", path)
    assert res.code == 0, res.err
    told, claimed = sent_ahead
    assert THUMBNAIL in told and len(workers) == 1
    assert sorted(claimed) == sorted(set(told) - {THUMBNAIL}) and len(claimed) == 6
    media = _media(vault_env)
    # Every object is a media record's: the thumbnail sent ahead for nothing was removed again.
    assert len(_objects(vault_env.path)) == len(media) == res.json()["added"]["media"]
    assert vault_env.run("check", "--read-data").code == 0

    monkeypatch.setattr(sealing, "MIN_BYTES", 1 << 60)  # the same export, stored in this process
    here = tmp_path / "here"
    shutil.copytree(template_vault[0], here)
    assert vault_env.run("--vault", here, "import", path).code == 0
    assert [_comparable(r) for r in media] == [_comparable(r) for r in _media(vault_env, here)]
    assert _objects(vault_env.path) == _objects(here)


def test_a_newer_export_sends_nothing_ahead_that_is_stored(sent_ahead, workers, vault_env, tmp_path, monkeypatch):
    first = _facebook_zip(tmp_path / "fb-1.zip", thumbnail=False)
    assert vault_env.run("import", first).code == 0
    stored = _objects(vault_env.path)
    told, _ = sent_ahead
    told.clear()
    sent: list = []
    real_send = sealing.SealPool.send_ahead
    monkeypatch.setattr(sealing.SealPool, "send_ahead", lambda self, p, n: sent.append(n) or real_send(self, p, n))
    from tests.support.meta_fixtures import fb_export
    from vault.store.catalog_read import CatalogReader

    asked: list[str] = []  # fingerprint hints looked up one by one
    real_hint = CatalogReader.hint

    def hint(self, key: str):
        if key.startswith("fp:"):
            asked.append(key)
        return real_hint(self, key)

    monkeypatch.setattr(CatalogReader, "hint", hint)

    newer = write_zip(tmp_path / "fb-2.zip", {**fb_export("2024"), "your_facebook_activity/posts/media/Mobileuploads_LvJWqglAvA/new_n.jpg": jpeg((7, 7, 7))})
    res = vault_env.run("--json", "import", newer)
    assert res.code == 0, res.err
    assert res.json()["added"]["media"] == 1
    assert len(_objects(vault_env.path) - stored) == 1
    assert len(told) == 7 and sent == ["new_n.jpg"]  # only the new photo was not stored before
    assert res.json()["unchanged"]["media"] == 6
    assert asked == []  # the stored ones were found by store_ahead's lookups, not asked for again
    assert vault_env.run("check", "--read-data").code == 0


# A `vault` command line whose imports start the workers at once, for tests that signal it.
FORCED = "from vault.importing import sealing; sealing.MIN_BYTES = sealing.START_AFTER = 0; from vault.cli import run; run()"


def _import_with_workers(vault_dir, roll):
    import os
    import sys

    from tests.support.env import REPO

    return subprocess.Popen([sys.executable, "-c", FORCED, "import", str(roll)], env=dict(os.environ, VAULT_DIR=str(vault_dir)),
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _children(pid: int) -> set[int]:
    from pathlib import Path

    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found |= {int(c) for c in task.read_text().split()}
    return found


def _gone(pids: set[int], timeout: float = 15.0) -> bool:
    import os
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(os.path.exists(f"/proc/{p}") and "Z" not in _state(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_kill_9_while_workers_store_then_rerun_gives_the_same_vault(vault_env, template_vault, tmp_path):
    import random
    import signal
    import time

    from tests.support.env import run_subprocess

    roll = camera_roll(tmp_path / "roll", n=80, big=2)
    ref_dir = tmp_path / "ref"
    shutil.copytree(template_vault[0], ref_dir)
    assert run_subprocess(["import", roll], env={"VAULT_DIR": str(ref_dir)}).returncode == 0
    rng = random.Random(77)
    for _ in range(3):
        proc = _import_with_workers(vault_env.path, roll)
        time.sleep(rng.uniform(0.3, 1.2))
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _gone(workers), "worker processes outlived the killed import"
        assert vault_env.run("check", "--read-data").code == 0
    proc = _import_with_workers(vault_env.path, roll)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert [_comparable(r) for r in _media(vault_env)] == [_comparable(r) for r in _media(vault_env, ref_dir)]
    assert _objects(vault_env.path) >= _objects(ref_dir)
    assert vault_env.run("check", "--read-data").code == 0


def test_ctrl_c_while_workers_store_exits_130_and_leaves_nothing(vault_env, tmp_path):
    import signal
    import time

    roll = camera_roll(tmp_path / "roll", n=40, big=8)
    proc = _import_with_workers(vault_env.path, roll)
    deadline = time.monotonic() + 30
    while not _children(proc.pid) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    workers = _children(proc.pid)
    time.sleep(0.1)  # the workers are storing the big files
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0 or _media(vault_env):
        # Committed before the signal took effect (a fast machine): then all of it, never a part.
        assert len(_media(vault_env)) == 48
        pytest.skip("the import was committed before the signal arrived")
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert b"vault: error: interrupted" in err and b"Traceback" not in err
    assert _gone(workers)
    assert _media(vault_env) == []
    assert list((vault_env.path / "tmp").iterdir()) == []
    assert vault_env.run("check", "--read-data").code == 0


def test_a_member_to_stream_goes_to_the_workers_before_the_small_ones_waiting(tmp_path, monkeypatch):
    """A video sent after a thousand photos would be streamed alone at the end of the import, the
    other cores idle: it is sent as soon as a worker has room, ahead or not."""
    from vault.store.objects import SMALL, ObjectStore

    class Recording:
        def __init__(self, setup: bytes, pool) -> None:
            self.waiting: dict = {}
            self.alive = True
            self.sent: list[str] = []

        def send(self, job) -> bool:
            self.waiting[job.id] = job
            self.sent.append(json.loads(job.line)["name"])
            job.sent = True
            return True

        def stop(self) -> None:
            pass

    monkeypatch.setattr(sealing, "_Worker", Recording)
    (tmp_path / "tmp").mkdir()
    pool = sealing.SealPool(ObjectStore(tmp_path / "objects", tmp_path / "tmp"), b"k" * 32, [], workers=1)
    try:
        worker = pool._workers[0]
        for i in range(12):
            pool.submit(i, {"size": 1000}, f"photo{i}")
        pool.submit("v", {"size": SMALL + 1}, "video")
        ahead = [pool.send_ahead({"size": 2000}, "later-photo"), pool.send_ahead({"size": 3 * SMALL}, "later-video")]
        assert worker.sent == [f"photo{i}" for i in range(sealing.QUEUE_PER_WORKER)]  # the worker is full
        with pool.lock:  # it answers everything it has
            worker.waiting.clear()
            pool.feed(worker)
        assert worker.sent[sealing.QUEUE_PER_WORKER:] == ["video", "later-video", "photo8", "photo9", "photo10",
                                                          "photo11", "later-photo"]
        assert all(job.sent for job in ahead)
    finally:
        pool.close()


def test_checksum_lines_are_written_as_the_workers_go_and_an_interrupted_import_keeps_them(
        workers, vault_env, tmp_path, monkeypatch):
    """Memory must not grow with the export: every few objects are synced and get their lines.
    An import stopped after that leaves durable, listed objects that the next one adopts."""
    from vault.importing import media
    from vault.importing import run as run_module
    from vault.store.checksums import read_all

    monkeypatch.setattr(run_module, "CHECKSUM_BATCH", 4)
    roll = camera_roll(tmp_path / "roll", n=20)
    real, taken = media._sealed, [0]

    def sealed_then_stop(run, item, hint_key, reply):
        taken[0] += 1
        if taken[0] == 15:
            raise KeyboardInterrupt
        return real(run, item, hint_key, reply)

    monkeypatch.setattr(media, "_sealed", sealed_then_stop)
    res = vault_env.run("import", roll)
    assert res.code == ExitCode.INTERRUPTED, res.err
    listed = {p for p in read_all(vault_env.path / "checksums") if p.startswith("objects/")}
    assert len(listed) >= 12  # three batches of four, written before the stop
    assert {p.rsplit("/", 1)[1] for p in listed} <= _objects(vault_env.path)
    assert _media(vault_env) == []  # no record: the catalog commit never came
    assert vault_env.run("check").code == 0  # every line matches its file

    monkeypatch.setattr(media, "_sealed", real)
    res = vault_env.run("--json", "import", roll)
    assert res.code == 0, res.err
    assert res.json()["added"]["media"] == 20 == len(_media(vault_env)) == len(_objects(vault_env.path))
    assert vault_env.run("check", "--read-data").code == 0


def test_the_same_bytes_after_their_checksum_lines_were_written_are_not_looked_up_again(
        workers, vault_env, tmp_path, monkeypatch):
    """A copy of a photo coming after the first one's line was written (every CHECKSUM_BATCH
    objects) is known as this import's own: the vault's checksum files are not read for it."""
    from vault.importing import run as run_module
    from vault.store import checksums

    monkeypatch.setattr(run_module, "CHECKSUM_BATCH", 2)
    roll = camera_roll(tmp_path / "roll", n=12)
    (roll / "zz_copy_of_first.jpg").write_bytes((roll / "IMG_0000.jpg").read_bytes())
    reads = []
    real = checksums.read_all
    monkeypatch.setattr(checksums, "read_all", lambda root: reads.append(root) or real(root))
    res = vault_env.run("--json", "import", roll)
    assert res.code == 0, res.err
    assert reads == []
    assert len(_media(vault_env)) == 12 == len(_objects(vault_env.path))
    assert vault_env.run("check", "--read-data").code == 0
