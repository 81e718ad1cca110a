"""Rewriting steps over the model's stream: stopping one ends the model's generation."""

import itertools

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import GenerationChunk
from langchain_core.retrievers import BaseRetriever
from pydantic import Field

from rag.chains import QAChain
from rag.chains.citations import CitationFilter
from rag.chains.not_found import Refusals
from rag.chains.numbers import NumberWording
from rag.chains.processors import PROCESSORS, ProcessorTools
from rag.chains.reading import SourceWording
from rag.chains.replies import TrailingRefusal, as_not_found
from rag.chains.retry import RETRY_POLICIES, RetryOptions, Verdict, script_fold
from rag.chains.script import ScriptConverter
from rag.chains.streams import closing
from rag.chains.turn import Source, Turn

SOURCE = "岳飛派二千人駐守吉州。"


def model_stream(closed: list[bool]):
    try:
        yield from ["岳飛", "派2000人", "駐守"]
    finally:
        closed.append(True)


CONVERTER = ScriptConverter()
TURN = Turn.asked(
    "岳飛派多少人？", "岳飛派多少人？", "zh-Hant", [Source(1, "a", None, SOURCE, 0.9)]
)
TOOLS = ProcessorTools(CONVERTER, Refusals())
OPTIONS = RetryOptions({"zh": "Z", "en": "E"}, 0.0, Refusals(), script_fold(CONVERTER))


def processor(name: str):
    built = PROCESSORS[name](TOOLS)
    return lambda pieces: built.process(pieces, built.prepare(TURN))


def policy(name: str):
    return lambda pieces: RETRY_POLICIES[name](OPTIONS).watch(pieces, TURN, Verdict())


REWRITES = {
    "source wording": lambda pieces: SourceWording(SOURCE, SOURCE).stream(pieces),
    "numbers": lambda pieces: NumberWording(SOURCE).stream(pieces),
    "citations": lambda pieces: CitationFilter({1}).stream(pieces),
    "trailing refusal": lambda pieces: TrailingRefusal(Refusals()).stream(pieces),
    "not found": lambda pieces: as_not_found(pieces, Refusals(), "X"),
    "pass-through": lambda pieces: closing(pieces, lambda source: source),
    **{f"processor {name}": processor(name) for name in PROCESSORS},
    **{f"policy {name}": policy(name) for name in RETRY_POLICIES},
}


@pytest.mark.parametrize("rewrite", REWRITES.values(), ids=REWRITES.keys())
def test_stopping_early_closes_the_model_stream(rewrite):
    closed: list[bool] = []
    stream = rewrite(model_stream(closed))
    assert next(stream)
    assert closed == []
    stream.close()
    assert closed == [True]


@pytest.mark.parametrize("rewrite", REWRITES.values(), ids=REWRITES.keys())
def test_reading_to_the_end_closes_the_model_stream(rewrite):
    closed: list[bool] = []
    assert "".join(rewrite(model_stream(closed))).startswith("岳飛")
    assert closed == [True]


def test_a_refusal_ends_the_model_stream():
    closed: list[bool] = []

    def refusing():
        try:
            yield from ["资料中", "没有找到答案", "，因为"]
        finally:
            closed.append(True)

    verdict = Verdict()
    assert list(RETRY_POLICIES["refusal_retry"](OPTIONS).watch(refusing(), TURN, verdict)) == []
    assert verdict.again is not None and closed == [True]


class CountingLLM(LLM):
    """A LangChain LLM with a long answer that records how much of it was generated."""

    record: dict[str, int] = Field(default_factory=lambda: {"produced": 0, "closed": 0})

    @property
    def _llm_type(self) -> str:
        return "counting"

    def _call(self, prompt: str, stop=None, run_manager=None, **kwargs) -> str:
        return "字" * 1000

    def _stream(self, prompt: str, stop=None, run_manager=None, **kwargs):
        try:
            for _ in range(1000):
                self.record["produced"] += 1
                yield GenerationChunk(text="字")
        finally:
            self.record["closed"] += 1


class OneDocument(BaseRetriever):
    def _get_relevant_documents(self, query, *, run_manager=None):
        return [Document(SOURCE, metadata={"source": "a.md", "score": 0.9})]


@pytest.mark.parametrize("retriever", [None, OneDocument()], ids=["plain chat", "from a KB"])
def test_closing_the_answer_ends_the_models_generation(retriever):
    """Through LangChain's own stream the model ran to its end first: a sequence closed
    early reads its input, the model's answer, to the end (Stop, a client gone)."""
    llm = CountingLLM()
    qa = QAChain(llm, "{context}\n{question}", context_char_budget=1000, history_len=0)
    events = qa.stream("岳飛派多少人？", retriever)
    tokens = [event for event in itertools.islice(events, 8) if event.kind == "token"]
    assert tokens
    events.close()
    assert llm.record["closed"] == 1 and llm.record["produced"] < 20
