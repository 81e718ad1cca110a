"""A loaded document as one text to show, with where each page (slide) begins, and a
passage found in it (on its own page first)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.documents import Document

from rag.documents.passages import locate

SECTION_BREAK = "\n\n"


@dataclass(frozen=True)
class DocumentText:
    text: str
    """The loaded sections, joined by a blank line."""
    pages: tuple[tuple[int, int], ...] = ()
    """(offset, page) where each page or slide begins, for documents that have them."""

    def page_range(self, page: int) -> tuple[int, int] | None:
        """Where page `page` is in `text`, or None."""
        for position, (offset, number) in enumerate(self.pages):
            if number == page:
                end = self.pages[position + 1][0] if position + 1 < len(self.pages) else None
                return offset, len(self.text) if end is None else end
        return None

    def locate(self, passage: str, page: int | None = None) -> tuple[int, int] | None:
        """The span holding `passage`: on page `page` when it is found there (a phrase may
        repeat on several slides), else anywhere."""
        where = self.page_range(page) if page is not None else None
        if where is not None:
            start, end = where
            found = locate(passage, self.text[start:end])
            if found is not None:
                return start + found[0], start + found[1]
        return locate(passage, self.text)


def document_text(documents: Sequence[Document]) -> DocumentText:
    """The loader's documents (sections) as one `DocumentText`."""
    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    offset = 0
    for document in documents:
        if parts:
            offset += len(SECTION_BREAK)
        page = document.metadata.get("page")
        if isinstance(page, int) and (not pages or pages[-1][1] != page):
            pages.append((offset, page))
        parts.append(document.page_content)
        offset += len(document.page_content)
    return DocumentText(SECTION_BREAK.join(parts), tuple(pages))
