"""What retrieval needs of a knowledge base's store (rag/kb/store.py implements it).

Retrieval reads the store through these few calls only, so that it depends on no storage
code: a test can hand it a small fake, and the store can change behind them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np


class StoredChunk(Protocol):
    """A chunk as stored: its text, where it comes from, and its place in its file."""

    @property
    def id(self) -> int: ...
    @property
    def file_name(self) -> str: ...
    @property
    def source(self) -> str:
        """The name a citation shows: the file's, or "file/part" for a file inside it."""
        ...

    @property
    def seq(self) -> int:
        """Its position in its file (0, 1, ...)."""
        ...

    @property
    def text(self) -> str: ...
    @property
    def page(self) -> int | None: ...
    @property
    def title_path(self) -> str: ...
    @property
    def metadata(self) -> Mapping[str, object]:
        """What else its loader recorded (a web page's `url`, a sheet's name)."""
        ...


class StoredFile(Protocol):
    @property
    def chunks(self) -> int:
        """How many chunks the file has."""
        ...


class LexicalHits(Protocol):
    @property
    def hits(self) -> list[tuple[int, float]]:
        """(chunk id, BM25) pairs, best first."""
        ...

    @property
    def reference(self) -> float:
        """The query's BM25 reference score (rag/retrieval/fusion.py)."""
        ...


class ChunkStore(Protocol):
    """The searches and reads of one knowledge base's store."""

    def search(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Dense search: (chunk id, cosine) pairs, best first."""
        ...

    def lexical_search(self, query: str, k: int) -> LexicalHits: ...

    def coverage(self, query: str, text: str, ignore: frozenset[str] = frozenset()) -> float:
        """The idf-weighted share of the query's words (less `ignore`) found in `text`."""
        ...

    def chunks_by_id(self, ids: Iterable[int]) -> Mapping[int, StoredChunk]:
        """The chunks that still exist among `ids`."""
        ...

    def chunks_of_file(self, name: str) -> Sequence[StoredChunk]:
        """A file's chunks, in file order."""
        ...

    def file(self, name: str) -> StoredFile | None: ...


OpenStore = Callable[[], AbstractContextManager[ChunkStore]]
"""The store of one knowledge base, held open for the block (not closed or swapped by a
delete or a rebuild meanwhile): `with open_store() as store: ...`."""

__all__ = ["ChunkStore", "LexicalHits", "OpenStore", "StoredChunk", "StoredFile"]
