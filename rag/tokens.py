"""Counting the tokens of retrieved text, for the prompt's token budget."""

from __future__ import annotations

import math
from collections.abc import Callable

TokenCounter = Callable[[str], int]
"""text -> its length in the LLM's tokens."""


def estimate_tokens(text: str) -> int:
    """Roughly how many tokens `text` is for a multilingual LLM's tokenizer, for models
    without one at hand: ~0.9 per CJK character and ~0.2 per other character (fitted to
    Qwen2.5's tokenizer on the dev set's Traditional Chinese chunks, median 163 tokens, and
    the English check's, median 40)."""
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")
    return math.ceil(0.9 * cjk + 0.2 * (len(text) - cjk))
