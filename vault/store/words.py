"""The words of a text for the catalog's indexes, beyond what SQLite's tokenizers see.

SQLite's word index (unicode61, diacritics removed) folds accented Latin letters: "Koln" finds
Köln.  It misses the rest, which ``extra_words`` gives it beside each text (``codec.search_text``):

- **Words inside runs of unspaced script.**  Japanese, Chinese or Thai text (``has_unspaced``,
  which also sends it to the trigram index) is one long token to the word index, found only by
  its start: "iPhone" and "2024" in "新しいiPhoneを買った、2024年" are given as words of their own.
- **Other spellings** (``other_spellings``).  People type without the letters their keyboard
  lacks: German "Koeln" for Köln and "Strasse" for Straße, Polish "Lodz" for Łódź, Danish
  "Kobenhavn" or "Koebenhavn" for København, "Dorde" or "Djordje" for Đorđe, Turkish "ispanak"
  for ıspanak, Russian "елка" for ёлка, Greek without its accents ("Αθηνα" for Αθήνα), Arabic
  and Hebrew without their vowel marks, full-width letters ("ＰＣ") as "PC".  A text's words with
  such letters or marks are indexed a second time in their plain spellings, and a query's words
  are looked up in every spelling (``index.match_clauses``): each spelling finds the other.  A
  word has two plain spellings at most: the usual one and, where a letter has two (ø, đ), the
  second.
- **Arabic words without their prefixes** (``_arabic_stems``): "العالم" and "عالم" find
  "بالعالم", as with Arabic search engines' light stemming.
"""

from __future__ import annotations

import re

# Letters and their usual plain spelling (None: left out).
_FIRST: dict[str, str | None] = {
    # German
    "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "SS",
    # Letters of their own to unicode61, with no accent to drop
    "ł": "l", "ø": "o", "æ": "ae", "đ": "d", "ð": "d", "þ": "th", "œ": "oe", "ı": "i", "ĳ": "ij", "ħ": "h",
    "ŧ": "t", "ŀ": "l",
    # Russian and Belarusian ё, mostly typed е
    "ё": "е",
    # Greek accents (tonos, dialytika), mostly left out when typing
    "ά": "α", "έ": "ε", "ή": "η", "ί": "ι", "ό": "ο", "ύ": "υ", "ώ": "ω", "ϊ": "ι", "ϋ": "υ", "ΐ": "ι", "ΰ": "υ",
    # Arabic alef with hamza or madda, mostly typed bare; alef maksura and teh marbuta, often typed
    # as yeh and heh
    "أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه",
    # Ligatures of copied print
    "ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl",
}
_SECOND = {"ø": "oe", "đ": "dj"}
_UPPER = {"Ä": "ä", "Ö": "ö", "Ü": "ü", "Ł": "ł", "Ø": "ø", "Æ": "æ", "Đ": "đ", "Ð": "ð", "Þ": "þ", "Œ": "œ",
          "Ĳ": "ĳ", "Ħ": "ħ", "Ŧ": "ŧ", "Ŀ": "ŀ", "Ё": "ё", "Ά": "ά", "Έ": "έ", "Ή": "ή", "Ί": "ί", "Ό": "ό",
          "Ύ": "ύ", "Ώ": "ώ", "Ϊ": "ϊ", "Ϋ": "ϋ"}
# Marks left out: Arabic vowel marks (harakat) and tatweel, Hebrew points and cantillation marks
# (not the maqaf, paseq and sof pasuq, which are punctuation).
_MARKS = "".join(chr(c) for c in (*range(0x064B, 0x0660), 0x0670, 0x0640, *range(0x0591, 0x05BE), 0x05BF,
                                  0x05C1, 0x05C2, 0x05C4, 0x05C5, 0x05C7))
# Full-width letters and digits, in Japanese and Chinese text: "ＰＣ２０２４" is "PC2024".  (Not
# its punctuation, in most such texts: it makes no word.)
_FULL_WIDTH = {chr(c): chr(c - 0xFEE0) for lo, hi in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
               for c in range(lo, hi + 1)}


