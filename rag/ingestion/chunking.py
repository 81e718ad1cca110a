"""Documents -> chunks: split, a heading-only piece folded, the heading path carried.

Each chunk keeps its document's page and heading path (`title_path`, from the loaders), and,
with `ChunkingOptions.title_prefix`, starts with that path so that a chunk deep in a section
still names what it is about. The chunks are `NewChunk`s, what the store keeps.

Table rows (documents whose metadata has `table`, one row a line) are cut between rows
only: a chunk never holds half a row, and a row longer than a chunk is a chunk of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter

from rag.kb.store import NewChunk


@dataclass(frozen=True)
class ChunkingOptions:
    title_prefix: bool = True
    """Put the heading path in front of each chunk's text (CHUNK_TITLE_PREFIX)."""


class Chunker:
    """Splits loaded documents into chunks with the configured splitter."""

    def __init__(self, splitter: TextSplitter, options: ChunkingOptions | None = None) -> None:
        self.splitter = splitter
        """The text splitter (rag/splitters/): CHUNK_SIZE, OVERLAP_SIZE."""
        self.options = options or ChunkingOptions()
        """How chunks carry their heading path."""

    def split(self, documents: list[Document]) -> list[NewChunk]:
        """The chunks of `documents`, in document order."""
        return [chunk for document in documents for chunk in self._split_one(document)]

    def _split_one(self, document: Document) -> list[NewChunk]:
        title_path = str(document.metadata.get("title_path") or "")
        page = document.metadata.get("page")
        heading = title_path.rsplit(" > ", 1)[-1]
        title_prefix = self.options.title_prefix
        extra = {
            k: v
            for k, v in document.metadata.items()
            if k not in {"source", "page", "title_path"} and _is_plain(v)
        }
        chunks = []
        if document.metadata.get("table"):
            pieces = table_pieces(self.splitter, document.page_content)
        else:
            pieces = self.splitter.split_text(document.page_content)
        for piece in fold_heading_pieces(pieces, heading, title_prefix):
            text = piece
            if title_prefix and title_path:
                text = _with_title_path(piece, title_path, heading)
            chunks.append(NewChunk(text, page, title_path, dict(extra)))
        return chunks


def table_pieces(splitter: TextSplitter, text: str) -> list[str]:
    """The pieces of a group of table rows (one row a line), cut between rows only.

    Rows that each fit a chunk go through the splitter, which cuts at line breaks first, so
    between rows (an overlap repeats whole rows). A row too long for a chunk is kept whole,
    a piece of its own: cut, its second half would lose the row's first columns, what the
    row is about, and answer nothing.
    """
    pieces: list[str] = []
    run: list[str] = []
    for row in text.split("\n"):
        if len(splitter.split_text(row)) <= 1:
            run.append(row)
            continue
        if run:
            pieces.extend(splitter.split_text("\n".join(run)))
            run = []
        pieces.append(row.strip())
    if run:
        pieces.extend(splitter.split_text("\n".join(run)))
    return pieces


def fold_heading_pieces(pieces: list[str], heading: str, title_prefix: bool) -> list[str]:
    """`pieces` of a section without a piece that is only the section's heading.

    A section's text starts with its heading line; when the heading and the first paragraph
    do not fit one chunk, the splitter cuts between them and the heading stands alone. A
    bare heading chunk carries no answer but matches the question's words and takes a
    place in the top results (an ancestor app lost answers to it). With the title prefix on,
    every other piece already starts with the heading path, so it is dropped; without it,
    it is put in front of the next piece.
    """
    folded: list[str] = []
    carry = ""
    for piece in pieces:
        if heading and piece.strip() == heading:
            carry = "" if title_prefix else heading
            continue
        folded.append(f"{carry}\n{piece}" if carry else piece)
        carry = ""
    if carry or (pieces and not folded):  # nothing followed the heading: keep it
        folded.append(pieces[-1])
    return folded


def _with_title_path(piece: str, title_path: str, heading: str) -> str:
    """`piece` headed by its title path; a piece whose first line is its own heading gets
    only the parent headings in front of that line (the heading is not written twice)."""
    if piece.partition("\n")[0].strip() == heading:
        return title_path[: -len(heading)] + piece.lstrip()
    return f"{title_path}\n{piece}"


def _is_plain(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


__all__ = ["Chunker", "ChunkingOptions", "fold_heading_pieces", "table_pieces"]
