"""Retrieval quality on English: a small knowledge base written for this test.

tests/data/english_kb/ holds eight short English documents (a fictional company's handbook,
travel policy and IT rules, an espresso machine FAQ, the history of an invented town, a
recipe, a library guide and a community orchard's rules) and 30 questions with gold answers
in the dev-set format; about half are worded differently from the text ("broadband" for
"internet connection", "guarantee" for "warranty", "blaze" for "fire").

The KB is built once with the configured (real) embedding model and searched three ways
with the same stores: the default hybrid search, dense only and BM25 only. Run with -s to
see the table.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rag.evaluation import EvalReport, evaluate, load_questions
from rag.factory import build_kb_service
from rag.services import KnowledgeBaseService, kb_search_fn
from rag.settings import load_settings

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parent.parent / "data" / "english_kb"
KB = "english"
MODES = ("dense", "lexical", "hybrid")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EvalReport]:
    root = tmp_path_factory.mktemp("english-kb")
    started = time.perf_counter()
    hybrid = build_kb_service(load_settings(), root)
    assert hybrid.search_options.mode == "hybrid"
    hybrid.create_kb(KB, "English quality check")
    documents = sorted(p for p in DATA.iterdir() if p.suffix in {".md", ".txt"})
    results = hybrid.add_files(KB, [(p.name, p) for p in documents])
    assert [r.status for r in results] == ["ok"] * len(documents), results
    ingest_s = time.perf_counter() - started
    services: dict[str, KnowledgeBaseService] = {"hybrid": hybrid}
    for mode in ("dense", "lexical"):
        # the same stores, searched another way (the embedding model is loaded once)
        services[mode] = build_kb_service(
            load_settings(search_mode=mode), root, embeddings=hybrid.embeddings
        )
    questions = load_questions(DATA / "questions.jsonl")
    out = {}
    for mode in MODES:
        out[mode] = evaluate(KB, questions, kb_search_fn(services[mode], KB, 0.0))
    for service in services.values():
        service.close()
    chunks = sum(r.chunks for r in results)
    print(f"\nEnglish KB: {len(documents)} documents, {chunks} chunks, ingest {ingest_s:.1f} s")
    print(table(out))
    return out


def table(reports: dict[str, EvalReport]) -> str:
    rows = ["| search | hit@1 | hit@5 | hit@10 | MRR@10 | doc_hit@1 | search p50 |"]
    rows.append("|---|---|---|---|---|---|---|")
    for mode, r in reports.items():
        rows.append(
            f"| {mode} | {r.hit_at[1]:.1%} | {r.hit_at[5]:.1%} | {r.hit_at[10]:.1%} "
            f"| {r.mrr_at_10:.3f} | {r.doc_hit_at[1]:.1%} | {r.search_p50_ms:.0f} ms |"
        )
    return "\n".join(rows)


def test_questions_are_well_formed():
    questions = load_questions(DATA / "questions.jsonl")
    assert len(questions) == 30
    files = {p.name for p in DATA.iterdir()}
    for q in questions:
        assert q.doc_file in files, q
        text = (DATA / str(q.doc_file)).read_text(encoding="utf-8").lower()
        assert any(" ".join(a.lower().split()) in " ".join(text.split()) for a in q.answers), q


def test_hybrid_finds_the_answer_in_the_top_5(reports):
    assert reports["hybrid"].hit_at[5] >= 0.9


def test_hybrid_top_hit_is_not_worse_than_dense(reports):
    n = reports["hybrid"].questions
    hybrid_top = round(reports["hybrid"].hit_at[1] * n)
    dense_top = round(reports["dense"].hit_at[1] * n)
    assert hybrid_top >= dense_top - 1, table(reports)
