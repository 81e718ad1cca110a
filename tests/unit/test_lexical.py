"""Lexical search: the tokenizer, and BM25 exactness, persistence and sync."""

from __future__ import annotations

import math
import random
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import pytest

from rag.lexical import index as lexical
from rag.lexical.index import LexicalIndex
from rag.lexical.tokenize import QUESTION_STOPWORDS, Tokenizer

# ---- tokenizer ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jieba_tokenizer() -> Tokenizer:
    return Tokenizer("jieba+bigram")


def test_bigrams_traditional_and_simplified() -> None:
    tok = Tokenizer("bigram")
    assert tok.tokenize("羅馬軍團") == ["羅馬", "馬軍", "軍團"]
    assert tok.tokenize("罗马军团") == ["罗马", "马军", "军团"]


def test_single_cjk_character_is_kept_in_bigram_mode() -> None:
    assert Tokenizer("bigram").tokenize("水，火") == ["水", "火"]


def test_punctuation_dropped() -> None:
    assert Tokenizer("bigram").tokenize("「徵兵」，？！…—") == ["徵兵"]


def test_english_words_lower_cased() -> None:
    tokens = Tokenizer("bigram", english=False).tokenize("The Roman Legion, GPT-4o and café")
    assert tokens == ["the", "roman", "legion", "gpt", "4o", "and", "cafe"]


def test_english_stop_words_dropped_and_words_stemmed_when_asked() -> None:
    question = "Which museums did the Warsaw organizations open?"
    assert Tokenizer("bigram").tokenize(question) == [
        "museums",
        "warsaw",
        "organizations",
        "open",
    ]
    stemming = Tokenizer("bigram", stemming=True)
    assert stemming.tokenize(question) == ["museum", "warsaw", "organiz", "open"]
    assert stemming.tokenize("museum") == stemming.tokenize("Museums")
    assert stemming.signature != Tokenizer("bigram").signature  # the index is rebuilt
    assert Tokenizer("bigram").tokenize("GPT-4o café 3.2") == ["gpt", "4o", "cafe", "3.2"]


def test_numbers_kept_whole() -> None:
    tokens = Tokenizer("bigram").tokenize("1987年發布了3.2版，共 1,000 人")
    assert "1987" in tokens
    assert "3.2" in tokens
    assert "年發" in tokens


def test_full_width_letters_and_digits_normalized() -> None:
    assert Tokenizer("bigram").tokenize("ＲＡＧ１９８７") == ["rag1987"]


def test_latin_words_lose_their_accents_other_scripts_keep_theirs() -> None:
    tokens = Tokenizer("bigram").tokenize("Börte, Menéndez de Avilés; naïve Москва й straße")
    assert tokens == ["borte", "menendez", "de", "aviles", "naive", "москва", "й", "straße"]
    assert Tokenizer("bigram").tokenize("Borte") == Tokenizer("bigram").tokenize("BÖRTE")


def test_mixed_script_runs_split() -> None:
    assert Tokenizer("bigram").tokenize("使用Python寫程式") == [
        "使用",
        "python",
        "寫程",
        "程式",
    ]


def test_unigram_bigram_mode() -> None:
    assert Tokenizer("unigram+bigram").tokenize("軍團") == ["軍", "團", "軍團"]


def test_jieba_modes_traditional_and_simplified(jieba_tokenizer: Tokenizer) -> None:
    simplified = jieba_tokenizer.tokenize("中华人民共和国成立于1949年")
    assert "中华" in simplified and "共和国" in simplified and "1949" in simplified
    traditional = jieba_tokenizer.tokenize("在徵兵時若是不接受入伍")
    assert "徵兵" in traditional and "入伍" in traditional


def test_jieba_tokenizers_are_independent() -> None:
    first, second = Tokenizer("jieba"), Tokenizer("jieba")
    assert first.tokenize("知识库") == second.tokenize("知识库")
    assert first._jieba is not second._jieba


