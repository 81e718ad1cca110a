"""The vector index interface used by the knowledge-base service."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np


class VectorIndex(Protocol):
    """Normalized vectors under stable int64 ids, searched by inner product (cosine)."""

    dimension: int

    @property
    def kind(self) -> Literal["flat", "ivf"]:
        """ "flat" (exact search) or "ivf" (inverted lists, approximate)."""
        ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Up to k (id, cosine) pairs, best first."""
        ...

    def ids(self) -> np.ndarray: ...

    def __len__(self) -> int: ...

    def save(self, path: Path) -> None:
        """Write atomically: a crash leaves the previous file intact."""
        ...

    def load(self, path: Path) -> None: ...


@runtime_checkable
class CountedIndex(Protocol):
    """An index whose ids are slow to list (a Milvus collection): whether it agrees with
    the metadata is judged by its size and its newest ids instead (`agrees_with`)."""

    def agrees_with(self, count: int, newest: np.ndarray) -> bool:
        """Does it hold `count` vectors, among them every id of `newest`?"""
        ...


@runtime_checkable
class LexicalVectorIndex(Protocol):
    """An index that can also answer the lexical leg of hybrid search: a Milvus collection
    made with its BM25 function (kbs_config["milvus"]["lexical"] = "milvus_bm25")."""

    @property
    def bm25(self) -> bool:
        """Does it compute BM25 (else `lexical_search` raises)?"""
        ...

    def lexical_search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Up to k (id, BM25 score > 0) pairs, best first."""
        ...
