"""A second try when a small model's first answer is no answer: a "not found" reply although
a relevant source holds the answer, or the question repeated back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from rag.chains.script import ScriptConverter


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
    on_echo: bool = True
    """Also retry when the answer only repeats the question (see `repeats_question`)."""


def refusal_fold(converter: ScriptConverter | None) -> Callable[[str], str]:
    """Case-folded and, with OpenCC, in Simplified script: small models mix scripts within a
    reply (the 1.5B wrote 資料中没有找到答案)."""
    if converter is None:
        return str.casefold

    def folded(text: str) -> str:
        return converter.to_simplified(text).casefold()

    return folded


def begins_with_refusal(
    text: str, prefixes: Sequence[str], fold: Callable[[str], str] = str.casefold
) -> bool:
    """Whether `text`, leading spaces aside, begins with one of `prefixes`, both folded: what
    makes a reply the "not found" reply, for the chain's second try and for the scripts that
    count refusals (see `rag.chains.not_found`)."""
    lead = fold(text.lstrip())
    return any(lead.startswith(fold(prefix)) for prefix in prefixes if prefix)


class RefusalWatch:
    """Holds back the beginning of a streamed answer while it may still be a "not found"
    reply, so that a refusal is never shown when a second try replaces it.

    Feed it the pieces as they arrive; it returns the text that can be shown now. An answer
    that cannot begin like any of `prefixes` is passed on at once (usually from its first
    piece); one that does begin so sets `refused`.
    """

    def __init__(self, prefixes: Sequence[str], fold: Callable[[str], str] = str.casefold) -> None:
        self._fold = fold
        self._given = tuple(p for p in prefixes if p)
        self._prefixes = tuple(fold(p) for p in self._given)
        self._held = ""
        self._decided = not self._prefixes
        self.refused = False

    def feed(self, piece: str) -> str:
        if self._decided:
            return piece
        self._held += piece
        if begins_with_refusal(self._held, self._given, self._fold):
            self._decided = self.refused = True
            return ""
        lead = self._fold(self._held.lstrip())
        if any(prefix.startswith(lead) for prefix in self._prefixes):
            return ""  # may still become a refusal
        self._decided = True
        return self.flush()

    def flush(self) -> str:
        """The text held back (at the end of an answer shorter than a refusal's beginning)."""
        text, self._held = self._held, ""
        return text


# A question repeated with a word or two changed: this share of its characters as asked.
_NEARLY_ALL = 0.9
_CITATION = re.compile(r"\[\d+(?:\s*[,，]\s*\d+)*\]")


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
