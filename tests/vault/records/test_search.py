"""`vault search` in every language: unspaced scripts (Japanese, Chinese, Thai) by substring,
Czech and German with and without diacritics, and user input that looks like FTS syntax."""

from __future__ import annotations

from tests.support.post_fixtures import inject, post

# 16 Japanese posts that contain 関数 ("function") at the start, in the middle and at the end of
# runs without spaces, with kana and kanji around it; and 4 that do not.
JA_WITH = [
    "関数を定義する", "新しい関数", "今日は関数型プログラミングの勉強", "この関数はバグがある",
    "高階関数とは何か", "関数", "再帰関数で書いた", "関数呼び出しが遅い", "匿名関数を使う",
    "ラムダ関数のテスト", "関数型言語が好き", "数学の関数と写像", "純粋関数だけで書く", "関数ポインタ",
    "Pythonの関数デコレータ", "東京で関数の話をした",
]
JA_WITHOUT = ["東京の天気は晴れ", "猫がかわいい", "数学が好き", "関係ない話"]


def _search(env, *args) -> list[dict]:
    res = env.run("search", "--json", *args)
    assert res.code == 0, res.err
    return res.jsonl()


def test_japanese_words_inside_unspaced_text_are_found(vault_env):
    items = [post(f"ja{i}", 1 + i % 28, text) for i, text in enumerate(JA_WITH + JA_WITHOUT)]
    inject(vault_env.path, items, source="x")
    found = {r["text"] for r in _search(vault_env, "関数")}
    assert found == set(JA_WITH)
    # Three characters or more go through the trigram index; one character scans it.
    assert {r["text"] for r in _search(vault_env, "関数型")} == {"今日は関数型プログラミングの勉強", "関数型言語が好き"}
    assert {r["text"] for r in _search(vault_env, "猫")} == {"猫がかわいい"}
    # Every word must match, across both indexes.
    assert {r["text"] for r in _search(vault_env, "Python 関数")} == {"Pythonの関数デコレータ"}
    assert {r["text"] for r in _search(vault_env, "関数 東京")} == {"東京で関数の話をした"}
    # Filters still apply.
    assert len(_search(vault_env, "関数", "--limit", "3")) == 3


def test_latin_words_and_numbers_inside_japanese_text_are_words(vault_env):
    """Japanese runs letters of other scripts into its text: the word index saw one long token
    and found "iPhone" only at its start."""
    inject(vault_env.path, [
        post("ja1", 1, "東京で新しいiPhoneを買った"), post("ja2", 2, "2024年のWWDCはオンライン"),
        post("ja3", 3, "iPhoneが好き"), post("en", 4, "an iPhoneless life"),
    ], source="x")
    assert {r["source_id"] for r in _search(vault_env, "iphone")} == {"ja1", "ja3", "en"}
    assert {r["source_id"] for r in _search(vault_env, "WWDC 2024")} == {"ja2"}
    assert {r["source_id"] for r in _search(vault_env, "iPhone 東京")} == {"ja1"}


def test_chinese_thai_and_korean(vault_env):
    inject(vault_env.path, [
        post("zh", 1, "我们今天学习数据库索引"), post("th", 2, "วันนี้อากาศดีมากครับ"), post("ko", 3, "한국어를 공부합니다"),
    ], source="x")
    assert [r["source_id"] for r in _search(vault_env, "数据库")] == ["zh"]
    assert [r["source_id"] for r in _search(vault_env, "อากาศ")] == ["th"]
    assert [r["source_id"] for r in _search(vault_env, "공부")] == ["ko"]


def test_czech_and_german_with_and_without_diacritics(vault_env):
    inject(vault_env.path, [
        post("cs", 1, "Příliš žluťoučký kůň úpěl ďábelské ódy"),
        post("de", 2, "Grüße von Jürgen aus Köln, schöne Straße"),
        post("en", 3, "plain English words about a horse"),
    ])
    for query, want in (("příliš", "cs"), ("prilis", "cs"), ("PRILIS", "cs"), ("zlutoucky", "cs"), ("žluť", "cs"),
                        ("kun upel", "cs"), ("ďábelské", "cs"), ("Jurgen", "de"), ("jürgen", "de"),
                        ("koln", "de"), ("Köln", "de"), ("schone", "de"), ("Straße", "de"), ("horse", "en")):
        assert [r["source_id"] for r in _search(vault_env, query)] == [want], query
    assert _search(vault_env, "prilis horse") == []


