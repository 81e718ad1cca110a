"""Which dense index a knowledge base uses, by its size (VECTOR_INDEX).

* "flat": always the exact `FaissFlatIndex`.
* "auto": exact below `ivf_at` chunks (DEFAULT_IVF_AT, 200k), an IVF index (`FaissIVFIndex`,
  measured `nprobe`) from there on; back to exact when the knowledge base shrinks below
  `ivf_at * back_below` (half of it), so adding and removing near the threshold does not
  flip it back and forth.
* "ivf": an IVF index as soon as there are IVF_MIN_VECTORS chunks to train it on.

The store asks `fits` after every write; when the index no longer fits its size (or an IVF
index has grown `retrain_growth` times since it was trained), the store rebuilds it with
`build` from the vectors kept in SQLite and saves it atomically (temp file, fsync, rename):
the old index keeps answering searches until the new one replaces it.

The index file says which type it is: FAISS starts every file with its index class's
four-character code ("IxM2" for the flat `IndexIDMap2`, "IwFl" for `IndexIVFFlat`), which
`load` reads to pick the class, so a restart loads what was saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, get_args, runtime_checkable

import numpy as np

from rag.vectorstores.base import VectorIndex
from rag.vectorstores.faiss_index import FaissFlatIndex, IndexKind
from rag.vectorstores.faiss_ivf import DEFAULT_MAX_NLIST, DEFAULT_TRAIN_AT, FaissIVFIndex

VectorIndexMode = Literal["auto", "flat", "ivf"]
VECTOR_INDEX_MODES: tuple[str, ...] = get_args(VectorIndexMode)

DEFAULT_IVF_AT = DEFAULT_TRAIN_AT
""""auto" switches to IVF at this many chunks. Measured (scripts/bench_search.py, 384 dims,
one query at a time, 1 thread): exact 6.4 ms at 100k, 62 ms at 1M; IVF 32 ms at 1M (recall@10
0.984). Below ~200k the IVF saves a few ms at best, and costs recall and a training pause."""
IVF_MIN_VECTORS = 1_000
""""ivf" below this many chunks is exact: too few vectors to train lists on."""
BACK_BELOW = 0.5
"""An IVF index goes back to exact below this share of the threshold."""

_FOURCC: dict[bytes, IndexKind] = {b"IxM2": "flat", b"IwFl": "ivf"}


class VectorSource(Protocol):
    """The vectors an index is rebuilt from (a knowledge base's SQLite)."""

    def count(self) -> int:
        """How many vectors `blocks` yields in all."""
        ...

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (int64 ids, float32 vectors) block, each id once."""
        ...

    def sample(self, count: int, seed: int) -> np.ndarray:
        """`count` of the vectors, drawn at random without repeats."""
        ...


@runtime_checkable
class IndexPolicy(Protocol):
    """How a knowledge base makes, loads and rebuilds its dense index."""

    def empty(self, dimension: int) -> VectorIndex:
        """An index with no vectors."""
        ...

    def load(self, path: Path, dimension: int) -> VectorIndex:
        """The index saved at `path` (ValueError / RuntimeError when it is unusable)."""
        ...

    def fits(self, index: VectorIndex) -> bool:
        """Is `index` the right type for the vectors it holds?"""
        ...

    def build(self, dimension: int, source: VectorSource, current: IndexKind) -> VectorIndex:
        """A new index holding every vector of `source` (`current`: the type in use)."""
        ...


@dataclass(frozen=True)
class SizedIndex:
    """The VECTOR_INDEX policy: exact or IVF by the knowledge base's size (module doc)."""

    mode: VectorIndexMode = "auto"
    ivf_at: int = DEFAULT_IVF_AT
    back_below: float = BACK_BELOW
    retrain_growth: float = 4.0
    """An IVF index holding this many times the vectors it was trained on is trained anew."""
    max_nlist: int = DEFAULT_MAX_NLIST
    seed: int = 1234

    def __post_init__(self) -> None:
        if self.mode not in VECTOR_INDEX_MODES:
            raise ValueError(
                f"VECTOR_INDEX={self.mode!r} unknown; valid: {', '.join(VECTOR_INDEX_MODES)}"
            )

    @property
    def threshold(self) -> int | None:
        """Chunks from which the index is IVF (None: never)."""
        if self.mode == "flat":
            return None
        return self.ivf_at if self.mode == "auto" else IVF_MIN_VECTORS

    def kind_for(self, n: int, current: IndexKind) -> IndexKind:
        """The index type for `n` vectors, when `current` is the type in use."""
        threshold = self.threshold
        if threshold is None or n < threshold * self.back_below:
            return "flat"
        if n >= threshold:
            return "ivf"
        return current  # between the two: keep what there is

    def empty(self, dimension: int) -> VectorIndex:
        return FaissFlatIndex(dimension)

    def load(self, path: Path, dimension: int) -> VectorIndex:
        ivf = saved_kind(path) == "ivf"
        index: VectorIndex = self._ivf(dimension) if ivf else FaissFlatIndex(dimension)
        index.load(path)
        return index

    def fits(self, index: VectorIndex) -> bool:
        n = len(index)
        if self.kind_for(n, index.kind) != index.kind:
            return False
        if isinstance(index, FaissIVFIndex) and index.is_ivf and self.retrain_growth > 1:
            return n < self.retrain_growth * max(index.trained_size, 1)
        return True

    def build(self, dimension: int, source: VectorSource, current: IndexKind) -> VectorIndex:
        n = source.count()
        if self.kind_for(n, current) == "flat":
            return add_all(FaissFlatIndex(dimension), source)
        index = self._ivf(dimension)
        sample = source.sample(index.training_size(n), self.seed)
        index.train_from(n, sample, source.blocks())
        return index

    def _ivf(self, dimension: int) -> FaissIVFIndex:
        # trained here, by `build`: it never retrains itself (`fits` asks for a rebuild)
        return FaissIVFIndex(
            dimension, train_at=self.ivf_at, max_nlist=self.max_nlist, retrain_growth=0
        )


@dataclass(frozen=True)
class FixedIndex:
    """One index class whatever the size: `make(dimension)` (what stores took before
    VECTOR_INDEX, e.g. `FaissFlatIndex`, or a `FaissIVFIndex` that trains itself)."""

    make: Callable[[int], VectorIndex]

    def empty(self, dimension: int) -> VectorIndex:
        return self.make(dimension)

    def load(self, path: Path, dimension: int) -> VectorIndex:
        index = self.make(dimension)
        index.load(path)
        return index

    def fits(self, index: VectorIndex) -> bool:
        return True

    def build(self, dimension: int, source: VectorSource, current: IndexKind) -> VectorIndex:
        return add_all(self.make(dimension), source)


def as_policy(value: IndexPolicy | Callable[[int], VectorIndex]) -> IndexPolicy:
    """`value` itself when it is a policy, else a `FixedIndex` of it."""
    if isinstance(value, IndexPolicy):
        return value
    return FixedIndex(value)


def add_all(index: VectorIndex, source: VectorSource) -> VectorIndex:
    for ids, vectors in source.blocks():
        index.add(ids, vectors)
    return index


def saved_kind(path: Path) -> IndexKind:
    """The type of the index saved at `path`, from FAISS's four-character code."""
    with open(path, "rb") as handle:
        code = handle.read(4)
    try:
        return _FOURCC[code]
    except KeyError:
        raise ValueError(f"{path}: not a flat or IVF FAISS index (starts with {code!r})") from None
