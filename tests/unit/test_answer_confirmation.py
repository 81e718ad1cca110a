"""Near the answerability threshold the model is asked whether the sources answer the
question (rag.chains.confirm; the check's margin in rag.retrieval.answerable)."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.chains.confirm import CONFIRM_TEMPLATE, AnswerConfirmation
from rag.chains.not_found import NOT_FOUND_REPLIES
from rag.llms.gguf import yes_share
from rag.retrieval.answerable import ANSWERABILITY_KEY, AnswerabilityCheck, Relevance
from tests.unit.test_answerable import StubStore, retriever_over
from tests.unit.test_chain import make_chain

PASSAGE = "The Zephyr Valley Observatory was founded in 1962 by the astronomer Helen Marsh."


class StubModel:
    """Says "Yes" with probability `yes` (None: cannot tell) and records what it was asked."""

    def __init__(self, yes: float | None) -> None:
        self.yes = yes
        self.asked: list[tuple[str, str | None]] = []

    def yes_probability(self, prompt: str, system_prompt: str | None = None) -> float | None:
        self.asked.append((prompt, system_prompt))
        return self.yes


class Marked(BaseRetriever):
    """One passage, marked as the check marks a question it leaves to the model."""

    decision: str | None

    def _get_relevant_documents(self, query, *, run_manager):
        metadata = {"source": "obs.md", "score": 0.7, "page": None}
        if self.decision:
            metadata[ANSWERABILITY_KEY] = self.decision
        return [Document(page_content=PASSAGE, metadata=metadata)]


def ask(decision: str | None, model: StubModel | None) -> tuple[str, list]:
    chain, _ = make_chain(["It was founded in 1962 [1]."])
    chain.confirmation = AnswerConfirmation(model, 0.8) if model else None
    events = list(chain.stream("When was the observatory founded?", Marked(decision=decision)))
    answer = "".join(e.text for e in events if e.kind == "token")
    sources = next(e.sources for e in events if e.kind == "sources")
    return answer, list(sources)


def test_the_check_leaves_scores_within_the_margin_to_the_model():
    check = AnswerabilityCheck(0.915, margin=0.02, latin_margin=0.03, latin_min_score=0.90)
    assert check.decision(Relevance(0.90, 0.0), "问题？") == "ask-below"  # 0.015 below
    assert check.decision(Relevance(0.93, 0.0), "问题？") == "ask"
    assert check.decision(Relevance(0.89, 0.0), "问题？") == "refuse"
    assert check.decision(Relevance(0.94, 0.0), "问题？") == "answer"
    assert check.decision(Relevance(0.875, 0.0), "Who?") == "ask-below"  # English: 0.03
    assert check.decision(Relevance(0.865, 0.0), "Who?") == "refuse"
    assert AnswerabilityCheck(0.915).decision(Relevance(0.914, 0.0)) == "refuse"  # no margin


@pytest.mark.parametrize(("coverage", "decision"), [(0.1, "ask-below"), (0.25, "ask")])
def test_the_retriever_marks_the_results_it_leaves_to_the_model(coverage, decision):
    check = AnswerabilityCheck(0.915, margin=0.03)  # cosine 0.88 + 0.2 x coverage
    [hit] = retriever_over(StubStore(coverage), check).invoke("问题")
    assert hit.metadata[ANSWERABILITY_KEY] == decision
    [plain] = retriever_over(StubStore(0.6), check).invoke("问题")
    assert ANSWERABILITY_KEY not in plain.metadata


def test_the_model_saying_no_gives_the_not_found_reply_without_sources():
    model = StubModel(0.55)
    answer, sources = ask("ask", model)
    assert answer == NOT_FOUND_REPLIES["en"]
    assert sources == []
    [(prompt, _system)] = model.asked
    assert PASSAGE in prompt and "When was the observatory founded?" in prompt
    assert prompt.endswith("Does one of the sources above answer this question? Reply Yes or No.")


def test_the_model_saying_yes_gets_the_answer_with_its_sources():
    answer, sources = ask("ask-below", StubModel(0.93))
    assert answer.startswith("It was founded in 1962 [1].")
    assert [s.source for s in sources] == ["obs.md"]


def test_a_question_the_check_decided_is_not_put_to_the_model():
    model = StubModel(0.1)
    answer, _ = ask(None, model)
    assert answer.startswith("It was founded in 1962")
    assert model.asked == []


@pytest.mark.parametrize(("decision", "answered"), [("ask", True), ("ask-below", False)])
def test_without_a_model_to_ask_the_threshold_decides(decision, answered):
    answer, _ = ask(decision, None)
    assert (answer == NOT_FOUND_REPLIES["en"]) is not answered
    answer, _ = ask(decision, StubModel(None))  # a backend without token probabilities
    assert answer.startswith("It was founded")


def test_the_confirm_prompt_begins_as_the_answer_prompt_does():
    # the same head, so llama.cpp evaluates the sources once for both prompts
    from rag.settings import load_settings

    answer_prompt = load_settings(env={}).answer.prompt_templates["en"]
    head = CONFIRM_TEMPLATE.split("{question}")[0]
    assert answer_prompt.startswith(head)


def test_yes_share_compares_the_two_answers_first_tokens():
    logits = np.full(10, -5.0)
    logits[[1, 2]] = [2.0, 1.0]  # "Yes", " Yes"
    logits[3] = 2.0  # "No"
    share = yes_share(logits, ([1, 2], [3]))
    expected = (np.exp(2) + np.exp(1)) / (np.exp(2) + np.exp(1) + np.exp(2))
    assert share == pytest.approx(expected)
    assert yes_share(np.zeros(4), ([0], [1])) == pytest.approx(0.5)


def test_the_shipped_entries_ask_the_model_on_english_questions_only():
    from rag.services import answerability_check
    from rag.settings import load_settings

    settings = load_settings(env={})
    check = answerability_check(settings)
    assert check is not None
    assert (check.margin, check.latin_margin) == (0.0, 0.02)
    assert settings.models.llm.answerable_min_yes == 0.85  # type: ignore[union-attr]
    other = load_settings(env={}, llm_model="fast")  # no answerable_min_yes: no margin
    fast_check = answerability_check(other)
    assert fast_check is not None and (fast_check.margin, fast_check.latin_margin) == (0.0, None)
