"""Approximate inner-product search with FAISS `IndexIVFFlat`, exact while the index is small.

Same interface as `FaissFlatIndex` (stable int64 ids, normalized vectors, cosine scores,
`faiss.write_index` persistence written atomically), for knowledge bases too large for an
exact scan:

* Below `train_at` vectors it is an exact `IndexIDMap2(IndexFlatIP)` (the same file format as
  `FaissFlatIndex`, so either class reads the other's small indexes).
* On reaching `train_at` it becomes an `IndexIVFFlat` (coarse quantizer `IndexFlatIP`, inner
  product) trained on the vectors it holds: `nlist` = min(4 * sqrt(n), n / 40, `max_nlist`)
  lists, so every centroid is trained on >= 40 vectors. The ids are stored in the inverted
  lists themselves, with a hash-table direct map, so `remove` deletes exactly the ids named
  without scanning the lists.
* `nprobe` is measured, not guessed: after training, 256 queries modelled on the vectors
  it was trained on (see `perturbed`: as far from a chunk as real dev-set questions are from
  their best chunk) are searched exactly and with growing `nprobe`; the smallest `nprobe`
  whose recall@10 reaches `target_recall` + `recall_margin` is kept. Tightly clustered data
  needs few lists, random vectors nearly all; e5 embeddings are in between (dev set, 2.2k chunks,
  55 lists: real questions need 24 lists for 0.95, the measurement picks 48: 0.989).
* When the index has grown `retrain_growth` times since it was trained, it is trained anew
  on all its vectors (and `nprobe` measured again), so late documents on new topics get
  centroids of their own. Training re-adds every vector, inside the `add` that crosses the
  size and under the index lock (searches wait): measured 6 s at 100k vectors, 39 s at 1M
  (1024 lists, 2 quiet cores), with ~2x the vectors' memory while it runs.

The same training also runs from outside (`train_from`): a knowledge base switching to IVF
(rag/vectorstores/sizing.py) trains on a sample of its vectors and streams the rest from
SQLite in blocks, so it needs the IVF's memory plus one block, not a second copy.

e5-like vectors are only weakly clustered, so the measured `nprobe` is large (384-512 of 1024
lists at 100k-1M on synthetic vectors shaped like the dev set's): the IVF halves the exact
scan's time (1M: 62 -> 32 ms, recall@10 0.984) rather than dividing it by 10; splitting a
query's probed lists over two threads (IVF_SEARCH_THREADS) cuts it to ~0.3x the exact scan.
The calibration steps nprobe up x1.5 at a time and then bisects between the last step that
fell short and the first that reached the target: at 1M it settles on 448 lists instead of
512 (recall@10 0.974 vs 0.983; 29.8 vs 33.1 ms a query on two threads, same run;
scripts/bench_search.py).
`nprobe` and the direct map are saved in the file; a loaded IVF index keeps them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.atomic import atomic_write
from rag.vectorstores.faiss_index import IndexKind, search_one

_HASHTABLE: int = faiss.DirectMap.Hashtable  # type: ignore[attr-defined]  # not in the stubs

DEFAULT_TRAIN_AT = 200_000
"""Exact search below this many vectors. Measured (scripts/bench_search.py, 384 dims, one
query at a time, 2 cores, quiet): exact p50 6.4 ms at 100k, 62 ms at 1M; the IVF at its
measured nprobe 3.3 ms at 100k (recall@10 0.989), 32 ms at 1M (0.984). Below ~200k the IVF
saves a few ms at best and costs recall and a training pause."""
MIN_POINTS_PER_LIST = 40
DEFAULT_MAX_NLIST = 1024
"""At 1M, 4096 lists took 110 s to train and needed as large a share of the vectors scanned
for the same recall as 1024 lists (39 s)."""
IVF_SEARCH_THREADS = 2
"""OpenMP threads for one query on an IVF index, which splits the probed lists between them
(`parallel_mode` 1; FAISS's default parallelizes over queries, so one query used one thread).
Measured at 1M vectors, nprobe 512, 2 cores (/tmp/ivfpm.py-style, same run): 136-165 ms on
one thread, 45 ms on two; exact search gains little from a second thread (SEARCH_THREADS)."""
_PROBES_IN_PARALLEL = 1
_CALIBRATION_QUERIES = 256
_CALIBRATION_K = 10
_QUERY_RHO = 0.5


def nprobe_steps(limit: int) -> list[int]:
    """1, 2, 3, 4, 6, 8, 12, 16, 24, ...: each step probes ~1.5x the lists of the last."""
    steps = [1, 2, 3]
    power = 4
    while power <= limit:
        steps += [power, power * 3 // 2]
        power *= 2
    return [p for p in steps if p <= limit]


def bisect_nprobe(
    below: int, reached: int, recall: float, goal: float, recall_with: Callable[[int], float]
) -> tuple[int, float]:
    """The smallest nprobe in (`below`, `reached`] found reaching `goal`, to within 1/8 of
    `reached`: `below` falls short, `reached` reaches it with `recall`."""
    while reached - below > max(1, reached // 8):
        middle = (below + reached) // 2
        middle_recall = recall_with(middle)
        if middle_recall >= goal:
            reached, recall = middle, middle_recall
        else:
            below = middle
    return reached, recall


def choose_nlist(n: int, max_nlist: int = DEFAULT_MAX_NLIST) -> int:
    """Lists for `n` vectors: ~4 * sqrt(n), each trained on >= 40 vectors, at most `max_nlist`."""
    return max(1, min(int(4 * math.sqrt(n)), n // MIN_POINTS_PER_LIST, max_nlist))


class FaissIVFIndex:
    """Cosine search over normalized vectors with stable ids; exact while small, IVF after."""

    def __init__(
        self,
        dimension: int,
        *,
        train_at: int = DEFAULT_TRAIN_AT,
        nlist: int | None = None,
        max_nlist: int = DEFAULT_MAX_NLIST,
        nprobe: int | None = None,
        target_recall: float = 0.95,
        recall_margin: float = 0.01,
        retrain_growth: float = 4.0,
        train_points_per_list: int = 64,
        seed: int = 1234,
    ) -> None:
        """`nlist` / `nprobe`: fixed values instead of the size rule / the measurement.

        `retrain_growth` <= 1 never retrains. k-means trains on at most
        `train_points_per_list` vectors per list (a random sample of those held).
        """
        self.dimension = dimension
        self.train_at = max(int(train_at), MIN_POINTS_PER_LIST)
        self.fixed_nlist = nlist
        self.max_nlist = max_nlist
        self.fixed_nprobe = nprobe
        self.target_recall = target_recall
        self.recall_margin = recall_margin
        self.retrain_growth = retrain_growth
        self.train_points_per_list = max(MIN_POINTS_PER_LIST, train_points_per_list)
        self.seed = seed
        self.trained_size = 0
        """Vectors held when the IVF was last trained (0: still exact)."""
        self.measured_recall: float | None = None
        """recall@10 of the chosen nprobe in the last calibration (None: not measured)."""
        self._index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._lock = threading.RLock()

    # ---- state ----------------------------------------------------------------------------

    @property
    def is_ivf(self) -> bool:
        return isinstance(self._index, faiss.IndexIVF)

    @property
    def kind(self) -> IndexKind:
        """Trained: "ivf"; still an exact index: "flat"."""
        return "ivf" if self.is_ivf else "flat"

    @property
    def nlist(self) -> int | None:
        with self._lock:
            return int(self._index.nlist) if self.is_ivf else None

    @property
    def nprobe(self) -> int | None:
        with self._lock:
            return int(self._index.nprobe) if self.is_ivf else None

    def __len__(self) -> int:
        return int(self._index.ntotal)

    # ---- writes -----------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        with self._lock:
            self._index.add_with_ids(vectors, ids)
            self._maybe_train()

    def remove(self, ids: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) == 0:
            return
        with self._lock:
            # IVF: the hash-table direct map knows each id's list (no scan); unknown ids
            # are skipped, as by the flat index
            self._index.remove_ids(ids)

    def _maybe_train(self) -> None:
        n = self._index.ntotal
        if not self.is_ivf:
            if n >= self.train_at:
                self._train()
        elif self.retrain_growth > 1 and n >= self.retrain_growth * max(self.trained_size, 1):
            self._train()

    def _train(self) -> None:
        """(Re)build as an IVF trained on every vector held, then measure `nprobe`."""
        ids, vectors = self._contents()
        n = len(ids)
        rng = np.random.default_rng(self.seed)
        picks = np.sort(rng.choice(n, self.training_size(n), replace=False))
        self.train_from(n, vectors[picks], [(ids, vectors)])

    def nlist_for(self, n: int) -> int:
        """Lists for `n` vectors: the fixed `nlist` or the size rule, >= 40 vectors each."""
        nlist = self.fixed_nlist or choose_nlist(n, self.max_nlist)
        return max(1, min(nlist, n // MIN_POINTS_PER_LIST or 1))

    def training_size(self, n: int) -> int:
        """How many of `n` vectors k-means trains on (a random sample of them)."""
        return min(n, self.nlist_for(n) * self.train_points_per_list)

    def train_from(
        self, n: int, sample: np.ndarray, blocks: Iterable[tuple[np.ndarray, np.ndarray]]
    ) -> None:
        """Become an IVF trained on `sample`, holding every (ids, vectors) block of `blocks`.

        `n`: how many vectors `blocks` holds in all (it sets the number of lists); `sample`:
        `training_size(n)` of them, drawn at random. `blocks` is read once, as it comes (it
        may stream from disk): the exact top-10 of the calibration queries is gathered on
        the way, so `nprobe` is measured without a second pass or a copy of the vectors.
        """
        sample = np.ascontiguousarray(sample, dtype=np.float32).reshape(-1, self.dimension)
        nlist = self.nlist_for(n)
        quantizer = faiss.IndexFlatIP(self.dimension)
        index = faiss.IndexIVFFlat(quantizer, self.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = self.seed
        index.cp.max_points_per_centroid = self.train_points_per_list
        index.train(sample)
        index.set_direct_map_type(_HASHTABLE)
        index.parallel_mode = _PROBES_IN_PARALLEL
        rng = np.random.default_rng(self.seed + 1)
        queries = None if self.fixed_nprobe else calibration_queries(sample, rng)
        truth = _TopK(queries, min(_CALIBRATION_K, n)) if queries is not None else None
        for ids, vectors in blocks:
            ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
            vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
            for start in range(0, len(ids), 65536):
                index.add_with_ids(vectors[start : start + 65536], ids[start : start + 65536])
            if truth is not None:
                truth.add(ids, vectors)
        if queries is None or truth is None:
            index.nprobe = min(self.fixed_nprobe or 1, nlist)
            recall = None
        else:
            index.nprobe, recall = self._calibrate(index, queries, truth.ids())
        with self._lock:
            self._index = index
            self.trained_size = int(index.ntotal)
            self.measured_recall = recall

    def _calibrate(self, index: Any, queries: np.ndarray, truth: np.ndarray) -> tuple[int, float]:
        """The smallest nprobe whose recall@10 against exact search (`truth`) reaches the
        target: the steps of `nprobe_steps` (x1.5 each) up to the first that reaches it,
        then bisected down to within 1/8 of it (recall never drops as more lists are
        probed). Search time grows with nprobe, so a step landing at 512 where 420 would
        do costs a fifth of every search."""
        goal = min(1.0, self.target_recall + self.recall_margin)
        nlist = int(index.nlist)

        def recall_with(nprobe: int) -> float:
            index.nprobe = nprobe
            _, found = index.search(queries, truth.shape[1])
            return recall_at_k(found, truth)

        steps = [p for p in nprobe_steps(nlist) if p < nlist] + [nlist]
        below = 0  # the largest nprobe known to fall short
        for nprobe in steps:
            recall = recall_with(nprobe)
            if recall >= goal:
                return bisect_nprobe(below, nprobe, recall, goal, recall_with)
            below = nprobe
        return nlist, recall

    # ---- reads ------------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        with self._lock:
            if self.is_ivf:
                return search_one(self._index, query, k, IVF_SEARCH_THREADS)
            return search_one(self._index, query, k)

    def ids(self) -> np.ndarray:
        with self._lock:
            if not self.is_ivf:
                return faiss.vector_to_array(self._index.id_map).astype(np.int64)
            return self._contents(vectors=False)[0]

    def _contents(self, vectors: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Every (id, vector) held, in storage order."""
        index = self._index
        d = self.dimension
        if not self.is_ivf:
            ids = faiss.vector_to_array(index.id_map).astype(np.int64)
            data = index.index.reconstruct_n(0, index.ntotal) if vectors else np.zeros((0, d))
            return ids, np.ascontiguousarray(data, dtype=np.float32)
        invlists = index.invlists
        id_parts: list[np.ndarray] = []
        vector_parts: list[np.ndarray] = []
        for list_no in range(index.nlist):
            size = invlists.list_size(list_no)
            if not size:
                continue
            id_parts.append(faiss.rev_swig_ptr(invlists.get_ids(list_no), size).copy())
            if vectors:  # IVFFlat codes are the float32 vectors themselves
                codes = faiss.rev_swig_ptr(invlists.get_codes(list_no), size * index.code_size)
                vector_parts.append(codes.copy().view(np.float32).reshape(size, d))
        if not id_parts:
            return np.zeros(0, np.int64), np.zeros((0, d), np.float32)
        all_vectors = np.vstack(vector_parts) if vectors else np.zeros((0, d), np.float32)
        return np.concatenate(id_parts).astype(np.int64), all_vectors

    # ---- persistence ------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        with self._lock:
            atomic_write(path, lambda tmp: faiss.write_index(self._index, str(tmp)))

    def load(self, path: Path) -> None:
        index = faiss.read_index(str(path))
        if index.d != self.dimension:
            raise ValueError(f"index {path} has dimension {index.d}, expected {self.dimension}")
        if isinstance(index, faiss.IndexIVF):  # read_index returns the concrete class
            if not isinstance(index, faiss.IndexIVFFlat):
                raise ValueError(f"index {path} is an IVF index of another kind")
            if index.direct_map.type != _HASHTABLE:
                index.set_direct_map_type(_HASHTABLE)
            index.parallel_mode = _PROBES_IN_PARALLEL  # not saved in the file
        elif not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"index {path} has no stable ids (not an IndexIDMap2 or IVF)")
        with self._lock:
            self._index = index
            self.trained_size = index.ntotal if self.is_ivf else 0
            self.measured_recall = None
            if not self.is_ivf:
                self._maybe_train()  # e.g. a large index written by FaissFlatIndex