def test_stopwords() -> None:
    tok = Tokenizer("bigram", QUESTION_STOPWORDS)
    assert "什麼" not in tok.tokenize("導致什麼後果")
    assert "導致" in tok.tokenize("導致什麼後果")


def test_unknown_mode_rejected() -> None:
    with pytest.raises(ValueError, match="unknown"):
        Tokenizer("trigram")  # type: ignore[arg-type]


def test_signature_differs_by_mode_and_stopwords() -> None:
    signatures = {
        Tokenizer("bigram").signature,
        Tokenizer("jieba").signature,
        Tokenizer("bigram", QUESTION_STOPWORDS).signature,
    }
    assert len(signatures) == 3


# ---- BM25 against a brute-force reference ------------------------------------------------


def brute_force_bm25(
    docs: dict[int, str], query: str, tok: Tokenizer, k1: float = 1.2, b: float = 0.75
) -> dict[int, float]:
    tokens = {i: tok.tokenize(text) for i, text in docs.items()}
    n = len(tokens)
    if n == 0:
        return {}
    avgdl = sum(len(t) for t in tokens.values()) / n
    df = Counter(term for t in tokens.values() for term in set(t))
    scores = {}
    for i, doc_tokens in tokens.items():
        tf = Counter(doc_tokens)
        score = 0.0
        for term in tok.tokenize(query):
            if tf[term]:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                norm = k1 * (1 - b + b * len(doc_tokens) / avgdl)
                score += idf * tf[term] * (k1 + 1) / (tf[term] + norm)
        if score:
            scores[i] = score
    return scores


ALPHABET = [*"甲乙丙丁戊己庚辛壬癸", "ab", "cd", "3.2", "ef"]


def random_text(rng: random.Random) -> str:
    words = [rng.choice(ALPHABET) for _ in range(rng.randint(0, 25))]
    return "".join(w + (" " if rng.random() < 0.3 else "") for w in words)


