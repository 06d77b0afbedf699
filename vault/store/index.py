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
                      words with ä, ö, ü, ß, ł, ø, æ, đ, ı ... indexed a second time in plain
                      spellings (ae, oe, ue, ss, l, o and oe, ae, d and dj, i ...)
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

INDEX_FORMAT = "2"  # 2: words with ä, ö, ü, ß, ł, ø, æ, đ, ... also indexed in plain spellings
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

# Scripts written without spaces between words: a word index cannot find a word inside a run of
# them, so their text also goes to the trigram index.  Code point ranges, inclusive.
_UNSPACED = (
    (0x0E00, 0x0EFF),    # Thai, Lao
    (0x0F00, 0x0FFF),    # Tibetan
    (0x1000, 0x109F),    # Myanmar
    (0x1780, 0x17FF),    # Khmer
    (0x2E80, 0x2FDF),    # CJK radicals
    (0x3000, 0x9FFF),    # CJK symbols, kana, bopomofo, CJK ideographs
    (0xA000, 0xA4CF),    # Yi
    (0xAC00, 0xD7AF),    # Hangul syllables
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0xFF66, 0xFF9F),    # half-width katakana
    (0x20000, 0x3134F),  # CJK extensions
)


_UNSPACED_RE = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _UNSPACED) + "]")


def has_unspaced(text: str) -> bool:
    return _UNSPACED_RE.search(text) is not None


# Letters people write otherwise when their keyboard lacks them: German "Koeln" for Köln and
# "Strasse" for Straße, Polish "Lodz" for Łódź, Danish "Kobenhavn" or "Koebenhavn" for København,
# "Dorde" or "Djordje" for Đorđe, Turkish "ispanak" for ıspanak.  The word index folds letters
# with accents (ö to o, so "Koln" finds Köln) but not these spellings, nor letters it sees as
# letters of their own (ł, ø, æ, đ, ı, ...).  So a text's words with such letters are indexed a
# second time in each plain spelling (``other_spellings``), and a query's are looked up every way
# (``match_clauses``).  Two spellings at most: the usual one, and where a letter has two (ø, đ),
# the second.
_FIRST = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "SS", "ł": "l", "ø": "o", "æ": "ae", "đ": "d",
          "ð": "d", "þ": "th", "œ": "oe", "ı": "i", "ĳ": "ij", "ħ": "h", "ŧ": "t", "ŀ": "l"}
_SECOND = {"ø": "oe", "đ": "dj"}
_UPPER = {"Ä": "ä", "Ö": "ö", "Ü": "ü", "Ł": "ł", "Ø": "ø", "Æ": "æ", "Đ": "đ", "Ð": "ð", "Þ": "þ", "Œ": "œ",
          "Ĳ": "ĳ", "Ħ": "ħ", "Ŧ": "ŧ", "Ŀ": "ŀ"}


def _table(spellings: dict[str, str]) -> dict[int, str]:
    table = {**_FIRST, **spellings}
    table.update({upper: table[lower].capitalize() for upper, lower in _UPPER.items()})
    return str.maketrans(table)


_SPELLINGS = (_table({}), _table(_SECOND))
_LETTERS = "".join(sorted({*_FIRST, *_UPPER}))
_HAS_LETTER = re.compile(f"[{_LETTERS}]")
_WORD_WITH_LETTER = re.compile(rf"(?<!\w)\w*[{_LETTERS}]\w*")  # tried from word starts only


def other_spellings(text: str) -> list[str]:
    """The words of ``text`` that have such letters, in each of their plain spellings."""
    if _HAS_LETTER.search(text) is None:  # most texts: one scan in C
        return []
    words = dict.fromkeys(_WORD_WITH_LETTER.findall(text))
    return list(dict.fromkeys(word.translate(table) for word in words for table in _SPELLINGS))


def match_clauses(text: str) -> list[tuple[str, str]]:
    """User words as (table, expression) pairs that must all match.

    Words of spaced scripts match word prefixes in ``fts`` (diacritics folded on both sides, so
    "prilis" finds "příliš" and "Müller" finds "Muller"; other spellings as well, so "Mueller" and
    "Lodz" find "Müller" and "Łódź", and "Müller" finds "Mueller").  Words with unspaced-script characters
    match as substrings in ``tri``: a trigram MATCH for three characters or more, a LIKE over the
    trigram table's text for shorter ones.  Every word is quoted, so FTS5 syntax characters in
    user input are never operators.
    """
    out = []
    for word in text.replace('"', " ").split():
        if has_unspaced(word):
            if len(word) >= 3:
                out.append(("tri", f'"{word}"'))
            else:
                out.append(("tri-like", "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"))
        else:
            out.append(("fts", " OR ".join(f'"{w}"*' for w in [word, *other_spellings(word)])))
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


