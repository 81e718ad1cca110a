"""Exact inner-product search with FAISS (`IndexIDMap2` over `IndexFlatIP`).

Persisted with `faiss.write_index` (FAISS's own binary format), never pickle.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

from rag.atomic import atomic_write

IndexKind = Literal["flat", "ivf"]
"""What a `VectorIndex` is: "flat" (exact search) or "ivf" (inverted lists, approximate)."""

SEARCH_THREADS = 1
"""OpenMP threads for one query. A single query gains little from a second thread, and under
load (other requests, the LLM) the extra thread waits for a core: scripts/bench_search.py
measures both (the "omp2" rows)."""


class FaissFlatIndex:
    """Exact cosine search over normalized vectors, with stable ids."""

    kind: IndexKind = "flat"

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._lock = threading.RLock()

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        with self._lock:
            self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        with self._lock:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))  # type: ignore[arg-type]

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        with self._lock:
            return search_one(self._index, query, k)

    def ids(self) -> np.ndarray:
        with self._lock:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def save(self, path: Path) -> None:
        with self._lock:
            atomic_write(path, lambda tmp: faiss.write_index(self._index, str(tmp)))

    def load(self, path: Path) -> None:
        index = faiss.read_index(str(path))
        if index.d != self.dimension:
            raise ValueError(f"index {path} has dimension {index.d}, expected {self.dimension}")
        if not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"index {path} has no stable ids (not an IndexIDMap2)")
        with self._lock:
            self._index = index


@contextmanager
def omp_threads(count: int) -> Iterator[None]:
    """FAISS's OpenMP thread count set to `count` in this thread, restored afterwards.

    OpenMP keeps the setting per thread (libgomp: a thread started later, e.g. a server's
    worker, still has the default), so it is set where the search runs, not once at start-up.
    """
    previous = faiss.omp_get_max_threads()
    if previous == count:
        yield
        return
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def search_one(
    index: faiss.Index, query: np.ndarray, k: int, threads: int = SEARCH_THREADS
) -> list[tuple[int, float]]:
    """Up to k (id, inner product) pairs for one query vector, best first."""
    query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, index.d)
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    with omp_threads(threads):
        scores, ids = index.search(query, k)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
