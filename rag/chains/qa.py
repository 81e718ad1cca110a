"""Answering a question, with or without a knowledge base, as a stream of events.

Nothing here knows which model runs: the LLM is any LangChain LLM, the prompt comes from
PROMPT_TEMPLATE, and the retriever from the knowledge-base service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from langchain_core.documents import Document
from langchain_core.language_models import BaseLLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_core.retrievers import BaseRetriever

from rag.chains.context import neighbour_lookup, select_within_budget, with_neighbours
from rag.chains.reading import Reading, simplified_reading
from rag.chains.script import ScriptConverter, answer_script, kept_characters
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
    sources once retrieval is done, or a piece of the answer's text."""

    kind: Literal["sources", "token", "rewritten"]
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


@dataclass(frozen=True)
class RefusalRetry:
    """A second try when the model replies that the sources hold no answer although the best
    source scores at least `min_score`: small models refuse on text that does answer."""

    template: str
    """The prompt of the second try ({context} and {question}, as PROMPT_TEMPLATE)."""
    min_score: float
    """Retry only when the best source's relevance is at least this (0-1)."""
    prefixes: tuple[str, ...]
    """How a "not found" reply begins (as the prompts ask for it)."""
    fold: Callable[[str], str] = str.casefold
    """Applied to the answer and the prefixes before comparing them (see `refusal_fold`)."""


def refusal_fold(converter: ScriptConverter | None) -> Callable[[str], str]:
    """Case-folded and, with OpenCC, in Simplified script: small models mix scripts within a
    reply (the 1.5B wrote 資料中没有找到答案)."""
    if converter is None:
        return str.casefold

    def folded(text: str) -> str:
        return converter.to_simplified(text).casefold()

    return folded


class RefusalWatch:
    """Holds back the beginning of a streamed answer while it may still be a "not found"
    reply, so that a refusal is never shown when a second try replaces it.

    Feed it the pieces as they arrive; it returns the text that can be shown now. An answer
    that cannot begin like any of `prefixes` is passed on at once (usually from its first
    piece); one that does begin so sets `refused`.
    """

    def __init__(self, prefixes: Sequence[str], fold: Callable[[str], str] = str.casefold) -> None:
        self._fold = fold
        self._prefixes = tuple(fold(p) for p in prefixes if p)
        self._held = ""
        self._decided = not self._prefixes
        self.refused = False

    def feed(self, piece: str) -> str:
        if self._decided:
            return piece
        self._held += piece
        lead = self._fold(self._held.lstrip())
        if any(lead.startswith(prefix) for prefix in self._prefixes):
            self._decided = self.refused = True
            return ""
        if any(prefix.startswith(lead) for prefix in self._prefixes):
            return ""  # may still become a refusal
        self._decided = True
        return self.flush()

    def flush(self) -> str:
        """The text held back (at the end of an answer shorter than a refusal's beginning)."""
        text, self._held = self._held, ""
        return text


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
        if retry is not None and sources[0].score >= retry.min_score:
            pieces = self._retried_after_refusal(pieces, context, standalone, retry)
        for piece in self._in_script(question, context, pieces):
            yield ChatEvent("token", text=piece)

    def _retried_after_refusal(
        self, pieces: Iterator[str], context: str, question: str, retry: RefusalRetry
    ) -> Iterator[str]:
        """`pieces`, or, when they begin a "not found" reply, the second try's answer."""
        watch = RefusalWatch(retry.prefixes, retry.fold)
        try:
            for piece in pieces:
                shown = watch.feed(piece)
                if watch.refused:
                    break
                if shown:
                    yield shown
            else:
                if tail := watch.flush():
                    yield tail
                return
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # ends generation and frees the model for the second try
        assert self.retry_chain is not None  # set with refusal_retry
        logger.info("the model found no answer in relevant sources; asking once more")
        yield from self.retry_chain.stream({"context": context, "question": question})

    def _reading(self, question: str, context: str, standalone: str) -> Reading:
        """What the model is given: the sources and question as written, or in Simplified."""
        converter = self.script_converter
        if not self.read_simplified or converter is None:
            return Reading(context, standalone)
        traditional = answer_script(converter, question, context) == "traditional"
        return simplified_reading(converter, context, standalone, traditional)

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
        else:
            parts.append(event.text)
    return Answer("".join(parts), sources, rewritten)
