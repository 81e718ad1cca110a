"""A splitter that respects Chinese and English sentence boundaries.

Sentence-final punctuation stays with its sentence (`keep_separator="end"`), so a chunk never
starts with a stray "。". Separators go from coarse to fine: paragraphs, lines, sentence ends
(Chinese full-width and English), clause marks, then words and characters as a last resort.
"""

from __future__ import annotations

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


class ChineseRecursiveTextSplitter(RecursiveCharacterTextSplitter):
    """RecursiveCharacterTextSplitter with CJK sentence separators kept at sentence ends."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("separators", CHINESE_AND_ENGLISH_SEPARATORS)
        kwargs.setdefault("keep_separator", "end")
        kwargs.setdefault("strip_whitespace", True)
        super().__init__(**kwargs)
