"""Retry policies: asking the model once more when its first answer is no answer, or
withdrawing an answer that is not drawn from the sources.

A policy watches the answer's pieces on their way to the user (after the answer
processors) and decides whether to ask again, with which prompt, and whether what was shown
must be replaced; or that the answer is withdrawn for the "not found" reply. The chain asks
at most once more; the second try reads the sources as written and goes through the same
answer processors. It asks only when the best source scores at least RETRY_MIN_SCORE: below
it the sources are rarely about the question.

Registered policies (`RETRY_POLICIES`, listed per model entry as `retry_policies`):

* `refusal_retry`: a "not found" reply although a relevant source holds the answer (small
  models refuse on text that answers). The beginning of the answer is held back while it
  may still be a refusal, so a refusal that is asked again is never shown.
* `echo_retry`: an answer that only repeats the question. Found once the answer ends, so it
  has been shown: the chain replaces it (a "replace" event) with the second try. Such an
  answer is never much longer than the question (`may_repeat_question`), so a client that
  cannot take text back needs to hold back only that much of an answer.
* `unsupported_answer`: an answer whose first sentence names a number or a Latin-script
  name that neither the question nor any source holds, and is not otherwise drawn from a
  source; or any answer to a question naming a 《work》 that no source names
  (rag/chains/grounding.py): the model answered from its own knowledge, about something the
  documents do not cover. Judged as soon as the first sentence ends (the model is stopped
  then), the chain replacing what was shown with the "not found" reply; the title before
  the model is asked. A client that cannot take text back holds back the first sentence
  (`may_withdraw`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from types import MappingProxyType
from typing import Protocol

from rag.chains.grounding import first_sentence, ungrounded_terms, unnamed_titles
from rag.chains.not_found import Refusals, RefusalWatch
from rag.chains.script import ScriptConverter
from rag.chains.streams import closing
from rag.chains.turn import Turn
from rag.errors import ConfigError


@dataclass(frozen=True)
class AskAgain:
    """A policy's decision: ask once more."""

    templates: Mapping[str, str]
    """The prompt ({context} and {question}), per language of the question."""
    replace: bool
    """The answer shown so far is to be replaced (it was shown before it was judged)."""
    reason: str
    """Why, for the log."""


@dataclass
class Verdict:
    """What the policies watching one answer decided (the first decision stands)."""

    again: AskAgain | None = None
    withdrawn: str | None = None
    """Why the answer is withdrawn for the "not found" reply (None: it stands)."""

    @property
    def decided(self) -> bool:
        return self.again is not None or self.withdrawn is not None


class RetryPolicy(Protocol):
    """Watches an answer on its way to the user and decides whether to ask again."""

    name: str

    def watch(self, pieces: Iterable[str], turn: Turn, verdict: Verdict) -> Iterator[str]:
        """The pieces as they may be shown; sets `verdict.again` (while they stream, ending
        them, or once they end) when the model is to be asked again, or `verdict.withdrawn`."""
        ...

    def may_withdraw(self, answer_start: str, question: str) -> bool:
        """Whether an answer shown up to `answer_start` may still be replaced: what a stream
        that cannot take text back must hold."""
        ...


@dataclass(frozen=True)
class RetryOptions:
    """What retry policies are built with."""

    templates: Mapping[str, str]
    """RETRY_PROMPT_TEMPLATE, per language."""
    min_score: float
    """Ask again only when the best source's relevance is at least this (0-1)."""
    refusals: Refusals
    fold: Callable[[str], str] = str.casefold
    """Applied to answer and question before comparing them (see `script_fold`)."""

    def applies(self, turn: Turn) -> bool:
        return bool(turn.sources) and turn.sources[0].score >= self.min_score


