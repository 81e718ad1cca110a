"""Widening retrieved chunks with their neighbours before they go into the prompt.

A chunk is ~CHUNK_SIZE characters: an answer that starts in one chunk and ends in the next,
or a chunk whose subject is named only in the one before it, reaches the LLM half-told.
When MERGE_NEIGHBOURS is on, `with_neighbours` extends each selected hit, best hit first,
with the chunk after it and then the one before it (same file, seq ± 1), as long as the
whole context stays within the character budget. Hits always come first: neighbours only
use the budget that the hits leave over, and a chunk already in the context (as a hit or as
another hit's neighbour) is never added twice.

Adjacent chunks share up to OVERLAP_SIZE characters (the splitter's overlap) and, when
CHUNK_TITLE_PREFIX is on, each starts with its heading path: both are removed where two
chunks meet, so the merged text reads as the original passage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.tokens import TokenCounter, estimate_tokens


class NeighbourChunk(Protocol):
    """A stored chunk, as far as widening needs it (rag/kb/store.py's `ChunkRecord`)."""

    @property
    def id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def title_path(self) -> str: ...


NeighbourLookup = Callable[[int], Sequence[NeighbourChunk]]
"""chunk id -> that chunk and its neighbours (seq ± 1, same file), in file order."""


@runtime_checkable
class NeighbourSource(Protocol):
    """A retriever that can find a hit's neighbouring chunks (rag/retrieval's
    `HybridRetriever`)."""

    def neighbours(self, chunk_id: int, radius: int = 1) -> Sequence[NeighbourChunk]: ...


MIN_OVERLAP = 10
"""Shorter suffix/prefix matches are taken as chance (a heading word, a "|"), not overlap."""

_JOIN = "\n"


def overlap_length(left: str, right: str, min_overlap: int = MIN_OVERLAP) -> int:
    """The length of the longest suffix of `left` that is a prefix of `right` (0 when it is
    shorter than `min_overlap`)."""
    for k in range(min(len(left), len(right)), max(min_overlap, 1) - 1, -1):
        if left.endswith(right[:k]):
            return k
    return 0


def merge_overlapping(left: str, right: str, min_overlap: int = MIN_OVERLAP) -> str:
    """`left` followed by `right`, their shared text (the splitter's overlap) written once;
    joined by a line break when they share nothing."""
    if not left or not right:
        return left or right
    k = overlap_length(left, right, min_overlap)
    return left + right[k:] if k else left + _JOIN + right


def _without_title(text: str, title_path: str) -> str:
    """`text` without the heading-path line that chunking put in front of it."""
    prefix = f"{title_path}\n"
    if title_path and text.startswith(prefix):
        return text[len(prefix) :]
    return text


def _join(left: str, left_title: str, right: str, right_title: str) -> str:
    """Two adjacent chunks as one passage; the right one's heading line is dropped when it
    repeats the left one's (same section), kept when a new section starts."""
    if right_title == left_title:
        right = _without_title(right, right_title)
    return merge_overlapping(left, right)


def select_within_budget(
    documents: Sequence[Document],
    char_budget: int,
    token_budget: int | None = None,
    count_tokens: TokenCounter = estimate_tokens,
) -> list[Document]:
    """The documents `build_context` keeps, in rank order, text stripped (and the first cut
    to the budget if it must be): duplicates dropped, a chunk that does not fit skipped in
    favour of a later shorter one.

    `token_budget` (None: none) also caps the kept text's tokens, counted by `count_tokens`
    (the LLM's tokenizer): what the model reads, and what its first token waits on. The
    best chunk is always kept."""
    selected: list[Document] = []
    seen: set[str] = set()
    used = used_tokens = 0
    for document in documents:
        text = document.page_content.strip()
        if not text or text in seen:
            continue
        if used + len(text) > char_budget:
            if selected:
                continue
            text = text[:char_budget]
        if token_budget is not None:
            tokens = count_tokens(text)
            if selected and used_tokens + tokens > token_budget:
                continue
            used_tokens += tokens
        seen.add(text)
        used += len(text)
        selected.append(Document(page_content=text, metadata=dict(document.metadata)))
    return selected


def with_neighbours(
    documents: Sequence[Document], char_budget: int, lookup: NeighbourLookup
) -> list[Document]:
    """The documents `build_context` would keep, each widened with its neighbouring chunks
    (the next, then the previous) while the total stays within `char_budget`.

    A widened document keeps the hit's metadata (source, page, score) and lists the chunks it
    is made of, in file order, in `metadata["chunk_ids"]`. Documents without an integer
    `metadata["chunk_id"]` (or cut to fit the budget) are left as they are.
    """
    selected = select_within_budget(documents, char_budget)
    used = sum(len(d.page_content) for d in selected)
    covered = {cid for d in selected if isinstance(cid := d.metadata.get("chunk_id"), int)}
    widened = []
    for document in selected:
        cid = document.metadata.get("chunk_id")
        records = lookup(cid) if isinstance(cid, int) and used < char_budget else ()
        hit = next((r for r in records if r.id == cid), None)
        if hit is None or document.page_content != hit.text.strip():
            widened.append(document)
            continue
        text, ids = document.page_content, [hit.id]
        first, last = hit, hit  # the chunks at either end of `text`
        after = next((r for r in records if r.seq == hit.seq + 1), None)
        before = next((r for r in records if r.seq == hit.seq - 1), None)
        for neighbour, is_after in ((after, True), (before, False)):
            if neighbour is None or neighbour.id in covered:
                continue
            piece = neighbour.text.strip()
            if is_after:
                candidate = _join(text, last.title_path, piece, neighbour.title_path)
            else:
                candidate = _join(piece, neighbour.title_path, text, first.title_path)
            extra = len(candidate) - len(text)
            if used + extra > char_budget:
                continue
            text, used = candidate, used + extra
            covered.add(neighbour.id)
            if is_after:
                last, ids = neighbour, [*ids, neighbour.id]
            else:
                first, ids = neighbour, [neighbour.id, *ids]
        metadata = {**document.metadata, "chunk_ids": ids}
        widened.append(Document(page_content=text, metadata=metadata))
    return widened


def neighbour_lookup(retriever: BaseRetriever) -> NeighbourLookup | None:
    """How to find a hit's neighbours for `retriever`; None when it cannot find them (not a
    knowledge-base retriever: nothing to widen with)."""
    if not isinstance(retriever, NeighbourSource):
        return None
    return retriever.neighbours


__all__ = [
    "MIN_OVERLAP",
    "NeighbourChunk",
    "NeighbourLookup",
    "NeighbourSource",
    "merge_overlapping",
    "neighbour_lookup",
    "overlap_length",
    "select_within_budget",
    "with_neighbours",
]
