"""Which questions of a conversation are rewritten to stand alone, and which rewrites stay.

A follow-up that points back ("它是哪一年建的？", "What about the second one?") cannot be
searched as asked: the LLM rewrites it with what it points to. A question that already
stands alone gains nothing from the rewrite and risks it: a small model given an unrelated
turn before it answers in another language or asks another question ("浮龙化石是什么时候
发现的？" -> "浮龙化石是在哪里发现的？"). So only a question that points back, or is too short to
stand alone ("为什么？"), is rewritten, and a rewrite is dropped for the question as asked
when it leaves the question's language or most of its words.
"""

from __future__ import annotations

import re

from rag.chains.attribution import words

_POINTS_BACK_ZH = re.compile(
    r"它|他|她|这|這|那|该|該|此|其|上述|前者|后者|後者"
    r"|第[一二三四五六七八九十两兩\d]{1,3}[个個]|呢\s*[？?]?\s*$"
)
_POINTS_BACK_EN = re.compile(
    r"\b(?:it|its|they|them|their|he|him|his|she|her|this|these|those|former|latter"
    r"|what about|how about)\b",
    re.IGNORECASE,
)
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

MIN_WORDS_TO_STAND_ALONE = 3
"""A question of fewer words (a Chinese word: two characters) is read as a follow-up."""
MIN_KEPT = 0.5
"""A rewrite keeps at least this share of the question's words..."""
KEPT_FROM_WORDS = 8
"""...when the question has at least this many (a short one may be all pointers)."""


class FollowUps:
    """Decides whether a question asked after earlier turns is rewritten (`needs_rewrite`)
    and whether the LLM's rewrite is searched with (`keeps`)."""

    def __init__(self, rewrite_every_question: bool = False) -> None:
        self.rewrite_every_question = rewrite_every_question
        """CONDENSE_EVERY_FOLLOW_UP: rewrite every question after the first, as LangChain's
        ConversationalRetrievalChain does (for models that rewrite reliably)."""

    def needs_rewrite(self, question: str) -> bool:
        """Whether the question points back to the conversation, or is too short to stand
        alone."""
        if self.rewrite_every_question or len(words(question)) < MIN_WORDS_TO_STAND_ALONE:
            return True
        pointer = _POINTS_BACK_ZH if _HAN.search(question) else _POINTS_BACK_EN
        return pointer.search(question) is not None

    def keeps(self, question: str, rewritten: str) -> bool:
        """Whether the rewrite is in the question's language and, for a question of many
        words, keeps at least half of them."""
        if not rewritten or bool(_HAN.search(question)) != bool(_HAN.search(rewritten)):
            return False
        asked = words(question)
        if len(asked) < KEPT_FROM_WORDS:
            return True
        return len(asked & words(rewritten)) / len(asked) >= MIN_KEPT


__all__ = ["FollowUps"]
