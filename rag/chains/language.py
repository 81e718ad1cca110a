"""The language a reply is written in: the question's.

Chinese questions get Chinese system text in the question's own script (Simplified or
Traditional); every other question gets English. The prompt may differ by language too
(PROMPT_TEMPLATE as {"zh": ..., "en": ...}).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from rag.chains.script import Script, ScriptConverter, answer_script, is_han

Language = Literal["zh-Hans", "zh-Hant", "en"]
"""Simplified Chinese, Traditional Chinese, English (anything that is not Chinese)."""

PromptLanguage = Literal["zh", "en"]
"""What a prompt template is chosen by: both Chinese scripts share one template."""

PROMPT_LANGUAGES: tuple[PromptLanguage, ...] = ("zh", "en")

_LATIN_WORD = re.compile(r"[A-Za-z]+")


def question_language(
    question: str, converter: ScriptConverter | None = None, context: str = ""
) -> Language:
    """Chinese when the question has more Chinese characters than Latin words ("What is
    知库?" is English, "知库的 API 是什么？" Chinese), in the script the answer is written in
    (the question's, else the context's: see `answer_script`); Simplified without a
    converter to tell the scripts apart."""
    han = sum(1 for char in question if is_han(char))
    if han <= len(_LATIN_WORD.findall(question)):
        return "en"
    script: Script = "neutral" if converter is None else answer_script(converter, question, context)
    return "zh-Hant" if script == "traditional" else "zh-Hans"


def prompt_language(language: Language) -> PromptLanguage:
    return "en" if language == "en" else "zh"


def per_language(template: str | Mapping[str, str]) -> dict[str, str]:
    """A template for each prompt language: a plain string serves all of them."""
    if isinstance(template, str):
        return dict.fromkeys(PROMPT_LANGUAGES, template)
    return {language: template[language] for language in PROMPT_LANGUAGES}


__all__ = [
    "PROMPT_LANGUAGES",
    "Language",
    "PromptLanguage",
    "per_language",
    "prompt_language",
    "question_language",
]