def assert_matches(index: LexicalIndex, docs: dict[int, str], query: str, tok: Tokenizer) -> None:
    expected = brute_force_bm25(docs, query, tok, index.k1, index.b)
    got = dict(index.search(query, 10_000))
    assert set(got) == set(expected)
    for chunk_id, score in expected.items():
        # scores are float32 (rounding ~1e-7); a stale length norm or df is off by far more
        assert got[chunk_id] == pytest.approx(score, rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("small_segments", [False, True])
def test_bm25_exact_under_adds_removes_updates(
    seed: int, small_segments: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if small_segments:  # exercise delta consolidation and merges often
        monkeypatch.setattr(lexical, "_DELTA_MIN", 40)
        monkeypatch.setattr(lexical, "_MAX_SEGMENTS", 3)
    rng = random.Random(seed)
    tok = Tokenizer("bigram")
    index = LexicalIndex(tokenizer=tok, k1=rng.choice([0.9, 1.2, 1.5]), b=rng.choice([0.5, 0.75]))
    docs: dict[int, str] = {}
    next_id = 1
    for _ in range(150):
        action = rng.random()
        if action < 0.45 or not docs:
            ids = list(range(next_id, next_id + rng.randint(1, 6)))
            next_id += len(ids)
            texts = [random_text(rng) for _ in ids]
            index.add(ids, texts)
            docs.update(zip(ids, texts, strict=True))
        elif action < 0.7:
            gone = rng.sample(sorted(docs), min(len(docs), rng.randint(1, 4)))
            index.remove([*gone, 10**9])  # an unknown id is ignored
            for chunk_id in gone:
                del docs[chunk_id]
        elif action < 0.9:  # update in place: same ids, new texts
            ids = rng.sample(sorted(docs), min(len(docs), 2))
            texts = [random_text(rng) for _ in ids]
            index.add(ids, texts)
            docs.update(zip(ids, texts, strict=True))
        else:
            index.merge()
        assert len(index) == len(docs)
        assert index.ids() == set(docs)
        assert_matches(index, docs, random_text(rng), tok)


def test_search_order_k_and_ties() -> None:
    index = LexicalIndex(tokenizer=Tokenizer("bigram"))
    index.add([5, 3, 9], ["羅馬軍團", "羅馬軍團", "無關內容"])
    hits = index.search("羅馬軍團", 10)
    assert [chunk_id for chunk_id, _ in hits] == [3, 5]  # equal scores: by id
    assert hits[0][1] == hits[1][1] > 0
    assert index.search("羅馬軍團", 1) == hits[:1]
    assert index.search("沒有這個", 10) == []
    assert index.search("", 10) == []
    assert index.search("羅馬", 0) == []


def test_empty_index() -> None:
    index = LexicalIndex()
    assert len(index) == 0
    assert index.search("anything", 5) == []
    assert index.search_with_reference("anything", 5).reference == 0.0


def test_score_equals_search_scores() -> None:
    index = LexicalIndex(tokenizer=Tokenizer("bigram"))
    index.add([1, 2, 3], ["羅馬軍團的士兵", "軍團士兵退伍", "羅馬帝國"])
    hits = dict(index.search("羅馬軍團士兵", 10))
    assert index.score("羅馬軍團士兵", [1, 2, 3, 99]) == {i: hits.get(i, 0.0) for i in (1, 2, 3)}


def test_reference_is_the_idf_sum_of_known_query_tokens() -> None:
    index = LexicalIndex(tokenizer=Tokenizer("bigram"))
    index.add([1, 2], ["羅馬", "軍團"])
    result = index.search_with_reference("羅馬 未知", 5)
    assert result.reference == pytest.approx(math.log(1 + 1.5 / 1.5))
    # an average-length chunk holding each known token once scores exactly the reference
    assert result.hits[0][1] == pytest.approx(result.reference)


def test_add_rejects_bad_input() -> None:
    index = LexicalIndex()
    with pytest.raises(ValueError, match="texts"):
        index.add([1, 2], ["only one"])
    with pytest.raises(ValueError, match="duplicate"):
        index.add([1, 1], ["a", "b"])
    with pytest.raises(ValueError, match="k1"):
        LexicalIndex(k1=-1)


# ---- persistence -------------------------------------------------------------------------


def open_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def test_round_trip_gives_identical_results(tmp_path: Path) -> None:
    rng = random.Random(7)
    tok = Tokenizer("bigram")
    conn = open_db(tmp_path / "kb.sqlite")
    index = LexicalIndex(conn, tokenizer=tok)
    docs = {i: random_text(rng) for i in range(1, 60)}
    index.add(list(docs), list(docs.values()))
    index.remove([3, 4, 5])
    index.add([7, 100], ["甲乙丙", "ab cd"])
    queries = [random_text(rng) for _ in range(20)]
    before = [index.search(q, 20) for q in queries]
    conn.close()

    conn = open_db(tmp_path / "kb.sqlite")
    reopened = LexicalIndex(conn, tokenizer=Tokenizer("bigram"))
    assert reopened.ids() == index.ids()
    assert reopened.vocabulary_size == index.vocabulary_size
    assert [reopened.search(q, 20) for q in queries] == before
    # it keeps working exactly after the reopen
    for chunk_id in (1, 2):
        del docs[chunk_id]
    reopened.remove([1, 2])
    for chunk_id in (3, 4, 5):
        del docs[chunk_id]
    docs[7], docs[100] = "甲乙丙", "ab cd"
    for q in queries[:5]:
        assert_matches(reopened, docs, q, tok)
    conn.close()


def test_tables_live_in_the_given_database(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "kb.sqlite")
    LexicalIndex(conn).add([1], ["羅馬軍團"])
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"lex_meta", "lex_terms", "lex_docs"} <= tables
    assert conn.execute("SELECT COUNT(*) FROM lex_docs").fetchone() == (1,)


def test_changed_tokenizer_empties_the_index_and_sync_refills_it(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "kb.sqlite")
    texts = {1: "羅馬軍團", 2: "中华人民共和国", 3: "Roman legion"}
    LexicalIndex(conn, tokenizer=Tokenizer("bigram")).add(list(texts), list(texts.values()))
    other = LexicalIndex(conn, tokenizer=Tokenizer("unigram+bigram"))
    assert len(other) == 0
    assert other.sync(texts.keys(), lambda ids: {i: texts[i] for i in ids}) == (3, 0)
    assert {chunk_id for chunk_id, _ in other.search("軍", 5)} == {1}


def test_sync_adds_missing_and_removes_extra() -> None:
    index = LexicalIndex(tokenizer=Tokenizer("bigram"))
    index.add([1, 2, 3], ["羅馬", "軍團", "士兵"])
    texts = {2: "軍團", 3: "士兵", 4: "退伍", 5: "土地"}
    asked: list[list[int]] = []

    def texts_of(ids: list[int]) -> dict[int, str]:
        asked.append(ids)
        return {i: texts[i] for i in ids}

    assert index.sync(texts.keys(), texts_of, batch_size=1) == (2, 1)
    assert asked == [[4], [5]]
    assert index.ids() == {2, 3, 4, 5}
    assert index.sync(texts.keys(), texts_of) == (0, 0)


def test_clear(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "kb.sqlite")
    index = LexicalIndex(conn)
    index.add([1], ["羅馬"])
    index.clear()
    assert len(index) == 0
    assert len(LexicalIndex(conn)) == 0


def test_failed_write_leaves_memory_unchanged(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "kb.sqlite")
    index = LexicalIndex(conn, tokenizer=Tokenizer("bigram"))
    index.add([1], ["羅馬軍團"])
    conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON lex_docs BEGIN SELECT RAISE(ABORT, 'x'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        index.add([1, 2], ["軍團", "士兵"])
    assert index.ids() == {1}
    assert index.search("羅馬", 5)[0][0] == 1
    conn.execute("DROP TRIGGER boom")
    assert len(LexicalIndex(conn, tokenizer=Tokenizer("bigram"))) == 1


def test_shared_connection_with_a_lock_and_concurrent_searches(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "kb.sqlite")
    db_lock = threading.Lock()
    index = LexicalIndex(conn, tokenizer=Tokenizer("bigram"), db_lock=db_lock)
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                for chunk_id, score in index.search("羅馬軍團", 50):
                    assert chunk_id > 0 and score > 0
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for start in range(1, 400, 20):
        index.add(list(range(start, start + 20)), ["羅馬軍團的士兵"] * 20)
        index.remove(range(start, start + 5))
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(index) == 300


def test_add_with_remove_replaces_a_files_chunks_in_one_step(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "kb.sqlite")
    tok = Tokenizer("bigram")
    index = LexicalIndex(conn, tokenizer=tok)
    index.add([1, 2], ["羅馬軍團", "軍團士兵"])
    index.add([3, 4], ["羅馬帝國", "帝國士兵"], remove=[1, 2, 99])
    assert index.ids() == {3, 4}
    assert_matches(index, {3: "羅馬帝國", 4: "帝國士兵"}, "羅馬軍團士兵", tok)
    index.add([], [], remove=[3])
    assert index.ids() == {4}
    assert LexicalIndex(conn, tokenizer=tok).ids() == {4}


def test_default_tokenizer_searches_both_scripts_and_english(jieba_tokenizer: Tokenizer) -> None:
    index = LexicalIndex(tokenizer=jieba_tokenizer)
    index.add(
        [1, 2, 3, 4],
        [
            "羅馬軍團的士兵在退伍後將會得到一片土地",
            "罗马军团的士兵在退伍后将会得到一片土地",
            "Python 3.2 was released in 2011 by the PSF",
            "中華民國於1912年成立",
        ],
    )
    assert index.search("羅馬軍團士兵退伍後得到什麼", 1)[0][0] == 1
    assert index.search("罗马军团士兵退伍后得到什么", 1)[0][0] == 2
    assert index.search("when was python 3.2 released", 1)[0][0] == 3
    assert index.search("1912年", 1)[0][0] == 4
