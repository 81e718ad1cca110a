"""A question asked in one language of documents written in the other, searched again in
theirs.

The shipped embedding model (multilingual e5-small, 4-bit) matches a question with passages
in another language too weakly to answer from: an English question about Chinese documents
shares no words with them, and its cosines fall among those of off-topic questions, so the
answerability check refuses it (README "Off-topic questions"). When a search finds nothing
to answer from and the passages nearest the question are in the other language (Chinese for
an English question, English for a Chinese one), the chain asks the LLM for the question in
that language and searches once more with it; the reply shows it ("Searched as: ..."). The
answer is still written in the language of the question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, Protocol, runtime_checkable

from langchain_core.runnables import Runnable

from rag.chains.grounding import in_latin_script

TRANSLATE_TEMPLATES: Mapping[str, str] = MappingProxyType(
    {
        "zh": "Translate the following question into Simplified Chinese. Do not answer it. "
        "Output only the translated question.\n\nQuestion: {question}\nTranslation:",
        "en": "Translate the following question into English. Do not answer it. "
        "Output only the translated question.\n\nQuestion: {question}\nTranslation:",
    }
)
"""The prompt asking for the question in the documents' language, by that language."""

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PEEK = 3
"""How many of the nearest passages tell the documents' language."""


class _Passage(Protocol):
    @property
    def text(self) -> str: ...


@runtime_checkable
class PassageSearch(Protocol):
    """A retriever that returns its nearest passages whether or not they can answer
    (rag/retrieval's `HybridRetriever`)."""

    def search(
        self, query: str, top_k: int, score_threshold: float = 0.0
    ) -> Sequence[_Passage]: ...


class QuestionTranslator:
    """Asks the LLM for a question in the language of the documents nearest it."""

    def __init__(self, llm: Runnable[Any, str], max_chars: int = 500) -> None:
        self.llm = llm
        self.max_chars = max_chars
        """Longer questions are not translated (a translation is for a question, not a text)."""

    def translated(self, question: str, retriever: object) -> str | None:
        """`question` in the other language when the passages nearest it are in that one;
        None when they are in its own, the retriever cannot tell, the question is blank, or
        the LLM gave no new question."""
        too_long = len(question) > self.max_chars
        if too_long or not question.strip() or not isinstance(retriever, PassageSearch):
            return None
        into = documents_language(question)
        nearest = retriever.search(question, _PEEK)
        if not nearest or in_latin_script(p.text for p in nearest) != (into == "en"):
            return None
        prompt = TRANSLATE_TEMPLATES[into].format(question=question)
        text = str(self.llm.invoke(prompt, stop=["\n"])).strip().strip('"“”「」')
        # a small model answers some questions instead ("1989", "北京国家体育场"): only a
        # question is searched with
        return text if text.endswith(("?", "？")) and text != question else None


def documents_language(question: str) -> Literal["zh", "en"]:
    """The other language: the one the documents would be in when not in the question's."""
    return "en" if _CJK.search(question) else "zh"


__all__ = ["TRANSLATE_TEMPLATES", "PassageSearch", "QuestionTranslator", "documents_language"]
