"""Media stored by worker processes while the importer reads on.

Storing a photo is reading it from the export, an HMAC for its name, encryption, a SHA-256 of the
ciphertext and a write: in one process these take turns with the importer's own work for the
interpreter lock.  A big import (``MIN_BYTES`` of members or more) therefore starts a few worker
processes (``sealworker``), sends each member's description (``Entry.portable``: where it is, not
its bytes) and gets back the object's name, checksum and the media facts probed from its head.
Replies are taken in the order the items came, so the records an import stages are the same as
without workers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import deque
from typing import IO, TYPE_CHECKING, Any, Iterable

from ..errors import StorageError, VaultError
from ..store.codec import load_json
from ..store.objects import SMALL

if TYPE_CHECKING:
    from ..store.objects import ObjectStore

# Below this many bytes of members an import stores its media itself: starting the workers
# (about a tenth of a second each) would cost more than they save.  Above it, the workers start
# once the import has stored START_AFTER bytes of new objects itself.
MIN_BYTES = 64 << 20
START_AFTER = 16 << 20
MAX_WORKERS = 4
# Jobs sent ahead to each worker: enough to keep it busy while replies travel.
QUEUE_PER_WORKER = 8
# Items an import may run ahead of the workers (about a kilobyte each while they wait).
MAX_BACKLOG = 4096
# Seconds between the file system syncs made while the workers write.
SYNC_EVERY = 1.0
# How a worker is started: this Python, running the worker module.
WORKER = ["-m", "vault.importing.sealworker"]


class WorkerGone(VaultError):
    """A worker process ended before answering (killed, out of memory)."""


class _Job:
    """One member to store: its message until sent, then the reply (or the error) once answered."""

    __slots__ = ("id", "line", "tag", "sent", "reply", "error")

    def __init__(self, job_id: int, line: bytes, tag: Any) -> None:
        self.id = job_id
        self.line = line
        self.tag = tag
        self.sent = False  # in a worker's pipe (a job may wait in both backlogs: sent once)
        self.reply: dict[str, Any] | None = None
        self.error: VaultError | None = None


class _Worker:
    """One worker process and the thread that reads its replies."""

    def __init__(self, setup: bytes, pool: "SealPool") -> None:
        self.proc = subprocess.Popen([sys.executable, *WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=_child_env())
        self.waiting: dict[int, _Job] = {}  # sent, not answered (guarded by the pool's lock)
        self.alive = True
        self.pool = pool
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.requests: IO[bytes] = self.proc.stdin
        self.requests.write(setup)
        self.requests.flush()
        self.reader = threading.Thread(target=self._read_replies, args=(self.proc.stdout,), daemon=True,
                                       name="vault-seal-replies")
        self.reader.start()

    def send(self, job: _Job) -> bool:
        """Send a job (the pool's lock is held).  At most QUEUE_PER_WORKER jobs are in the pipe,
        a few KiB, so the write never waits for the worker."""
        self.waiting[job.id] = job
        try:
            self.requests.write(job.line)
            self.requests.flush()
        except (OSError, ValueError):  # the worker is gone, or its pipe closed by ``stop``
            self.waiting.pop(job.id)
            return False
        job.sent = True
        return True

    def _read_replies(self, replies: IO[bytes]) -> None:
        for line in replies:
            reply = load_json(line)
            with self.pool.lock:
                job = self.waiting.pop(reply["id"], None)
                if job is not None:
                    job.reply, job.line = reply, b""
                self.pool.answers += 1
                self.pool.feed(self)
                self.pool.answered.notify_all()
        with self.pool.lock:
            # Gone (killed, out of memory): what it had not answered goes to the others, and
            # fails when none is left.
            self.alive = False
            waiting, self.waiting = self.waiting, {}
            self.pool.requeue(sorted(waiting.values(), key=lambda job: job.id))
            self.pool.answered.notify_all()

    def stop(self) -> None:
        # Under the lock: the reply thread sends the next jobs while holding it.
        with self.pool.lock:
            try:
                self.requests.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)


def _streams(portable: dict[str, Any]) -> bool:
    """True for a member too big to be read whole: the worker streams it (``ObjectStore``)."""
    size = portable.get("size")
    return size is None or size > SMALL


def _answered(job: _Job) -> bool:
    return job.reply is not None or job.error is not None


def _fail(jobs: Iterable[_Job]) -> None:
    for job in jobs:
        if job.reply is None:
            job.error = WorkerGone("a worker process storing media stopped unexpectedly",
                                   hint="run the import again; what was stored is reused")


def dump_line(obj: dict[str, Any]) -> bytes:
    """One message of the worker protocol: a JSON object on one line."""
    try:
        import orjson

        return orjson.dumps(obj) + b"\n"
    except (ImportError, TypeError):  # a string orjson refuses (a lone surrogate): escaped by json
        return json.dumps(obj).encode("ascii") + b"\n"


def _child_env() -> dict[str, str]:
    """What the worker needs to start this same Python and find this same vault package (none
    of the vault's own settings: it is told everything it needs through its pipe)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)
    return env


def worker_count() -> int:
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


class SealPool:
    """Worker processes storing objects; ``submit`` a job, ``next_done`` the replies in order.

    Jobs wait in a backlog (descriptions only, a few hundred bytes each) and go to the workers
    as they free up, so the importer runs ahead to its next records instead of waiting for them.
    """

    def __init__(self, objects: "ObjectStore", writer_key: bytes, recipients: list[str], workers: int) -> None:
        setup = json.dumps({"objects": str(objects.root), "tmp": str(objects.tmpdir), "key": writer_key.hex(),
                            "recipients": list(recipients)}).encode("ascii") + b"\n"
        self.lock = threading.Lock()
        self.answered = threading.Condition(self.lock)  # notified whenever a job is answered
        # Jobs not sent yet.  First those that stream a big object (a video): started late, such
        # a stream would run alone at the end of the import, the other cores idle.  Then those
        # whose items wait for them, in the items' order; then those sent ahead of their items
        # (``send_ahead``) in the order they came.
        self._big: deque[_Job] = deque()
        self._urgent: deque[_Job] = deque()
        self._backlog: deque[_Job] = deque()
        self._workers: list[_Worker] = []
        if not sys.executable:
            raise OSError("no Python interpreter to start workers with")
        try:
            for _ in range(max(1, workers)):
                self._workers.append(_Worker(setup, self))
        except BaseException:
            for worker in self._workers:
                worker.stop()
            raise
        del setup
        self._queue: deque[_Job] = deque()
        self._failed: _Job | None = None  # the job next_done last raised for
        self._next_id = 0
        self.written: dict[str, str] = {}  # object id -> sha256 of the ciphertext a worker wrote
        self.answers = 0  # replies received (by the reader threads, under the lock)
        self._stop = threading.Event()
        self._syncer = threading.Thread(target=self._sync_now_and_then, args=(objects.root,), daemon=True,
                                        name="vault-seal-sync")
        self._syncer.start()

    def __len__(self) -> int:
        return len(self._queue)

    def submit(self, tag: Any, portable: dict[str, Any], name: str) -> None:
        """Store the member ``portable`` describes; ``tag`` comes back with its reply."""
        self._next_id += 1
        job = _Job(self._next_id, dump_line(dict(portable, id=self._next_id, name=name)), tag)
        self._queue.append(job)
        with self.lock:
            (self._big if _streams(portable) else self._urgent).append(job)
            self.feed(None)

    def send_ahead(self, portable: dict[str, Any], name: str) -> _Job:
        """Store a member before its item comes (``ExportSource.store_ahead``); ``adopt`` the
        job when it does."""
        self._next_id += 1
        job = _Job(self._next_id, dump_line(dict(portable, id=self._next_id, name=name)), None)
        with self.lock:
            (self._big if _streams(portable) else self._backlog).append(job)
            self.feed(None)
        return job

    def adopt(self, job: _Job, tag: Any) -> None:
        """A job sent ahead now belongs to an item: its reply comes in the item's turn, and if no
        worker has it yet it goes before the jobs whose items have not come (the importer takes
        replies in its items' order, so an early item's job must not wait behind the others)."""
        job.tag = tag
        self._queue.append(job)
        with self.lock:
            if not job.sent and not _answered(job):
                self._urgent.append(job)
                self.feed(None)

    def reply_of(self, job: _Job) -> dict[str, Any] | None:
        """The reply of a job sent ahead and never adopted, waiting for it (None if it failed)."""
        self._wait(job)
        return self._note(job.reply) if job.reply is not None else None

    def forget(self, oid: str) -> None:
        """An object written by a job nobody adopted, removed again: no checksum line for it."""
        self.written.pop(oid, None)

    def requeue(self, jobs: list[_Job]) -> None:
        """Jobs a worker took and never answered, first in line again (the lock is held)."""
        for job in jobs:
            job.sent = False
        self._urgent.extendleft(reversed(jobs))
        self.feed(None)

    def feed(self, worker: "_Worker | None") -> None:
        """Send backlog jobs to ``worker`` (or to any) while it has room (the lock is held).
        With no worker left alive, the backlog fails: nobody will answer it."""
        for w in [worker] if worker is not None else self._workers:
            while w.alive and len(w.waiting) < QUEUE_PER_WORKER:
                line = self._big or self._urgent or self._backlog
                if not line:
                    break
                job = line.popleft()
                if job.sent or _answered(job):
                    continue  # sent from the other backlog already
                if not w.send(job):
                    line.appendleft(job)
                    break
        if not any(w.alive for w in self._workers):
            left = [*self._big, *self._urgent, *self._backlog]
            self._big.clear()
            self._urgent.clear()
            self._backlog.clear()
            _fail(left)

    def full(self) -> bool:
        return len(self._queue) >= MAX_BACKLOG

    def ready(self) -> bool:
        return bool(self._queue) and _answered(self._queue[0])

    def next_done(self) -> tuple[Any, dict[str, Any]]:
        """The oldest job's tag and reply, waiting for it.  A job that failed in a way that
        is not about its member (a full disk, a worker gone) raises here."""
        job = self._queue.popleft()
        self._wait(job)
        if job.error is not None:
            self._failed = job
            raise job.error
        assert job.reply is not None
        reply = self._note(job.reply)
        error = reply.get("error")
        if error not in (None, "ArchiveMemberError"):
            raise (StorageError if error == "StorageError" else VaultError)(
                reply.get("message") or "storing a media file failed", reply.get("hint"))
        return job.tag, reply

    def take_back(self) -> list[Any]:
        """The tags of every job not yet taken, oldest first (the workers could not start):
        the caller stores them itself.  The job that just failed is the first."""
        jobs = [self._failed, *self._queue] if self._failed is not None else list(self._queue)
        self._queue.clear()
        return [job.tag for job in jobs]

    def wait_all(self) -> None:
        """Wait for every job sent so far (their replies stay queued), so ``written`` is complete."""
        for job in self._queue:
            self._wait(job)
            if job.reply is not None:
                self._note(job.reply)

    def _wait(self, job: _Job) -> None:
        with self.answered:
            self.answered.wait_for(lambda: _answered(job))

    def _note(self, reply: dict[str, Any]) -> dict[str, Any]:
        if reply.get("new") and reply.get("sha"):
            self.written[reply["oid"]] = reply["sha"]
        return reply

    def _sync_now_and_then(self, root) -> None:
        """Sync the file system every SYNC_EVERY seconds while the workers write: the import's
        final sync (before its catalog commit) then has a second's worth of writes left to wait
        for, not the whole import's."""
        from ..store.files import sync_filesystem

        synced = 0
        while not self._stop.wait(SYNC_EVERY):
            if self.answers != synced:  # something was written since the last sync
                synced = self.answers
                try:
                    sync_filesystem(root)
                except OSError:
                    pass  # the final sync reports it

    def close(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.stop()
        self._syncer.join()