def calibration_queries(sample: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Queries modelled on `sample` (see `perturbed`) for measuring `nprobe`."""
    picks = rng.choice(len(sample), min(_CALIBRATION_QUERIES, len(sample)), replace=False)
    return perturbed(sample, picks, _QUERY_RHO, rng)


class _TopK:
    """The exact top-k ids (inner product) of some queries, over vectors seen block by block."""

    def __init__(self, queries: np.ndarray, k: int) -> None:
        self.queries = queries
        self.k = k
        self._heap = faiss.ResultHeap(len(queries), k, keep_max=True)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        # brute force over the block in place (an exact index would copy it)
        scores, positions = faiss.knn(
            self.queries, vectors, min(self.k, len(ids)), metric=faiss.METRIC_INNER_PRODUCT
        )
        self._heap.add_result(scores, np.where(positions >= 0, ids[positions], -1))

    def ids(self) -> np.ndarray:
        """Per query, the ids best first (-1 where fewer than k vectors were seen)."""
        self._heap.finalize()
        return np.asarray(self._heap.I)


def perturbed(
    vectors: np.ndarray, picks: np.ndarray, rho: float, rng: np.random.Generator
) -> np.ndarray:
    """Queries near `vectors[picks]`, as far from them as real queries are from their chunks.

    Embeddings share a large common direction (e5's cosines crowd into 0.75-0.95), so a
    query is modelled on the data's shell: the data mean plus the chunk's residual turned to
    cosine `rho` in a random direction, its length kept. On the dev set's e5 vectors,
    rho = 0.5 gives queries whose best-chunk cosine (median 0.905) matches real questions'
    (0.904), and IVF recall on them is a little below real questions' (a safe side).
    """
    mean = vectors.mean(axis=0, dtype=np.float64)
    residual = vectors[picks].astype(np.float64) - mean
    length = np.maximum(np.linalg.norm(residual, axis=1, keepdims=True), 1e-12)
    direction = residual / length
    noise = rng.standard_normal(residual.shape)
    mean_norm = np.linalg.norm(mean)
    if mean_norm > 1e-6:
        axis = mean / mean_norm
        noise -= np.outer(noise @ axis, axis)
    noise -= (noise * direction).sum(axis=1, keepdims=True) * direction
    noise /= np.maximum(np.linalg.norm(noise, axis=1, keepdims=True), 1e-12)
    queries = mean + length * (rho * direction + math.sqrt(1 - rho * rho) * noise)
    queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(queries, dtype=np.float32)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the true top-k ids (rows of `truth`, -1 = none) that `found` also holds."""
    hits = total = 0
    for got, want in zip(found, truth, strict=True):
        wanted = set(want[want >= 0].tolist())
        hits += len(wanted & set(got.tolist()))
        total += len(wanted)
    return hits / total if total else 1.0
