"""The checksum log of a vault (``checksums/*.sha256``): adding lines never reads the files
already written (an import that only adds objects does not hold every object's line in memory),
and what it knows is the files and the lines not yet written, together."""

from __future__ import annotations

import hashlib

import pytest

from vault.store import checksums
from vault.store.checksums import ChecksumLog


def _log(tmp_path) -> ChecksumLog:
    (tmp_path / "checksums").mkdir(exist_ok=True)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return ChecksumLog(tmp_path / "checksums", tmp_path / "tmp")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_adding_and_writing_lines_reads_no_checksum_file(tmp_path, monkeypatch):
    first = _log(tmp_path)
    first.add("objects/aa/bb/old", _sha("old"))
    first.flush()

    def no_reading(root):
        raise AssertionError("the checksum files were read")

    monkeypatch.setattr(checksums, "read_all", no_reading)
    log = _log(tmp_path)
    for i in range(100):
        log.add(f"objects/cc/dd/{i}", _sha(str(i)))
    assert log.pending == 100
    assert log.flush() is not None and log.pending == 0


@pytest.mark.parametrize("flushed", [True, False])
def test_what_the_log_knows_is_the_files_and_the_lines_not_written_yet(flushed, tmp_path):
    before = _log(tmp_path)
    before.add("objects/aa/bb/old", _sha("old"))
    before.flush()
    log = _log(tmp_path)
    log.add("objects/cc/dd/new", _sha("new"))
    if flushed:
        log.flush()
    assert log.has("objects/aa/bb/old") and log.has("objects/cc/dd/new")
    assert not log.has("objects/ee/ff/missing")
    log.add("objects/ee/ff/later", _sha("later"))  # known already read: kept up to date
    assert log.known() == {"objects/aa/bb/old": _sha("old"), "objects/cc/dd/new": _sha("new"),
                           "objects/ee/ff/later": _sha("later")}
