"""The check that a knowledge base can answer a question at all, before the model is asked."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from rag.kb.store import ChunkRecord
from rag.lexical.index import LexicalIndex, LexicalResult
from rag.lexical.tokenize import QUESTION_STOPWORDS, Tokenizer
from rag.retrieval import HybridRetriever
from rag.retrieval.answerable import AnswerabilityCheck, Relevance

CHUNKS = [
    "星河科技公司成立于1987年，总部位于杭州市西湖区。",
    "公司的创始人是林晓峰，主要产品是工业机器人控制器。",
    "2023年公司营业收入为48亿元，员工人数约为3200人。",
    "The Zephyr Valley Observatory was founded in 1962 by the astronomer Helen Marsh.",
]


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    lexical = LexicalIndex(tokenizer=Tokenizer("bigram"))
    lexical.add(list(range(len(CHUNKS))), CHUNKS)
    return lexical


def test_the_check_adds_the_weighted_coverage_to_the_cosine():
    check = AnswerabilityCheck(min_score=0.9, coverage_weight=0.2)
    assert check.score(Relevance(0.85, 0.5)) == pytest.approx(0.95)
    assert check.answerable(Relevance(0.85, 0.5))
    assert not check.answerable(Relevance(0.85, 0.2))


def test_coverage_counts_the_question_words_the_chunk_holds(index):
    covered = index.coverage("星河科技的创始人是谁？", CHUNKS[1], QUESTION_STOPWORDS)
    assert covered > 0.4
    # the subject of an off-topic question is nowhere in the knowledge base: it weighs most
    off_topic = index.coverage("巴吞他尼府的首府是谁？", CHUNKS[1], QUESTION_STOPWORDS)
    assert off_topic < 0.1
    assert index.coverage("Who founded the observatory?", CHUNKS[3]) == pytest.approx(1.0)
    assert index.coverage("Who won Super Bowl 50?", CHUNKS[3]) == 0.0
    assert index.coverage("谁？", CHUNKS[1], QUESTION_STOPWORDS) == 0.0  # nothing to cover


def test_a_one_chunk_knowledge_base_still_covers_its_own_words():
    lexical = LexicalIndex(tokenizer=Tokenizer())
    text = "建炎四年，范汝為在建州起兵，軍隊駐紮在建州城裏的開元寺。"
    lexical.add([1], [text])
    # without the pseudo-chunks: 0.17 (the question's other bigrams, 寺在 and 在哪, outweighed it)
    assert lexical.coverage("開元寺在哪裡？", text, QUESTION_STOPWORDS) > 0.4


class StubStore:
    """A knowledge base of one chunk, found with cosine 0.88, whose coverage of any
    question is given (the `ChunkStore` the retriever reads)."""

    def __init__(self, coverage: float) -> None:
        self._coverage = coverage
        self._chunk = ChunkRecord(1, "a.md", 0, "正文", None, "", {})

    def search(self, query_vector: Any, k: int) -> list[tuple[int, float]]:
        return [(1, 0.88)]

    def lexical_search(self, query: str, k: int) -> LexicalResult:
        return LexicalResult([(1, 2.0)], 4.0)

    def coverage(self, query: str, text: str, ignore: frozenset[str] = frozenset()) -> float:
        return self._coverage

    def chunks_by_id(self, ids: Iterable[int]) -> dict[int, ChunkRecord]:
        return {1: self._chunk} if 1 in set(ids) else {}

    def chunks_of_file(self, name: str) -> list[ChunkRecord]:
        return [self._chunk]

    def file(self, name: str) -> None:
        return None


def retriever_over(store: StubStore, check: AnswerabilityCheck | None) -> HybridRetriever:
    return HybridRetriever(
        kb="kb",
        open_store=lambda: nullcontext(store),
        embeddings=DeterministicFakeEmbedding(size=8),
        top_k=3,
        answerability=check,
    )


@pytest.mark.parametrize(("coverage", "returned"), [(0.6, 1), (0.1, 0)])
def test_the_retriever_returns_nothing_for_a_question_it_cannot_answer(coverage, returned):
    store = StubStore(coverage)
    retriever = retriever_over(store, AnswerabilityCheck(0.915))
    [hit] = retriever.search("问题", 3)
    assert retriever.relevance("问题", [hit]) == Relevance(0.88, coverage)
    assert len(retriever.invoke("问题")) == returned
    assert len(retriever_over(store, None).invoke("问题")) == 1


def test_a_question_without_chinese_characters_may_have_its_own_minimum():
    check = AnswerabilityCheck(min_score=0.915, coverage_weight=0.2, latin_min_score=0.90)
    relevance = Relevance(0.85, 0.3)  # 0.91
    assert check.answerable(relevance, "Who leads the Islamic State?")
    assert not check.answerable(relevance, "伊斯兰国由谁领导？")
    assert not check.answerable(relevance, "Who leads 伊斯兰国?")  # any Chinese: the Chinese one
    assert AnswerabilityCheck(0.915).min_score_for("Who leads it?") == 0.915


def test_the_shipped_embedding_entries_set_both_minimums():
    from rag.services import answerability_check
    from rag.settings import load_settings

    check = answerability_check(load_settings(env={}))
    assert check is not None
    assert (check.min_score, check.latin_min_score) == (0.915, 0.90)
