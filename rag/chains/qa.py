"""Answering a question, with or without a knowledge base, as a stream of events.

Nothing here knows which model runs: the LLM is any LangChain LLM, the prompt comes from
PROMPT_TEMPLATE, and the retriever from the knowledge-base service.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from langchain_core.documents import Document
from langchain_core.language_models import BaseLLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_core.retrievers import BaseRetriever

from rag.chains.context import neighbour_lookup, select_within_budget, with_neighbours
from rag.chains.reading import Reading, simplified_reading
from rag.chains.retry import RefusalRetry, RefusalWatch, repeats_question
from rag.chains.script import ScriptConverter, answer_script, kept_characters
from rag.chains.streams import closing
from rag.tokens import TokenCounter, estimate_tokens

logger = logging.getLogger(__name__)

NOTHING_FOUND = (
    "知识库中没有找到与问题相关的内容，无法回答。"
    "No relevant content was found in the knowledge base, so I cannot answer."
)


CONDENSE_TEMPLATE = """Conversation so far:
{history}

Follow-up question: {question}

Rewrite the follow-up question as one standalone question that can be understood without \
the conversation: replace pronouns such as "it", "它", "他", "the second one" with what they \
refer to. Keep the language and script of the follow-up question. Output only the question.
Standalone question:"""


@dataclass(frozen=True)
class Source:
    """A numbered source the answer may cite as [index]."""

    index: int
    source: str
    page: int | None
    text: str
    score: float

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "source": self.source,
            "page": self.page,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class ChatEvent:
    """One step of an answer: the standalone question a follow-up was rewritten into, the
    sources once retrieval is done, a piece of the answer's text, or "restart": the answer
    so far is withdrawn (it only repeated the question) and the text that follows replaces
    it."""

    kind: Literal["sources", "token", "rewritten", "restart"]
    text: str = ""
    sources: Sequence[Source] = field(default_factory=tuple)


def build_context(
    documents: Sequence[Document],
    char_budget: int,
    token_budget: int | None = None,
    count_tokens: TokenCounter = estimate_tokens,
) -> list[Source]:
    """Number the retrieved chunks in rank order, dropping duplicates, within the budget
    (characters, and tokens when `token_budget` is set).

    A chunk that does not fit whole is skipped in favour of a later shorter one; the first
    chunk is always kept, cut to the character budget if it must be.
    """
    kept = select_within_budget(documents, char_budget, token_budget, count_tokens)
    return [
        Source(
            index=number,
            source=str(document.metadata.get("source", "")),
            page=document.metadata.get("page"),
            text=document.page_content,
            score=float(document.metadata.get("score", 0.0)),
        )
        for number, document in enumerate(kept, 1)
    ]


def format_context(sources: Sequence[Source]) -> str:
    lines = []
    for source in sources:
        where = source.source + (f" p.{source.page}" if source.page else "")
        lines.append(f"[{source.index}] ({where}) {source.text}")
    return "\n\n".join(lines)


def format_history(history: Sequence[tuple[str, str]], turns: int) -> str:
    if turns <= 0 or not history:
        return ""
    recent = history[-turns:]
    return "\n".join(f"Q: {q}\nA: {a}" for q, a in recent) + "\n\n"


class QAChain:
    """Answers a question from a knowledge base (retrieval) or directly (plain chat).

    A follow-up question ("它是哪一年成立的？") is first rewritten by the LLM into a standalone
    question using the recent turns (condense-question), and that is what is retrieved with.
    """

    def __init__(
        self,
        llm: BaseLLM,
        prompt_template: str,
        context_char_budget: int,
        history_len: int,
        condense_template: str = CONDENSE_TEMPLATE,
        merge_neighbours: bool = False,
        script_converter: ScriptConverter | None = None,
        context_token_budget: int | None = None,
        count_tokens: TokenCounter = estimate_tokens,
        refusal_retry: RefusalRetry | None = None,
        read_simplified: bool = False,
        keep_source_numbers: bool = True,
    ) -> None:
        self.llm = llm
        self.rag_chain = PromptTemplate.from_template(prompt_template) | llm | StrOutputParser()
        self.refusal_retry = refusal_retry
        self.retry_chain = (
            PromptTemplate.from_template(refusal_retry.template) | llm | StrOutputParser()
            if refusal_retry is not None
            else None
        )
        self.chat_chain = llm | StrOutputParser()
        self.condense_chain = (
            PromptTemplate.from_template(condense_template) | llm | StrOutputParser()
        )
        self.context_char_budget = context_char_budget
        self.context_token_budget = context_token_budget
        """Tokens of retrieved text the prompt may hold (None: characters only)."""
        self.count_tokens = count_tokens
        self.history_len = history_len
        self.merge_neighbours = merge_neighbours
        self.script_converter = script_converter
        """Converts answers to the question's Chinese script (None: answers left as is)."""
        if read_simplified and script_converter is None:
            raise ValueError("read_simplified needs a script_converter to convert answers back")
        self.read_simplified = read_simplified
        self.keep_source_numbers = keep_source_numbers
        """Write the numbers of an answer as its sources do (二千, not 2000: see
        `rag.chains.numbers`)."""
        """Give the model its sources and question in Simplified script (see
        `rag.chains.reading`); a second try after a refusal reads them as written."""

    def standalone_question(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """`question` rewritten to stand on its own; unchanged when there is no history."""
        turns = format_history(history, self.history_len)
        if not turns:
            return question
        rewritten = self.condense_chain.invoke(
            {"history": turns.strip(), "question": question}, stop=["\n"]
        )
        rewritten = rewritten.strip().strip('"“”')
        return rewritten or question

    def stream(
        self,
        question: str,
        retriever: BaseRetriever | None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Iterator[ChatEvent]:
        """Sources first (empty for plain chat), then the answer's text as it is generated."""
        if retriever is None:
            yield ChatEvent("sources")
            asked = format_history(history, self.history_len) + question
            for piece in self._in_script(question, "", self.chat_chain.stream(asked)):
                yield ChatEvent("token", text=piece)
            return
        standalone = self.standalone_question(question, history)
        if standalone != question:
            yield ChatEvent("rewritten", text=standalone)
        documents = retriever.invoke(standalone)
        lookup = neighbour_lookup(retriever) if self.merge_neighbours else None
        if lookup is not None:  # MERGE_NEIGHBOURS: widen hits with their neighbouring chunks
            documents = with_neighbours(documents, self.context_char_budget, lookup)
        sources = build_context(
            documents, self.context_char_budget, self.context_token_budget, self.count_tokens
        )
        yield ChatEvent("sources", sources=sources)
        if not sources:
            yield ChatEvent("token", text="".join(self._in_script(question, "", [NOTHING_FOUND])))
            return
        context = format_context(sources)
        reading = self._reading(question, context, standalone)
        pieces = iter(
            reading.restored(
                self.rag_chain.stream({"context": reading.context, "question": reading.question})
            )
        )
        retry = self.refusal_retry
        if retry is None or sources[0].score < retry.min_score:
            for piece in self._in_script(question, context, pieces):
                yield ChatEvent("token", text=piece)
            return
        watch = RefusalWatch(retry.prefixes, retry.fold)
        shown = []
        for piece in self._in_script(question, context, _until_refused(pieces, watch)):
            shown.append(piece)
            yield ChatEvent("token", text=piece)
        if watch.refused:  # nothing of the refusal was shown
            logger.info("the model found no answer in relevant sources; asking once more")
        elif retry.on_echo and repeats_question("".join(shown), standalone, retry.fold):
            logger.info("the model repeated the question; asking once more")
            yield ChatEvent("restart")
        else:
            return
        for piece in self._in_script(question, context, self._second_try(context, standalone)):
            yield ChatEvent("token", text=piece)

    def _second_try(self, context: str, question: str) -> Iterable[str]:
        """The answer to RETRY_PROMPT_TEMPLATE, which reads the sources as written."""
        assert self.retry_chain is not None  # set with refusal_retry
        answer = self.retry_chain.stream({"context": context, "question": question})
        return Reading(context, question, keep_numbers=self.keep_source_numbers).restored(answer)

    def _reading(self, question: str, context: str, standalone: str) -> Reading:
        """What the model is given: the sources and question as written, or in Simplified."""
        converter = self.script_converter
        keep_numbers = self.keep_source_numbers
        if not self.read_simplified or converter is None:
            return Reading(context, standalone, keep_numbers=keep_numbers)
        traditional = answer_script(converter, question, context) == "traditional"
        return simplified_reading(converter, context, standalone, traditional, keep_numbers)

    def _in_script(self, question: str, context: str, pieces: Iterable[str]) -> Iterable[str]:
        """The answer's pieces in the script of the question (or of the context, when the
        question has no script-specific characters)."""
        if self.script_converter is None:
            return pieces
        script = answer_script(self.script_converter, question, context)
        keep = kept_characters(self.script_converter, script, context)
        return self.script_converter.stream_to(script, pieces, keep)

    def answer(
        self,
        question: str,
        retriever: BaseRetriever | None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Answer:
        """The whole answer, its sources and the rewritten question (if any)."""
        return collect_answer(self.stream(question, retriever, history))


def _until_refused(pieces: Iterator[str], watch: RefusalWatch) -> Iterator[str]:
    """`pieces` as `watch` lets them through, ending (and closing them, which ends the
    model's generation and frees it for a second try) if they begin a "not found" reply."""
    return closing(pieces, lambda source: _let_through(source, watch))


def _let_through(pieces: Iterator[str], watch: RefusalWatch) -> Iterator[str]:
    for piece in pieces:
        shown = watch.feed(piece)
        if watch.refused:
            return
        if shown:
            yield shown
    if tail := watch.flush():
        yield tail


@dataclass(frozen=True)
class Answer:
    text: str
    sources: list[Source]
    rewritten: str | None = None


def collect_answer(events: Iterable[ChatEvent]) -> Answer:
    """Join a stream of events into one `Answer`."""
    parts: list[str] = []
    sources: list[Source] = []
    rewritten = None
    for event in events:
        if event.kind == "sources":
            sources = list(event.sources)
        elif event.kind == "rewritten":
            rewritten = event.text
        elif event.kind == "restart":
            parts.clear()
        else:
            parts.append(event.text)
    return Answer("".join(parts), sources, rewritten)
