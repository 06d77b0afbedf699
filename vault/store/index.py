"""The local catalog index: ``index/catalog.db``, a page-encrypted SQLite database.

Commands open it in place, so their start-up time and memory do not grow with the vault.  It is
derived state: the journal segments and snapshots under ``catalog/`` are the truth, and the index
records which of them it holds (``meta``), so a missing, stale or corrupt index is rebuilt from
them (see ``Catalog.load``).  It is never backed up.

Encryption: SQLite3 Multiple Ciphers (``apsw-sqlite3mc``), cipher ChaCha20-Poly1305 (every page
and every page of its rollback journal encrypted and authenticated).  The 32-byte page key comes from the writer key
by HKDF-SHA256 with its own label, so the index needs no secret of its own; being a random key
already, it goes through one KDF round only.  Temporary tables and sorts stay in memory
(``temp_store``), so no plaintext temp file is ever written.

Schema (``INDEX_FORMAT``):
  meta(k, v)          "format"; "snapshot", "seq", "superseded" (JSON list); "segments" (JSON
                      object name -> size: the live segments applied on top of the snapshot)
  records             one row per record; ``data`` = the record's JSON without id, visibility and
                      tags; ``provenance`` inside it may be ``{"@": key, ...}``: see ``provenance``
  provenance(k, v)    what all records of one import share (importer, export and its sha256,
                      captured_at), stored once and referenced
  explicit, tags, refs, hints, imports: as the journal operations of the same names
  fts                 word index (unicode61, diacritics folded), contentless, rowid = records.n;
                      each text with extra words (``vault.store.words``): its words in the
                      spellings people type without ä, ß, ł, ø, ё, ά, ..., and the Latin words
                      inside its Japanese, Chinese or Thai runs
  tri                 trigram index of the records whose text has scripts written without spaces
                      (CJK, Thai, ...), rowid = records.n
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import IntegrityError, StorageError
from .words import has_unspaced, word_forms

INDEX_FORMAT = "2"  # 2: texts indexed with their extra words (``vault.store.words``)
KEY_LABEL = b"vault/index/catalog.db page key v1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records(
    n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, source TEXT NOT NULL,
    source_id TEXT, created_at TEXT, visibility TEXT NOT NULL DEFAULT 'private', digest TEXT,
    data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_order ON records(created_at IS NULL, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS records_kind ON records(kind, created_at);
CREATE INDEX IF NOT EXISTS records_source ON records(source, kind);
CREATE INDEX IF NOT EXISTS records_visibility ON records(visibility);
CREATE TABLE IF NOT EXISTS provenance(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS explicit(id TEXT PRIMARY KEY, visibility TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tags(id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY(id, tag));
CREATE INDEX IF NOT EXISTS tags_tag ON tags(tag);
CREATE TABLE IF NOT EXISTS refs(source TEXT NOT NULL, ref TEXT NOT NULL, media TEXT NOT NULL, PRIMARY KEY(source, ref));
CREATE TABLE IF NOT EXISTS hints(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS imports(at TEXT, source TEXT, export TEXT, summary TEXT);
CREATE INDEX IF NOT EXISTS imports_at ON imports(at);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE IF NOT EXISTS tri USING fts5(body, tokenize='trigram remove_diacritics 1');
"""

# Tables copied as they are between the index and a snapshot (records and FTS are handled apart).
PLAIN_TABLES = {
    "provenance": ("k", "v"),
    "explicit": ("id", "visibility"),
    "tags": ("id", "tag"),
    "refs": ("source", "ref", "media"),
    "hints": ("k", "v"),
    "imports": ("at", "source", "export", "summary"),
}


class IndexUnusable(Exception):
    """The index file cannot be opened with this key or is damaged: it is rebuilt."""


def index_key(writer_key: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) of the writer key, with the index's own label."""
    prk = hmac.new(b"vault index salt v1", writer_key, hashlib.sha256).digest()
    return hmac.new(prk, KEY_LABEL + b"\x01", hashlib.sha256).digest()


