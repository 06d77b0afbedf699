"""The extra words the catalog's word index is given (vault/store/words.py), and the queries made
of them, judged by SQLite's own FTS5 tokenizers on random and hostile text."""

from __future__ import annotations

import random

import apsw
import pytest

from vault.store.codec import search_text
from vault.store.index import match_clauses
from vault.store.words import extra_words, has_unspaced, word_forms

# Characters the module treats apart, and some it must leave alone, for random texts.
ALPHABET = ("abcxyzABC019 ,.-'\"*()^:ąčéöüßẞłŁøØæđĐðþœıĳёЁάΆΐ"
            "أإآىةالعمدرسوبكف\u064e\u0651\u0640שָׁלוֹם\u05be"
            "新しい関数をかったアイウ한국어สวัสดีＰＣ２０！（）ﬁ\u0301\u200b\t\n")


def _index() -> "apsw.Connection":
    db = apsw.Connection(":memory:")
    db.execute("CREATE VIRTUAL TABLE fts USING fts5(body, content='', contentless_delete=1, "
               "tokenize='unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE tri USING fts5(body, tokenize='trigram remove_diacritics 1')")
    return db


def _search(db, query: str) -> set[int]:
    found: set[int] | None = None
    for table, expr in match_clauses(query):
        if table == "tri-like":
            rows = db.execute("SELECT rowid FROM tri WHERE body LIKE ? ESCAPE '\\'", (expr,))
        else:
            rows = db.execute(f"SELECT rowid FROM {table} WHERE {table} MATCH ?", (expr,))
        hits = {row[0] for row in rows}
        found = hits if found is None else found & hits
    return found or set()


def test_most_texts_get_no_extra_words():
    for text in ("", "plain English text, 2024", "Příliš žluťoučký kůň úpěl", "Привет мир", "Καλημερα"):
        assert extra_words(text) == [], text
        assert search_text({"text": text}) == text


def test_each_spelling_finds_the_other_word_for_word():
    pairs = [("Köln", "Koeln"), ("Straße", "Strasse"), ("Łódź", "Lodz"), ("København", "Kobenhavn"),
             ("København", "Koebenhavn"), ("Đorđe", "Djordje"), ("ёлка", "елка"), ("Αθήνα", "Αθηνα"),
             ("مُحَمَّد", "محمد"), ("مدرسة", "مدرسه"), ("بالعالم", "العالم"), ("שָׁלוֹם", "שלום"), ("ＰＣ", "PC"),
             ("ﬁnal", "final")]
    db = _index()
    for n, (written, typed) in enumerate(pairs):
        db.execute("INSERT INTO fts(rowid, body) VALUES (?,?)", (n, search_text({"text": written})))
    for n, (written, typed) in enumerate(pairs):
        assert n in _search(db, typed), (written, typed)
        assert n in _search(db, written), written


def test_forms_are_words_of_the_query_never_the_query_itself():
    assert word_forms("Köln") == ["Koeln"]
    assert word_forms("København") == ["Kobenhavn", "Koebenhavn"]
    assert word_forms("العالم") == ["عالم"]
    assert word_forms("وطن") == []  # too short to be "and" + a word
    assert word_forms("plain") == []


@pytest.mark.parametrize("seed", range(300))
def test_random_text_indexes_and_any_query_of_it_runs(seed):
    """Whatever the text, its search text goes into both indexes, and every query made of its
    words (or of any slice of it) is valid FTS5 that finds the text again when it is one word."""
    rng = random.Random(seed)
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
    body = search_text({"text": text})
    assert all(word and '"' not in word for word in extra_words(text))
    db = _index()
    db.execute("INSERT INTO fts(rowid, body) VALUES (1, ?)", (body,))
    if has_unspaced(body):
        db.execute("INSERT INTO tri(rowid, body) VALUES (1, ?)", (body,))
    for query in (text, text[: len(text) // 2]):
        _search(db, query)  # apsw raises on a query FTS5 cannot parse
    for word in text.replace('"', " ").split():
        if any(ch.isalnum() for ch in word):
            assert _search(db, word) == {1}, (text, word)


def test_a_short_word_with_combining_accents_is_looked_up_as_the_trigram_tokenizer_counts_it():
    """Three code points, two characters once the tokenizer drops the accent: a trigram MATCH of
    it finds nothing, so it is looked up with LIKE (found by the random test above, seed 1232)."""
    db = _index()
    body = search_text({"text": "สวัสดี ีb\u0301 ครับ"})
    db.execute("INSERT INTO fts(rowid, body) VALUES (1, ?)", (body,))
    db.execute("INSERT INTO tri(rowid, body) VALUES (1, ?)", (body,))
    assert match_clauses("ีb\u0301")[0][0] == "tri-like"
    assert _search(db, "ีb\u0301") == {1}
