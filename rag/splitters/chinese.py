"""A splitter that respects Chinese and English sentence boundaries.

Sentence-final punctuation stays with its sentence (`keep_separator="end"`), so a chunk never
starts with a stray "。". Separators go from coarse to fine: paragraphs, lines, sentence ends
(Chinese full-width and English), clause marks, then words and characters as a last resort.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter

CHINESE_AND_ENGLISH_SEPARATORS = [
    "\n\n",
    "\n",
    "。",
    "！",
    "？",
    "…",
    ". ",
    "! ",
    "? ",
    "；",
    "; ",
    "，",
    "、",
    ", ",
    " ",
    "",
]


_WIDE = re.compile(
    "[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60"
    "\uffe0-\uffe6\U00020000-\U0003fffd]"
)
"""East-Asian wide characters: Han, kana, hangul, full-width forms."""


def weighted_length(narrow_weight: float) -> Callable[[str], int]:
    """A chunk's length with each wide (CJK) character counting 1 and every other character
    `narrow_weight`: a CHUNK_SIZE of 250 then holds 250 Chinese characters, or with 1/3 about
    750 characters (~120 words) of English, about as many model tokens either way."""
    if narrow_weight == 1:
        return len

    def length(text: str) -> int:
        wide = len(_WIDE.findall(text))
        return wide + round((len(text) - wide) * narrow_weight)

    return length


class ChineseRecursiveTextSplitter(RecursiveCharacterTextSplitter):
    """RecursiveCharacterTextSplitter with CJK sentence separators kept at sentence ends."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("separators", CHINESE_AND_ENGLISH_SEPARATORS)
        kwargs.setdefault("keep_separator", "end")
        kwargs.setdefault("strip_whitespace", True)
        super().__init__(**kwargs)
