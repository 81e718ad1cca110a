"""`Services`: the objects one running zhiku is made of, built once by `rag.factory` and
passed in."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from langchain_core.language_models import BaseLLM

from rag.chains import ChatEvent, QAChain, collect_answer
from rag.concurrency import RequestGate
from rag.conversations import ConversationStore
from rag.documents import PdfPageRenderer
from rag.evaluation import EvalQuestion, EvalReport, evaluate
from rag.input_limits import check_history, check_query
from rag.retrieval import AnswerabilityCheck, HybridRetriever
from rag.services.conversations import ConversationService
from rag.services.knowledge import KnowledgeBaseService
from rag.services.links import DocumentLinks
from rag.services.models_info import ModelsInUse, models_in_use
from rag.services.webpages import WebPageService
from rag.settings import Settings


@dataclass
class Services:
    settings: Settings
    kb: KnowledgeBaseService
    llm: BaseLLM
    qa: QAChain
    llm_gate: RequestGate
    web: WebPageService
    """Adds web pages by URL."""
    conversation_store: ConversationStore
    answerability: AnswerabilityCheck | None = None
    """Refuses questions the KB cannot answer; calibrated for the embedding entry's model."""
    links: DocumentLinks = field(default_factory=lambda: DocumentLinks.for_token(None))
    """Signed links to documents and page images, for the UI's pages (keyed by API_TOKEN)."""
    pages: PdfPageRenderer = field(default_factory=PdfPageRenderer)
    """Renders PDF pages for the source viewer (one per app: PDFium is not thread-safe)."""

    def models_in_use(self) -> ModelsInUse:
        """The LLM and embedding model that run, and their devices."""
        return models_in_use(self.settings, self.llm, self.kb.embeddings)

    @cached_property
    def conversations(self) -> ConversationService:
        """Chat turns kept in each user's conversations, answered by `chat`."""
        return ConversationService(self.conversation_store, self.chat)

    def retriever(self, kb: str) -> HybridRetriever:
        """A retriever over `kb` for chat answers: the LLM's number of sources (its entry's
        `vector_search_top_k`, else VECTOR_SEARCH_TOP_K) and the score threshold."""
        self.kb.store(kb)  # a missing KB is a 404 now, not an empty answer later
        return self.kb.retriever(
            kb,
            top_k=self.settings.answer_top_k,
            score_threshold=self.settings.retrieval.score_threshold,
            answerability=self.answerability,
        )

    def chat(
        self, question: str, kb: str | None, history: Sequence[tuple[str, str]] = ()
    ) -> Iterator[ChatEvent]:
        """Answer events for `question`, after waiting in the bounded LLM queue.

        A generator: a question or history over its limit (413), the queue slot (BusyError
        when full) and a missing KB (404) surface on the first `next()`, before any event,
        and the slot is released when it is closed.
        """
        check_query(question, self.settings.server.max_query_chars, "question")
        check_history(
            history, self.settings.answer.history_len, self.settings.server.max_history_chars
        )
        retriever = self.retriever(kb) if kb else None
        with self.llm_gate.slot():
            yield from self.qa.stream(question, retriever, history)

    def evaluate(
        self,
        kb: str,
        questions: list[EvalQuestion],
        answers: int = 0,
        on_progress: Callable[[int, int], None] | None = None,
        questions_file: str | None = None,
    ) -> EvalReport:
        """Retrieval (and, for the first `answers` questions, answer) quality of `kb`; kept
        among `kb`'s quality runs when the questions' file is named."""
        report = evaluate(
            kb,
            questions,
            search=kb_search_fn(self.kb, kb, self.settings.retrieval.score_threshold),
            answer=lambda question: collect_answer(self.chat(question, kb)).text,
            answers=answers,
            on_progress=on_progress,
        )
        if questions_file:
            self.kb.quality_runs.record(kb, questions_file, report.as_dict())
        return report


def answerability_check(settings: Settings) -> AnswerabilityCheck | None:
    """The embedding entry's check that a question can be answered at all, if it has one
    and ANSWERABILITY_CHECK is on; near its threshold it leaves the question to the model
    when the LLM entry says how sure the model must be (`answerable_min_yes`)."""
    entry = settings.models.embedding
    if entry.answerable_min is None or not settings.retrieval.answerability_check:
        return None
    asks = getattr(settings.models.llm, "answerable_min_yes", None) is not None
    return AnswerabilityCheck(
        entry.answerable_min,
        entry.answerable_coverage_weight,
        entry.answerable_min_latin,
        margin=entry.answerable_ask_margin if asks else 0.0,
        latin_margin=entry.answerable_ask_margin_latin if asks else None,
    )


def kb_search_fn(
    service: KnowledgeBaseService, kb: str, threshold: float
) -> Callable[[str, int], list[tuple[str, str]]]:
    def search(question: str, k: int) -> list[tuple[str, str]]:
        return [(hit.source, hit.text) for hit in service.search(kb, question, k, threshold)]

    return search
