"""The "not found" reply: one text per language, and how a reply is recognised as it.

NOT_FOUND_REPLIES is the one place the reply is written, per language: what the user is
shown, and (their beginnings, PROMPT_PREFIXES) what a reply is recognised by. A reply is the
"not found" reply when it begins with one of PROMPT_PREFIXES or of the configured
NOT_FOUND_PREFIXES (further beginnings, for a prompt asking for another wording), in either
Chinese script and in any case. The shipped prompts (configs/kb_config.py, plain text) ask
for PROMPT_PREFIXES' wording; tests/unit/test_not_found.py checks that they do. The chain's
second try, its answer processors and the scripts that count refusals (`scripts/devgate.py`,
`scripts/eval_prompts.py`) all decide with `is_not_found` / `Refusals`, so that a measured
refusal rate means what the app means.

The user is shown the reply in the language of the question, whether it came from the model
(the `not_found_reply` answer processor) or from the chain (no sources found).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Protocol

from rag.chains.language import Language

NOT_FOUND_REPLIES: Mapping[Language, str] = MappingProxyType(
    {
        "zh-Hans": "资料中没有找到答案。",
        "zh-Hant": "資料中沒有找到答案。",
        "en": "I could not find the answer in the documents.",
    }
)
"""What the user is shown when the documents hold no answer, by the question's language."""

_VARYING_TAIL = " in the documents."
"""Where the English reply's wording may vary ("... in the sources")."""

PROMPT_PREFIXES = tuple(
    reply.removesuffix(_VARYING_TAIL).rstrip("。.") for reply in NOT_FOUND_REPLIES.values()
)
"""How the "not found" reply begins, per language: NOT_FOUND_REPLIES up to where a model's
wording may vary. Always recognised; NOT_FOUND_PREFIXES adds to them."""

# The refusal's Traditional characters as their Simplified twins: small models mix the
# scripts within one reply (the 1.5B wrote 資料中没有找到答案). Character for character, so
# that a position in the folded text is the same position in the text.
_TO_SIMPLIFIED = str.maketrans(
    {
        traditional: simplified
        for traditional, simplified in zip(
            NOT_FOUND_REPLIES["zh-Hant"], NOT_FOUND_REPLIES["zh-Hans"], strict=True
        )
        if traditional != simplified
    }
)


def fold_refusal(text: str) -> str:
    """`text` lower-cased, the refusal's Traditional characters in Simplified; the same
    length as `text`."""
    return "".join(
        lower if len(lower := char.lower()) == 1 else char
        for char in text.translate(_TO_SIMPLIFIED)
    )


class Refusals:
    """Recognises the "not found" reply: PROMPT_PREFIXES and `prefixes` (NOT_FOUND_PREFIXES),
    folded (see `fold_refusal`)."""

    def __init__(self, prefixes: Iterable[str] = ()) -> None:
        given = (prefix.strip() for prefix in (*PROMPT_PREFIXES, *prefixes))
        self.prefixes = tuple(dict.fromkeys(fold_refusal(p) for p in given if p))
        """How a refusal begins, folded."""

    def begins(self, text: str) -> bool:
        """Whether `text` (leading spaces aside) begins with the "not found" reply."""
        lead = fold_refusal(text.lstrip())
        return any(lead.startswith(prefix) for prefix in self.prefixes)

    def may_begin(self, text: str) -> bool:
        """Whether `text` (leading spaces aside) may still become the "not found" reply."""
        lead = fold_refusal(text.lstrip())
        return any(prefix.startswith(lead) for prefix in self.prefixes)

    def at(self, text: str) -> int:
        """The length of the refusal prefix `text` begins with (0: none)."""
        lead = fold_refusal(text)
        return max((len(p) for p in self.prefixes if lead.startswith(p)), default=0)

    def mentioned(self, text: str) -> bool:
        """Whether the "not found" text appears anywhere in `text`."""
        folded = fold_refusal(text)
        return any(prefix in folded for prefix in self.prefixes)


class RefusalWatch:
    """Holds back the beginning of a streamed answer while it may still be a "not found"
    reply.

    Feed it the pieces as they arrive; it returns the text that can be shown now. An answer
    that cannot begin like a refusal is passed on at once (usually from its first piece);
    one that does begin so sets `refused`.
    """

    def __init__(self, refusals: Refusals) -> None:
        self._refusals = refusals
        self._held = ""
        self._decided = False
        self.refused = False

    def feed(self, piece: str) -> str:
        if self._decided:
            return piece
        self._held += piece
        if self._refusals.begins(self._held):
            self._decided = self.refused = True
            return ""
        if self._refusals.may_begin(self._held):
            return ""  # may still become a refusal
        self._decided = True
        return self.flush()

    def flush(self) -> str:
        """The text held back (at the end of an answer shorter than a refusal's beginning)."""
        text, self._held = self._held, ""
        return text


class _Configured(Protocol):
    """The answer settings (`Settings.answer`): what NOT_FOUND_PREFIXES configures."""

    @property
    def not_found_prefixes(self) -> Sequence[str]: ...


def _refusals(settings: _Configured | None) -> Refusals:
    return Refusals(() if settings is None else settings.not_found_prefixes)


def is_not_found(text: str, settings: _Configured | None = None) -> bool:
    """Whether `text` is the "not found" reply (with `settings`, the answer settings, their
    NOT_FOUND_PREFIXES are recognised too)."""
    return _refusals(settings).begins(text)


def mentions_not_found(text: str, settings: _Configured | None = None) -> bool:
    """Whether the "not found" text appears anywhere in `text`: an answer with the refusal
    appended ("… [1] (I could not find the answer in the documents)") mentions it without
    being it."""
    return _refusals(settings).mentioned(text)


def not_found_reply(language: Language) -> str:
    return NOT_FOUND_REPLIES[language]


__all__ = [
    "NOT_FOUND_REPLIES",
    "PROMPT_PREFIXES",
    "RefusalWatch",
    "Refusals",
    "fold_refusal",
    "is_not_found",
    "mentions_not_found",
    "not_found_reply",
]