def _table(second: dict[str, str]) -> dict[int, str | None]:
    spellings: dict[str, str | None] = {**_FIRST, **second, **_FULL_WIDTH}
    for upper, lower in _UPPER.items():
        plain = spellings[lower]
        spellings[upper] = plain.capitalize() if plain else plain
    spellings.update(dict.fromkeys(_MARKS))
    return str.maketrans(spellings)


_SPELLINGS = (_table({}), _table(_SECOND))
_ALL = "".join(sorted({*_FIRST, *_UPPER, *_FULL_WIDTH, *_MARKS}))
_HAS = re.compile(f"[{re.escape(_ALL)}]")
# A word: letters and digits, with the marks inside it (which are not ``\w``), tried from word
# starts only.
_W = rf"[\w{re.escape(_MARKS)}]"
_WORD = re.compile(rf"(?<!{_W}){_W}*[{re.escape(_ALL)}]{_W}*")


def other_spellings(text: str) -> list[str]:
    """The words of ``text`` that have such letters or marks, in each of their plain spellings
    (none for most texts)."""
    if _HAS.search(text) is None:  # most texts: one scan in C
        return []
    words = dict.fromkeys(_WORD.findall(text))
    return [plain for plain in dict.fromkeys(word.translate(table) for word in words for table in _SPELLINGS)
            if plain and plain not in words]


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


_NOT_UNSPACED_WORD = re.compile(r"[^\W" + _UNSPACED_RE.pattern[1:-1] + "]+")  # letters and digits of other scripts


def _words_inside_unspaced(text: str) -> list[str]:
    """The runs of other letters and digits in a text that has unspaced script ("PC" and "2024"
    in "新しいPCを買った、2024年")."""
    return _NOT_UNSPACED_WORD.findall(text) if has_unspaced(text) else []


# Arabic writes the article and one-letter conjunctions and prepositions onto the word: "بالعالم"
# is "with the world".  As Arabic search engines' light stemmers do, such a word is also indexed
# without them ("العالم", "عالم"), one prefix taken off, the longest that leaves a word.
_ARABIC = "\u0621-\u064a"
_ARABIC_WORD = re.compile(f"[{_ARABIC}{re.escape(_MARKS)}]+")
_ARABIC_PREFIXES = (("وال", True), ("بال", True), ("كال", True), ("فال", True), ("لل", False), ("ال", False))
_HAS_ARABIC = re.compile(f"[{_ARABIC}]")


def _arabic_stems(text: str) -> list[str]:
    out = []
    for word in _ARABIC_WORD.findall(text):
        plain = word.translate(_SPELLINGS[0])  # marks left out, letters as usually typed
        for prefix, article in _ARABIC_PREFIXES:
            if plain.startswith(prefix) and len(plain) - len(prefix) >= 2:
                rest = plain[len(prefix):]
                out += ["ال" + rest, rest] if article else [rest]
                break
        else:
            if plain.startswith("و") and len(plain) >= 4:  # "and": a longer word can begin with it
                out.append(plain[1:])
    return out


def word_forms(text: str) -> list[str]:
    """The other forms ``text``'s words are indexed under: their other spellings, and Arabic
    words without their prefixes.  A query's words are looked up in these too
    (``index.match_clauses``)."""
    forms = other_spellings(text)
    if _HAS_ARABIC.search(text) is not None:
        forms += _arabic_stems(text)
    return list(dict.fromkeys(f for f in forms if f != text))


_ANY = re.compile("[" + re.escape(_ALL) + _UNSPACED_RE.pattern[1:-1] + _ARABIC + "]")


def extra_words(text: str) -> list[str]:
    """What the word index is given beside ``text``: its words' other forms (``word_forms``),
    and the words of other scripts inside its unspaced runs, in theirs too (none for most
    texts)."""
    if _ANY.search(text) is None:  # most texts: one scan in C
        return []
    inside = _words_inside_unspaced(text)
    more = word_forms(text) + inside
    if inside:
        more += word_forms(" ".join(inside))
    return list(dict.fromkeys(more))