class RefusalRetry:
    """Asks again after a "not found" reply."""

    name = "refusal_retry"

    def __init__(self, options: RetryOptions) -> None:
        self.options = options

    def watch(self, pieces: Iterable[str], turn: Turn, verdict: Verdict) -> Iterator[str]:
        if not self.options.applies(turn):
            return iter(pieces)
        return closing(pieces, lambda source: self._until_refused(source, verdict))

    def may_withdraw(self, answer_start: str, question: str) -> bool:
        return False  # a refusal is held back by the policy itself, never shown

    def _until_refused(self, pieces: Iterator[str], verdict: Verdict) -> Iterator[str]:
        """`pieces` as a `RefusalWatch` lets them through, ending (which closes them: the
        model stops generating) when they begin a "not found" reply."""
        watch = RefusalWatch(self.options.refusals)
        for piece in pieces:
            shown = watch.feed(piece)
            if watch.refused:
                if not verdict.decided:
                    reason = "the model found no answer in relevant sources"
                    verdict.again = AskAgain(self.options.templates, False, reason)
                return
            if shown:
                yield shown
        if tail := watch.flush():
            yield tail


class EchoRetry:
    """Asks again when the answer only repeats the question (see `repeats_question`)."""

    name = "echo_retry"

    def __init__(self, options: RetryOptions) -> None:
        self.options = options

    def watch(self, pieces: Iterable[str], turn: Turn, verdict: Verdict) -> Iterator[str]:
        if not self.options.applies(turn):
            return iter(pieces)
        return closing(pieces, lambda source: self._judged(source, turn, verdict))

    def may_withdraw(self, answer_start: str, question: str) -> bool:
        return may_repeat_question(answer_start, question, self.options.fold)

    def _judged(self, pieces: Iterator[str], turn: Turn, verdict: Verdict) -> Iterator[str]:
        shown = []
        for piece in pieces:
            shown.append(piece)
            yield piece
        answer = "".join(shown)
        if not verdict.decided and repeats_question(answer, turn.standalone, self.options.fold):
            reason = "the model repeated the question"
            verdict.again = AskAgain(self.options.templates, True, reason)


class UnsupportedAnswer:
    """Withdraws an answer whose first sentence names what no source holds (module doc)."""

    name = "unsupported_answer"
    longest_held = 300
    """Characters a client that cannot take text back holds at most (a first sentence that
    runs on is let through)."""

    def __init__(self, options: RetryOptions) -> None:
        self.options = options

    def watch(self, pieces: Iterable[str], turn: Turn, verdict: Verdict) -> Iterator[str]:
        return closing(pieces, lambda source: self._judged(source, turn, verdict))

    def may_withdraw(self, answer_start: str, question: str) -> bool:
        return first_sentence(answer_start) is None and len(answer_start) <= self.longest_held

    def _judged(self, pieces: Iterator[str], turn: Turn, verdict: Verdict) -> Iterator[str]:
        titles = unnamed_titles(turn.standalone, self._sources(turn), self.options.fold)
        if titles and not verdict.decided:
            verdict.withdrawn = f"no source names {', '.join(titles)}"
            return  # before the model is asked: nothing is generated or shown
        answer, judged = "", False
        for piece in pieces:
            answer += piece
            sentence = first_sentence(answer)
            if not judged and (sentence is not None or len(answer) > self.longest_held):
                judged = True
                # judged before the piece ending the sentence goes on: a stream holding the
                # first sentence back (`may_withdraw`) never sends a withdrawn one
                if self._withdraws(sentence or answer, turn, verdict):
                    return  # the model stops: what it says next is not shown
            yield piece
        if not judged:
            self._withdraws(answer, turn, verdict)

    def _withdraws(self, sentence: str, turn: Turn, verdict: Verdict) -> bool:
        if verdict.decided or self.options.refusals.begins(sentence):
            return False
        asked = f"{turn.question}\n{turn.standalone}"
        missing = ungrounded_terms(sentence, asked, self._sources(turn))
        if missing:
            verdict.withdrawn = f"no source holds {', '.join(missing)}"
        return bool(missing)

    @staticmethod
    def _sources(turn: Turn) -> list[str]:
        """The sources as written and as the model read them."""
        return [source.text for source in turn.sources] + [turn.read_context]


