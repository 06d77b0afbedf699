"""The worker side of ``sealing``: ``python -m vault.importing.sealworker``.

Talks JSON lines over its standard input and output (no pickle: nothing it reads can run code).
The first line sets it up: the vault's objects and tmp folders, the writer key (hex) and the
recipients.  The key arrives through the pipe, never on the command line or in the environment.
Then each line is a job, a member to store, and each reply says what was stored:

    {"id": 7, "open": {...}, "label": "...", "member": "...", "size": 123, "name": "a.jpg"}
    {"id": 7, "oid": "<64 hex>", "size": 123, "new": true, "sha": "<64 hex>", "facts": {...}}
    {"id": 7, "error": "ArchiveMemberError", "message": "...", "hint": "...", "member": "..."}

Objects are written with ``exclusive``: not synced (the importer syncs the batch, with
``ObjectStore.sync``) and never replacing an object another worker wrote first.  Ctrl-C is the importer's
to handle: this process ignores SIGINT and ends when its input closes.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import IO, Any

# This module runs only in a worker, which needs all of these for every job.
from vault.errors import VaultError
from vault.store.codec import load_json
from vault.store.objects import SMALL, ObjectStore

from .archive.portable import open_spec, read_spec
from .mediainfo import facts_to_json, probe
from .sealing import dump_line


def _seal(store: ObjectStore, writer_key: bytes, recipients: list[str], job: dict[str, Any]) -> dict[str, Any]:
    size = job["size"]
    try:
        if size is not None and size <= SMALL:  # a photo: read in one piece, no copy on the way
            data = read_spec(job["open"], job["label"], job["member"], size)
            res = store.put_bytes(data, writer_key, recipients, exclusive=True)
        else:
            with open_spec(job["open"], job["label"], job["member"], size) as stream:
                res = store.put_stream(stream, writer_key, recipients, exclusive=True)
    except VaultError as exc:
        return {"id": job["id"], "error": type(exc).__name__, "message": exc.message, "hint": exc.hint,
                "member": getattr(exc, "member", None)}
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
    for line in requests:
        job = load_json(line)
        try:
            reply = _seal(store, writer_key, recipients, job)
        except Exception as exc:  # reported to the importer, which stops the import with it
            reply = {"id": job["id"], "error": "unexpected", "message": f"{type(exc).__name__}: {exc}"}
        replies.write(dump_line(reply))
        replies.flush()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Replies go to a copy of stdout; anything a library prints lands on stderr instead of
    # corrupting them.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
