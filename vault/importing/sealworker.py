"""The worker side of ``sealing``: ``python -m vault.importing.sealworker``.

Talks JSON lines over its standard input and output (no pickle: nothing it reads can run code).
The first line sets it up: the vault's objects and tmp folders, the writer key (hex) and the
recipients.  The key arrives through the pipe, never on the command line or in the environment.
Then each line is a job, a member to store, and each reply says what was stored:

    {"id": 7, "open": {...}, "label": "...", "member": "...", "size": 123, "name": "a.jpg"}
    {"id": 7, "oid": "<64 hex>", "size": 123, "new": true, "sha": "<64 hex>", "facts": {...}}
    {"id": 7, "error": "ArchiveMemberError", "message": "...", "hint": "...", "member": "..."}

Objects are written with ``exclusive``: not synced (the importer syncs the batch, with
``ObjectStore.sync``) and never replacing an object another worker wrote first.  A photo is
written behind (``ObjectStore.put_bytes_behind``): its reply goes out from the writing thread once
the file is on disk, while this thread reads and seals the next, so replies may come out of order.  Ctrl-C is the importer's
to handle: this process ignores SIGINT and ends when its input closes.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import IO, Any, Callable

# This module runs only in a worker, which needs all of these for every job.
from vault.errors import VaultError
from vault.store.codec import load_json
from vault.store.objects import SMALL, ObjectStore, PutResult

from .archive.portable import open_spec, read_spec
from .mediainfo import facts_to_json, probe
from .sealing import dump_line


def _seal(store: ObjectStore, writer_key: bytes, recipients: list[str], job: dict[str, Any],
          reply: Callable[[dict[str, Any]], None]) -> None:
    """Store one member; ``reply`` is called once it is on disk (a photo is written behind: its
    reply may come after this returns)."""
    size = job["size"]

    def done(res: PutResult | Exception) -> None:
        reply(_answer(job, res))

    try:
        if size is not None and size <= SMALL:  # a photo: read in one piece, no copy on the way
            data = read_spec(job["open"], job["label"], job["member"], size)
            store.put_bytes_behind(data, writer_key, recipients, done)
        else:
            with open_spec(job["open"], job["label"], job["member"], size) as stream:
                done(store.put_stream(stream, writer_key, recipients, exclusive=True))
    except VaultError as exc:
        done(exc)


def _answer(job: dict[str, Any], res: PutResult | Exception) -> dict[str, Any]:
    """The reply to ``job``: the object stored, or what stopped it."""
    if isinstance(res, VaultError):
        return {"id": job["id"], "error": type(res).__name__, "message": res.message, "hint": res.hint,
                "member": getattr(res, "member", None)}
    if isinstance(res, Exception):  # reported to the importer, which stops the import with it
        return {"id": job["id"], "error": "unexpected", "message": f"{type(res).__name__}: {res}"}
    facts = probe(res.head, job["name"])
    return {"id": job["id"], "oid": res.object_id, "size": res.size, "new": res.new, "sha": res.cipher_sha256,
            "facts": facts_to_json(facts)}


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    setup = load_json(requests.readline() or b"null")
    if not setup:
        return
    store = ObjectStore(Path(setup["objects"]), Path(setup["tmp"]), direct_io=True)
    writer_key = bytes.fromhex(setup.pop("key"))
    recipients = list(setup["recipients"])
    lock = threading.Lock()  # replies come from this thread and from the one writing behind

    def reply(answer: dict[str, Any]) -> None:
        line = dump_line(answer)
        with lock:
            replies.write(line)
            replies.flush()

    try:
        for line in requests:
            job = load_json(line)
            try:
                _seal(store, writer_key, recipients, job, reply)
            except Exception as exc:
                reply(_answer(job, exc))
    finally:
        store.close()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Replies go to a copy of stdout; anything a library prints lands on stderr instead of
    # corrupting them.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