def open_db(path: Path, key: bytes, busy_ms: int = 60_000) -> Any:
    """Open (creating if need be) the encrypted database at ``path``; raise IndexUnusable when it
    exists but cannot be read with ``key``."""
    import apsw

    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        if not path.exists():
            # SQLite gives its journal file the mode of the database file.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
    except OSError as exc:
        raise IndexUnusable(exc.strerror or str(exc)) from exc
    try:
        conn = apsw.Connection(str(path))
    except apsw.Error as exc:
        raise IndexUnusable(str(exc)) from exc
    try:
        conn.set_busy_timeout(busy_ms)
        conn.pragma("cipher", "chacha20")
        conn.pragma("kdf_iter", 1)
        conn.pragma("hexkey", key.hex())
        conn.execute("PRAGMA temp_store=MEMORY")
        # Records of one to a few KB pack better in 16 KiB pages (set before the file has any).
        conn.execute("PRAGMA page_size=16384")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()  # fails here on a wrong key
        # A rollback journal, not WAL: an import is one large transaction, and WAL would write
        # every page twice (log, then checkpoint).  Journal pages are encrypted like the rest.
        conn.execute("PRAGMA journal_mode=DELETE").fetchall()
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-16000")
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone():
            row = conn.execute("SELECT v FROM meta WHERE k='format'").fetchone()
            if row is None or row[0] != INDEX_FORMAT:
                raise IndexUnusable("index format differs")
        with conn:
            conn.execute(SCHEMA)
            conn.execute("INSERT OR IGNORE INTO meta(k, v) VALUES ('format', ?)", (INDEX_FORMAT,))
    except (apsw.Error, IndexUnusable) as exc:
        conn.close()
        raise IndexUnusable(str(exc)) from exc
    return conn


def remove_files(path: Path) -> None:
    """Delete an index database and its journal files (the index is derived; nothing is lost)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(f"{path}{suffix}")
        except OSError:  # absent, or not removable: opening it again says why
            pass


# --- text for the word and trigram indexes --------------------------------------------------------

_ACCENTS = re.compile("[\u0300-\u036f]")  # combining accents, apart from the letter they go on


def match_clauses(text: str) -> list[tuple[str, str]]:
    """User words as (table, expression) pairs that must all match.

    Words of spaced scripts match word prefixes in ``fts`` (diacritics folded on both sides, so
    "prilis" finds "příliš" and "Müller" finds "Muller"), in each of their forms
    (``vault.store.words``: "Mueller" and "Lodz" find "Müller" and "Łódź", "Müller" finds
    "Mueller").  Words with unspaced-script characters match as substrings in ``tri``: a trigram
    MATCH for three characters or more, a LIKE over the trigram table's text for shorter ones.
    Every word is quoted, so FTS5 syntax characters in user input are never operators.
    """
    out = []
    for word in text.replace('"', " ").split():
        if has_unspaced(word):
            if len(_ACCENTS.sub("", word)) >= 3:  # the trigram tokenizer drops the accents
                out.append(("tri", " OR ".join(f'"{w}"' for w in [word, *word_forms(word)])))
            else:
                out.append(("tri-like", "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"))
        else:
            out.append(("fts", " OR ".join(f'"{w}"*' for w in [word, *word_forms(word)])))
    return out


@contextmanager
def index_errors(path: Path) -> Iterator[None]:
    """SQLite failures of the index as VaultErrors (disk full, damaged file)."""
    import apsw

    try:
        yield
    except IndexUnusable as exc:
        raise StorageError(f"cannot open index/catalog.db: {exc}",
                           hint="check that the vault folder is writable; index/ is rebuilt from the journal when deleted") from exc
    except apsw.FullError as exc:
        raise StorageError("disk full while writing index/catalog.db",
                           hint="free some space and run the command again; nothing half-written is visible") from exc
    except (apsw.CorruptError, apsw.NotADBError) as exc:
        # Derived state: drop it, the next command rebuilds it from the journal.
        remove_files(path)
        raise IntegrityError("index/catalog.db is damaged; it was removed and is rebuilt from the journal",
                             hint="run the command again") from exc
    except apsw.Error as exc:
        raise StorageError(f"the catalog index failed: {exc}",
                           hint="index/ is rebuilt from the journal when deleted") from exc


