"""The vault lock: ``fcntl.flock`` on ``VAULT/lock``.

flock is released by the kernel when the process dies, so a crashed cron run never leaves a stale
lock.  Readers (list, search, backup, check) share it; writers (import, mark, compact, gc, key
changes) hold it exclusively.  Waiting is bounded: past ``wait`` seconds, LockedError (exit 11).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ..errors import LockedError
from .files import FILE_MODE


class VaultLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.exclusive = False

    def acquire(self, exclusive: bool, wait: float) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + max(wait, 0.0)
        delay = 0.05
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockedError(
                        f"the vault is locked by another process (waited {wait:g}s)",
                        hint="another import, backup or maintenance run is in progress; retry later or raise --lock-wait",
                    ) from None
                time.sleep(min(delay, max(deadline - time.monotonic(), 0.01)))
                delay = min(delay * 1.5, 0.5)
        self._fd = fd
        self.exclusive = exclusive

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "VaultLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
