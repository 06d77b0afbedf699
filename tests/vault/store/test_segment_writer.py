"""A journal segment whose encryption fails (a full disk) never hangs the writer: not when the
failure comes mid-stream, and not when it comes after the last chunk was read (writing it), where
the thread must not wait for a second end mark that nobody sends."""

from __future__ import annotations

import errno
import hmac
import threading

import pyrage
import pytest

from vault.store import segments
from vault.store.segments import SegmentWriter


class _FullDisk:
    """A sink that fails as a full disk does: at its first write (the header), at the tenth
    (mid-stream), or at the last chunk, the one shorter than 64 KiB and its tag."""

    def __init__(self, at: str) -> None:
        self.at = at
        self.writes = 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        if (self.at == "header" or (self.at == "mid-stream" and self.writes == 10)
                or (self.at == "last-chunk" and self.writes > 1 and len(data) < (64 << 10) + 16)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return len(data)

    def flush(self) -> None:
        pass


def _writer(tmp_path, monkeypatch, at: str) -> SegmentWriter:
    monkeypatch.setattr(segments, "ShaWriter", lambda fh: _FullDisk(at))
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    return SegmentWriter(tmp_path / "journal" / "seg.jsonl.age", tmp_path / "tmp", [recipient],
                         hmac.new(b"k" * 32, b"segment\0", "sha256"))


def _ends(action) -> BaseException | None:
    """Run ``action`` on a thread; fails the test if it is still running after 20 s."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "the segment writer hangs"
    return raised[0] if raised else None


@pytest.mark.parametrize("at", ["header", "mid-stream", "last-chunk"])
@pytest.mark.parametrize("end", ["seal", "abort"])
def test_a_full_disk_while_encrypting_a_segment_is_reported_and_never_hangs(at, end, tmp_path, monkeypatch):
    writer = _writer(tmp_path, monkeypatch, at)
    line = b'{"op":"put","r":{"text":"' + b"x" * 1000 + b'"}}\n'
    for _ in range(5000):  # about 5 MB: many chunks through the queue
        writer.write(line)
    error = _ends(writer.seal if end == "seal" else writer.abort)
    if end == "seal":
        assert error is not None and "disk full" in str(error)
    else:
        assert error is None  # aborting drops the segment, whatever its writing met
    assert not list((tmp_path / "tmp").iterdir())


def test_ctrl_c_while_the_writer_starts_its_thread_leaves_no_temp_file(tmp_path, monkeypatch):
    """``Thread.start`` waits for the thread to run: a Ctrl-C there comes out of the writer's
    constructor, so the caller has no writer to abort and the constructor removes its file."""
    real_start = threading.Thread.start

    def interrupted(self):
        real_start(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(threading.Thread, "start", interrupted)
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    with pytest.raises(KeyboardInterrupt):
        SegmentWriter(tmp_path / "journal" / "seg.jsonl.age", tmp_path / "tmp", [recipient],
                      hmac.new(b"k" * 32, digestmod="sha256"))
    assert list((tmp_path / "tmp").iterdir()) == []