RETRY_POLICIES: Mapping[str, Callable[[RetryOptions], RetryPolicy]] = MappingProxyType(
    {
        RefusalRetry.name: RefusalRetry,
        EchoRetry.name: EchoRetry,
        UnsupportedAnswer.name: UnsupportedAnswer,
    }
)
"""Retry policies by config name."""


def build_retry_policies(names: Sequence[str], options: RetryOptions) -> list[RetryPolicy]:
    """The policies `names` lists, in order; ConfigError for an unknown name (listing the
    valid ones) or a name listed twice."""
    for at, name in enumerate(names):
        if name not in RETRY_POLICIES:
            raise ConfigError(
                f"unknown retry policy {name!r}; valid: {', '.join(sorted(RETRY_POLICIES))}"
            )
        if name in names[:at]:
            raise ConfigError(f"retry policy {name!r} is listed twice")
    return [RETRY_POLICIES[name](options) for name in names]


def script_fold(converter: ScriptConverter | None) -> Callable[[str], str]:
    """Case-folded and, with OpenCC, in Simplified script: an answer repeating the question
    may do so in the other script."""
    if converter is None:
        return str.casefold

    def folded(text: str) -> str:
        return converter.to_simplified(text).casefold()

    return folded


# A question repeated with a word or two changed: this share of its characters as asked.
_NEARLY_ALL = 0.9
_CITATION = re.compile(r"\[\d+(?:\s*[,，]\s*\d+)*\]")
# the start of a citation still being written ("[1", "[1, "): its digits go with it later
_OPEN_CITATION = re.compile(r"\[[\d\s,，]*$")
# letters that folding a whole answer may count otherwise than folding its beginning did
_FOLD_SLACK = 2


def _letters(text: str, fold: Callable[[str], str]) -> str:
    """`text` without citations, punctuation and spaces, folded."""
    return "".join(char for char in fold(_CITATION.sub("", text)) if char.isalnum())


def repeats_question(answer: str, question: str, fold: Callable[[str], str] = str.casefold) -> bool:
    """Whether `answer` says nothing but (at least half of) the question, or nothing at all.

    The 1.5B answers about one question in thirty (on the dev set) by repeating it: "萊茵河
    沿線的第幾大港口是史特拉斯堡港? [1]", sometimes with a word changed (許多 for 很多), but
    then still as a question. A short answer that happens to be a word of the question
    ("高雄" for "台北和高雄哪個大？") is an answer, so it must cover half the question; and an
    answer that restates the question with the answer in it ("...第二大港口是...港。") differs
    from it where the answer is, so a changed word counts only in a question.
    """
    said = _letters(answer, fold)
    asked = _letters(question, fold)
    if not said:
        return True
    if 2 * len(said) < len(asked):
        return False
    if said in asked:
        return True
    if not _CITATION.sub("", answer).rstrip().endswith(("?", "？")):
        return False
    matcher = SequenceMatcher(None, said, asked, autojunk=False)
    copied = sum(block.size for block in matcher.get_matching_blocks())
    return copied >= _NEARLY_ALL * len(said)


def may_repeat_question(
    answer_start: str, question: str, fold: Callable[[str], str] = str.casefold
) -> bool:
    """Whether an answer beginning with `answer_start` may still be judged to repeat
    `question` (`repeats_question`) once it ends. An answer that repeats the question has at
    most the question's letters over _NEARLY_ALL, so once the beginning has more, what was
    shown stays: a stream that cannot withdraw text (the OpenAI-compatible API) holds an
    answer back only while this is true."""
    said = _letters(_OPEN_CITATION.sub("", answer_start), fold)
    asked = _letters(question, fold)
    return len(said) <= len(asked) / _NEARLY_ALL + _FOLD_SLACK


__all__ = [
    "RETRY_POLICIES",
    "AskAgain",
    "EchoRetry",
    "RefusalRetry",
    "RetryOptions",
    "RetryPolicy",
    "UnsupportedAnswer",
    "Verdict",
    "build_retry_policies",
    "may_repeat_question",
    "repeats_question",
    "script_fold",
]
