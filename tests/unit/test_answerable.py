"""The check that a knowledge base can answer a question at all, before the model is asked."""

from __future__ import annotations

from typing import Any

import pytest

from rag.kb.service import SearchHit
from rag.lexical.index import LexicalIndex
from rag.lexical.tokenize import QUESTION_STOPWORDS, Tokenizer
from rag.retrievers.answerable import AnswerabilityCheck, Relevance
from rag.retrievers.kb_retriever import KnowledgeBaseRetriever

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


class StubService:
    """A knowledge base whose search and relevance are given."""

    def __init__(self, relevance: Relevance) -> None:
        self._relevance = relevance
        self.search_options = type("Options", (), {"max_query_chars": 2000})()

    def search(self, kb: str, query: str, top_k: int, threshold: float) -> list[SearchHit]:
        return [SearchHit(1, "正文", "a.md", None, "", 0.7, 0.88)]

    def relevance(self, kb: str, query: str, hits: list[SearchHit]) -> Relevance:
        return self._relevance


@pytest.mark.parametrize(("coverage", "returned"), [(0.6, 1), (0.1, 0)])
def test_the_retriever_returns_nothing_for_a_question_it_cannot_answer(coverage, returned):
    service: Any = StubService(Relevance(0.88, coverage))
    retriever = KnowledgeBaseRetriever.model_construct(
        service=service, kb="kb", top_k=3, score_threshold=0.0,
        answerability=AnswerabilityCheck(0.915),
    )  # fmt: skip
    assert len(retriever.invoke("问题")) == returned
    unchecked = KnowledgeBaseRetriever.model_construct(
        service=service, kb="kb", top_k=3, score_threshold=0.0, answerability=None
    )
    assert len(unchecked.invoke("问题")) == 1
