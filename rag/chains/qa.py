"""Answering a question, with or without a knowledge base, as a stream of events.

Nothing here knows which model runs: the LLM is any LangChain LLM, the prompt comes from
PROMPT_TEMPLATE, the retriever from the knowledge-base service, and the steps between the
model and the user (answer processors, retry policies) from the model's config entry.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable

from rag.chains.confirm import AnswerConfirmation
from rag.chains.context import neighbour_lookup, with_neighbours
from rag.chains.follow_up import FollowUps
from rag.chains.language import Language, per_language, prompt_language, question_language
from rag.chains.not_found import not_found_reply
from rag.chains.processors import AnswerProcessor
from rag.chains.quoting import SentenceQuoter, without_quote
from rag.chains.retry import RetryPolicy, Verdict
from rag.chains.script import ScriptConverter
from rag.chains.streams import closing, text_stream
from rag.chains.translate import QuestionTranslator
from rag.chains.turn import Source, Turn, build_context, format_context
from rag.retrieval.answerable import ANSWERABILITY_KEY
from rag.tokens import TokenCounter, estimate_tokens

logger = logging.getLogger(__name__)


CONDENSE_TEMPLATE = """Conversation so far:
{history}

Follow-up question: {question}

Rewrite the follow-up question as one standalone question that can be understood without \
the conversation: replace pronouns such as "it", "它", "他", "the second one" with what they \
refer to. Keep the language and script of the follow-up question. Output only the question.
Standalone question:"""


@dataclass(frozen=True)
class ChatEvent:
    """One step of an answer: the standalone question a follow-up was rewritten into
    ("rewritten"), the sources once retrieval is done ("sources"), a piece of the answer's
    text ("token"), or "replace": the answer so far is replaced by `text` (possibly empty),
    and the tokens that follow continue from there (an answer withdrawn for a second try, or
    for the "not found" reply)."""

    kind: Literal["sources", "token", "rewritten", "replace"]
    text: str = ""
    sources: Sequence[Source] = field(default_factory=tuple)


def format_history(history: Sequence[tuple[str, str]], turns: int) -> str:
    """The last `turns` turns as the model reads them: each answer without its quote."""
    if turns <= 0 or not history:
        return ""
    recent = history[-turns:]
    return "\n".join(f"Q: {q}\nA: {without_quote(a)}" for q, a in recent) + "\n\n"


class QAChain:
    """Answers a question from a knowledge base (retrieval) or directly (plain chat).

    The stages, each a method: condense (`standalone_question`: a follow-up such as
    "它是哪一年成立的？" rewritten by the LLM into a standalone question, which is what is
    retrieved with) -> retrieve and build the context (`search`, `sources`; a question the
    knowledge base holds only in the other language is translated) -> generate (`generate`)
    -> answer processors (`prepare`, `process`) -> retry policies (`watch`, then at most one
    second try).
    """

    def __init__(
        self,
        llm: Runnable[Any, str],
        prompt_template: str | Mapping[str, str],
        context_char_budget: int,
        history_len: int,
        condense_template: str = CONDENSE_TEMPLATE,
        merge_neighbours: bool = False,
        context_token_budget: int | None = None,
        count_tokens: TokenCounter = estimate_tokens,
        converter: ScriptConverter | None = None,
        processors: Sequence[AnswerProcessor] = (),
        retry_policies: Sequence[RetryPolicy] = (),
        system_prompts: Mapping[str, str] | None = None,
        quoter: SentenceQuoter | None = None,
        translator: QuestionTranslator | None = None,
        confirmation: AnswerConfirmation | None = None,
        follow_ups: FollowUps | None = None,
    ) -> None:
        self.llm = llm
        """The model; each stage pipes its prompt into it."""
        self.prompts = per_language(prompt_template)
        """PROMPT_TEMPLATE per language of the question."""
        self.condense_template = condense_template
        self.context_char_budget = context_char_budget
        self.context_token_budget = context_token_budget
        """Tokens of retrieved text the prompt may hold (None: characters only)."""
        self.count_tokens = count_tokens
        self.history_len = history_len
        self.merge_neighbours = merge_neighbours
        self.converter = converter
        """Tells Traditional from Simplified questions, for the reply's language (None:
        Chinese replies are in Simplified)."""
        self.processors = tuple(processors)
        """The answer processors, in the order the answer passes through them."""
        self.retry_policies = tuple(retry_policies)
        self.system_prompts = dict(system_prompts) if system_prompts else None
        """SYSTEM_PROMPT per language of the question, sent with each answer's prompt
        (None: the model's own system message)."""
        self.quoter = quoter
        """Quotes the source's sentence under the answer shown (None: no quote)."""
        self.translator = translator
        """Translates a question the knowledge base holds only in the other language (None:
        questions are searched as asked)."""
        self.confirmation = confirmation
        """Asks the model whether the sources answer a question the answerability check left
        to it (None: such a question is answered)."""
        self.follow_ups = follow_ups or FollowUps()
        """Which questions after the first are rewritten to stand alone, and which rewrites
        are searched with."""

    def stream(
        self,
        question: str,
        retriever: BaseRetriever | None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Iterator[ChatEvent]:
        """Sources first (empty for plain chat), then the answer's text as it is generated."""
        if retriever is None:
            yield from self._plain_chat(question, history)
            return
        standalone = self.standalone_question(question, history)
        if standalone != question:
            yield ChatEvent("rewritten", text=standalone)
        found = yield from self.search(standalone, retriever)
        sources = found.sources
        turn = Turn.asked(question, standalone, self.language_of(question, sources), sources)
        prepared = self.prepare(turn) if sources else turn
        if sources and found.ask and not self.confirmed(prepared, found.ask):
            sources = []  # shown as for a question the check refused
        yield ChatEvent("sources", sources=sources)
        if not sources:
            yield ChatEvent("token", text=not_found_reply(turn.language))
            return
        yield from self.answer_turn(prepared)

    def standalone_question(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """`question` rewritten to stand on its own; unchanged when there is no history, when
        it does not point back to it, or when the rewrite loses it (`FollowUps`)."""
        turns = format_history(history, self.history_len)
        if not turns or not self.follow_ups.needs_rewrite(question):
            return question
        condense = PromptTemplate.from_template(self.condense_template) | self.llm
        rewritten = (condense | StrOutputParser()).invoke(
            {"history": turns.strip(), "question": question}, stop=["\n"]
        )
        rewritten = rewritten.strip().strip('"“”')
        return rewritten if self.follow_ups.keeps(question, rewritten) else question

    def search(
        self, standalone: str, retriever: BaseRetriever
    ) -> Generator[ChatEvent, None, Retrieved]:
        """The sources for `standalone`; when there are none and the knowledge base is in the
        other language, those for its translation (a "rewritten" event shows it)."""
        found = self.retrieve(standalone, retriever)
        if found.sources or self.translator is None:
            return found
        translated = self.translator.translated(standalone, retriever)
        if translated is None:
            return found
        yield ChatEvent("rewritten", text=translated)
        return self.retrieve(translated, retriever)

    def sources(self, standalone: str, retriever: BaseRetriever) -> list[Source]:
        """The retrieved chunks, numbered, within the context budget."""
        return self.retrieve(standalone, retriever).sources

    def retrieve(self, standalone: str, retriever: BaseRetriever) -> Retrieved:
        """`sources`, and whether the answerability check left the question to the model."""
        documents = retriever.invoke(standalone)
        asked = {str(d.metadata.get(ANSWERABILITY_KEY, "")) for d in documents}
        ask = "ask" if "ask" in asked else "ask-below" if "ask-below" in asked else None
        lookup = neighbour_lookup(retriever) if self.merge_neighbours else None
        if lookup is not None:  # MERGE_NEIGHBOURS: widen hits with their neighbouring chunks
            documents = with_neighbours(documents, self.context_char_budget, lookup)
        sources = build_context(
            documents, self.context_char_budget, self.context_token_budget, self.count_tokens
        )
        return Retrieved(sources, ask)

    def confirmed(self, turn: Turn, ask: str) -> bool:
        """Whether the model judges that the sources answer the question; without an
        `AnswerConfirmation`, whether its score reached the threshold (`ask` is "ask")."""
        if self.confirmation is None:
            return ask == "ask"
        return self.confirmation.confirms(turn, self.system_for(turn).get("system_prompt"))

    def language_of(self, question: str, sources: Sequence[Source]) -> Language:
        """The language (and Chinese script) the reply is in."""
        return question_language(question, self.converter, format_context(sources))

    def prepare(self, turn: Turn) -> Turn:
        """What the model is given, as the answer processors have it."""
        for processor in self.processors:
            turn = processor.prepare(turn)
        return turn

    def generate(self, templates: Mapping[str, str], turn: Turn) -> Iterator[str]:
        """The model's answer to the template for the question's language, as it comes."""
        template = PromptTemplate.from_template(templates[prompt_language(turn.language)])
        prompt = template.format(context=turn.read_context, question=turn.read_question)
        return text_stream(self.llm, prompt, **self.system_for(turn))

    def system_for(self, turn: Turn) -> dict[str, str]:
        """The system message of the question's language (its script's own if there is one),
        as the model's call argument."""
        if self.system_prompts is None:
            return {}
        own = self.system_prompts.get(turn.language)
        return {"system_prompt": own or self.system_prompts[prompt_language(turn.language)]}

    def process(self, pieces: Iterable[str], turn: Turn) -> Iterator[str]:
        """The answer's pieces through the answer processors."""
        for processor in self.processors:
            pieces = processor.process(pieces, turn)
        return iter(pieces)

    def watch(self, pieces: Iterable[str], turn: Turn, verdict: Verdict) -> Iterator[str]:
        """The answer's pieces past the retry policies, which may decide to ask again."""
        for policy in self.retry_policies:
            pieces = policy.watch(pieces, turn, verdict)
        return iter(pieces)

    def may_withdraw(self, answer_start: str, question: str) -> bool:
        """Whether a knowledge-base answer shown up to `answer_start` may still be replaced
        (by a retry policy): what a stream that cannot take text back must hold back."""
        return any(policy.may_withdraw(answer_start, question) for policy in self.retry_policies)

    def answer_turn(self, turn: Turn) -> Iterator[ChatEvent]:
        """The answer, and at most one second try when a retry policy asks for it (reading
        the sources as written); a "replace" event first when the answer shown is withdrawn
        (by the "not found" reply when a policy withdraws it for good); then the quote of the
        sentence it rests on."""
        verdict, shown = Verdict(), Shown()
        pieces = self.watch(self.process(self.generate(self.prompts, turn), turn), turn, verdict)
        yield from _tokens(shown.keep(pieces))
        if verdict.withdrawn is not None:
            logger.info("answer withdrawn: %s", verdict.withdrawn)
            shown.text = not_found_reply(turn.language)
            yield ChatEvent("replace", text=shown.text)
            return
        again = verdict.again
        if again is not None:
            logger.info("%s; asking once more", again.reason)
            if again.replace:
                yield ChatEvent("replace")
                shown = Shown()
            second = turn.as_written()
            yield from _tokens(
                shown.keep(self.process(self.generate(again.templates, second), second))
            )
        if self.quoter is not None:
            yield from _tokens(self.quoter.pieces(shown.text, turn.question, turn.sources))

    def _plain_chat(self, question: str, history: Sequence[tuple[str, str]]) -> Iterator[ChatEvent]:
        """No knowledge base: the recent turns and the question as they are, no sources."""
        yield ChatEvent("sources")
        turn = Turn.asked(question, question, self.language_of(question, ()))
        asked = format_history(history, self.history_len) + question
        pieces = text_stream(self.llm, asked, **self.system_for(turn))
        yield from _tokens(self.process(pieces, turn))

    def answer(
        self,
        question: str,
        retriever: BaseRetriever | None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Answer:
        """The whole answer, its sources and the rewritten question (if any)."""
        return collect_answer(self.stream(question, retriever, history))


class Shown:
    """The text of an answer as it is shown, kept while it streams."""

    def __init__(self) -> None:
        self.text = ""

    def keep(self, pieces: Iterable[str]) -> Iterator[str]:
        return closing(pieces, self._keeping)

    def _keeping(self, pieces: Iterator[str]) -> Iterator[str]:
        for piece in pieces:
            self.text += piece
            yield piece


def _tokens(pieces: Iterator[str]) -> Iterator[ChatEvent]:
    """The pieces as token events; a consumer that stops early (a client gone) closes them,
    which ends the model's generation and frees it for the next question."""
    try:
        for piece in pieces:
            if piece:
                yield ChatEvent("token", text=piece)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


@dataclass(frozen=True)
class Retrieved:
    """The numbered sources of a question, and whether the answerability check left it to
    the model (`QAChain.confirmed`)."""

    sources: list[Source]
    ask: str | None = None
    """"ask" or "ask-below" (the score above or below the threshold) when the check left
    the question to the model, else None."""


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
        elif event.kind == "replace":
            parts[:] = [event.text]
        else:
            parts.append(event.text)
    return Answer("".join(parts), sources, rewritten)