def test_german_letters_written_out_find_them_and_are_found_by_them(vault_env):
    """Without ä, ö, ü and ß on the keyboard, German is written ae, oe, ue and ss ("Koeln",
    "Strasse"); Swiss German writes ss always.  Each spelling finds the other."""
    inject(vault_env.path, [
        post("umlauts", 1, "Grüße aus Köln von Jürgen Müller, Straße der Einheit"),
        post("ascii", 2, "Koeln ist schoen, sagt Frau Moeller"),
        post("swiss", 3, "Wir wohnen an der Hauptstrasse in Zürich"),
        post("other", 4, "Kolm, Moller, Strase, Grusse"),  # near misses, and Möller with its dots dropped
    ])
    for query, want in (("Koeln", {"umlauts", "ascii"}), ("Köln", {"umlauts", "ascii"}), ("koln", {"umlauts"}),
                        ("Gruesse", {"umlauts"}), ("GRÜSSE", {"umlauts", "other"}), ("Muell", {"umlauts"}), ("Mueller", {"umlauts"}),
                        ("Möller", {"ascii", "other"}), ("Strasse", {"umlauts"}), ("Straße", {"umlauts"}),
                        ("Hauptstraße", {"swiss"}), ("schön", {"ascii"}), ("Zuerich", {"swiss"}),
                        ("Juergen Koeln", {"umlauts"})):
        assert {r["source_id"] for r in _search(vault_env, query)} == want, query


def test_letters_and_marks_the_word_index_keeps_are_found_without_them_too(vault_env):
    """Letters with no accent to drop (ł, ø, æ, đ, ı, þ) are written plainly too: Polish "Lodz",
    Danish "Kobenhavn" or "Koebenhavn", Serbian and Croatian "Dorde" or "Djordje", Vietnamese "Da
    Nang", Turkish "ispanak", Icelandic "Thor"; and the plain spelling finds the letter.  So are
    Russian ё, Greek accents, Arabic and Hebrew vowel marks, full-width letters and ligatures; and
    Arabic words are found without the article and prepositions written onto them."""
    inject(vault_env.path, [
        post("pl", 1, "Wycieczka do Łodzi i Łódź nocą"),
        post("da", 2, "Hilsen fra København og Ærø"),
        post("hr", 3, "Đorđe je stigao"),
        post("vi", 4, "Bãi biển Đà Nẵng"),
        post("tr", 5, "ıspanak yemeği"),
        post("is", 6, "Þór og Óðinn"),
        post("ascii", 7, "Lodz and Koebenhavn, written plainly"),
        post("ru", 8, "Купили ёлку и ещё игрушки"),
        post("el", 9, "Καλημέρα από την Αθήνα"),
        post("ar", 10, "مُحَمَّد في أسوان"),
        post("ar2", 14, "تحية بالعالم من المدرسة"),
        post("he", 11, "שָׁלוֹם עֲלֵיכֶם"),
        post("ja", 12, "新しいＰＣを買った、２０２４年モデル"),
        post("lig", 13, "the ﬁnal ﬁgures"),
    ])
    for query, want in (("Lodz", {"pl", "ascii"}), ("Łódź", {"pl", "ascii"}), ("lodzi", {"pl"}), ("Kobenhavn", {"da"}),
                        ("Koebenhavn", {"da", "ascii"}), ("København", {"da", "ascii"}), ("Aero", {"da"}),
                        ("Dorde", {"hr"}), ("Djordje", {"hr"}), ("Da Nang", {"vi"}), ("ispanak", {"tr"}),
                        ("Thor", {"is"}), ("Odinn", {"is"}), ("елку", {"ru"}), ("ёлку", {"ru"}), ("еще", {"ru"}),
                        ("Αθηνα", {"el"}), ("αθήνα", {"el"}), ("καλημερα", {"el"}), ("محمد", {"ar"}), ("اسوان", {"ar"}),
                        ("أسوان", {"ar"}), ("العالم", {"ar2"}), ("عالم", {"ar2"}),
                        ("مدرسه", {"ar2"}), ("المدرسة", {"ar2"}), ("بالمدرسة", {"ar2"}), ("שלום", {"he"}), ("עליכם", {"he"}), ("PC", {"ja"}), ("ＰＣ", {"ja"}),
                        ("PCを買", {"ja"}), ("2024年", {"ja"}), ("final figures", {"lig"})):
        assert {r["source_id"] for r in _search(vault_env, query)} == want, query


def test_query_syntax_in_user_input_is_plain_text(vault_env):
    inject(vault_env.path, [post("q", 1, 'He said "NEAR" AND OR NOT * ( ) : ^ in one post'), post("r", 2, "other")])
    for query in ('"NEAR"', "AND", "OR", "NOT", "*", "(", ":", "^", "near(", 'said"'):
        res = vault_env.run("search", "--json", query)
        assert res.code == 0, (query, res.err)
    assert [r["source_id"] for r in _search(vault_env, "AND OR")] == ["q"]
    assert _search(vault_env, "   ") == []
