"""One question being answered: what was asked, the sources found, and what the model reads.

Answer processors (`rag.chains.processors`) and retry policies (`rag.chains.retry`) are
given the turn; a processor's `prepare` may change what the model reads (`read_context`,
`read_question`), never what was asked or found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from langchain_core.documents import Document

from rag.chains.context import select_within_budget
from rag.chains.language import Language
from rag.tokens import TokenCounter, estimate_tokens


@dataclass(frozen=True)
class Source:
    """A numbered source the answer may cite as [index]."""

    index: int
    source: str
    page: int | None
    text: str
    score: float
    url: str | None = None
    """The web address of a page added by URL, None for an uploaded file."""

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "source": self.source,
            "page": self.page,
            "text": self.text,
            "score": round(self.score, 4),
            "url": self.url,
        }


@dataclass(frozen=True)
class Turn:
    """A question and what it is answered from."""

    question: str
    """As asked."""
    standalone: str
    """What was retrieved with: the question, or a follow-up rewritten to stand alone."""
    language: Language
    """The reply's language (`rag.chains.language.question_language`)."""
    sources: tuple[Source, ...] = ()
    """The numbered sources shown with the answer (none in plain chat)."""
    context: str = ""
    """The sources as written, numbered (`format_context`)."""
    read_context: str = ""
    """The sources as the model is given them."""
    read_question: str = ""
    """The question as the model is given it."""

    @classmethod
    def asked(
        cls, question: str, standalone: str, language: Language, sources: Sequence[Source] = ()
    ) -> Turn:
        """A turn whose model reads the sources and the standalone question as written."""
        context = format_context(sources)
        return cls(question, standalone, language, tuple(sources), context, context, standalone)

    def as_written(self) -> Turn:
        """This turn, the model reading the sources and question as written."""
        return replace(self, read_context=self.context, read_question=self.standalone)


def build_context(
    documents: Sequence[Document],
    char_budget: int,
    token_budget: int | None = None,
    count_tokens: TokenCounter = estimate_tokens,
) -> list[Source]:
    """Number the retrieved chunks in rank order, dropping duplicates, within the budget
    (characters, and tokens when `token_budget` is set).

    A chunk that does not fit whole is skipped in favour of a later shorter one; the first
    chunk is always kept, cut to the character budget if it must be.
    """
    kept = select_within_budget(documents, char_budget, token_budget, count_tokens)
    return [
        Source(
            index=number,
            source=str(document.metadata.get("source", "")),
            page=document.metadata.get("page"),
            text=document.page_content,
            score=float(document.metadata.get("score", 0.0)),
            url=_url(document),
        )
        for number, document in enumerate(kept, 1)
    ]


def _url(document: Document) -> str | None:
    url = document.metadata.get("url")
    return url if isinstance(url, str) else None


def format_context(sources: Sequence[Source]) -> str:
    lines = []
    for source in sources:
        where = source.source + (f" p.{source.page}" if source.page else "")
        lines.append(f"[{source.index}] ({where}) {source.text}")
    return "\n\n".join(lines)


__all__ = ["Source", "Turn", "build_context", "format_context"]
