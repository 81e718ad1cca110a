"""Scripts are thin clients of `rag`: they import the chain, the pipelines and the metrics
(developers' guide), never copy them."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

import rag.evaluation
import rag.factory
import rag.retrieval.fusion
from rag.evaluation import EvalQuestion
from rag.factory import build_chunker
from scripts import eval_lexical_backends, eval_retrieval

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def test_eval_retrieval_fuses_and_scores_with_rag():
    for name in ("fuse", "weighted_ranking", "rrf_ranking", "dense_component"):
        assert getattr(eval_retrieval, name) is getattr(rag.retrieval.fusion, name)
    for name in ("score_results", "is_hit"):
        assert getattr(eval_retrieval, name) is getattr(rag.evaluation, name)


def test_eval_retrieval_chunks_with_the_app_s_chunker(settings):
    pipeline = eval_retrieval.pipeline_for(settings.chunking.size, settings.chunking.overlap)
    app = build_chunker(settings)
    assert type(pipeline.chunker.splitter) is type(app.splitter)
    assert pipeline.chunker.options == app.options
    text = "Marlow Bridge 馬洛橋 " * 200
    assert pipeline.chunker.splitter.split_text(text) == app.splitter.split_text(text)


def test_eval_retrieval_scores_rankings_by_rag_s_rule():
    corpus = eval_retrieval.Corpus(
        ids=np.array([1, 2, 3]),
        texts=["nothing", "成立于１９８７年", "1987年"],
        sources=["a.md", "a.md", "b.md"],
        vectors=np.zeros((0, 0)),
        questions=[EvalQuestion("q", ("1987年",), "a.md")],
        query_vectors=np.zeros((0, 0)),
        embed_query_ms=float("nan"),
    )
    report = eval_retrieval.score_rankings(corpus, [[3, 1, 2]], [1.0])
    assert report.hit_at == {1: 0.0, 5: 1.0, 10: 1.0} and report.doc_hit_at[1] == 0.0
    assert eval_retrieval.gold_positions(corpus) == [{2}]


def chain_assignments(source: str) -> list[str]:
    """`x.field = ...` where x is called `qa` or `chain` (or is `something.qa`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        for target in node.targets if isinstance(node, ast.Assign) else []:
            if isinstance(target, ast.Attribute):
                base = target.value
                name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
                if name in {"qa", "chain"}:
                    found.append(f"{name}.{target.attr}")
    return found


def test_no_script_assigns_to_a_chain():
    """A benchmark builds its chain variants from settings (`rag.factory`), it does not
    change the fields of a chain the app built."""
    assert chain_assignments("qa = services.qa\nqa.llm = 1\nservices.qa.stream = 2") == [
        "qa.llm",
        "qa.stream",
    ]
    for name in ("bench_streaming.py", "eval_retrieval.py", "eval_lexical_backends.py"):
        assert chain_assignments((SCRIPTS / name).read_text(encoding="utf-8")) == [], name


def test_eval_lexical_backends_builds_its_variants_from_settings(tmp_path):
    """Each variant is the app built from settings (`rag.factory.build_kb_service`), not a
    service whose fields the script changes."""
    settings = eval_lexical_backends.settings_for("", tmp_path, "milvus_bm25", "lexical")
    retrieval = settings.retrieval
    assert (retrieval.default_vs_type, retrieval.mode) == ("milvus", "lexical")
    assert retrieval.kbs_config.milvus.lexical == "milvus_bm25"
    assert retrieval.kbs_config.milvus.uri == str(tmp_path / "milvus.db")
    assert eval_lexical_backends.build_kb_service is rag.factory.build_kb_service
    assert eval_lexical_backends.score_results is rag.evaluation.score_results
    questions = [EvalQuestion(str(i), ()) for i in range(10)]
    assert [q.question for q in eval_lexical_backends.sample(questions, 5)] == list("02468")


def test_eval_crosslingual_asks_the_app_s_chain_and_counts_its_refusals():
    import rag.chains.not_found
    from scripts import eval_crosslingual

    assert eval_crosslingual.build_services is rag.factory.build_services
    assert eval_crosslingual.is_not_found is rag.chains.not_found.is_not_found
    rows = [
        {"not_found": True, "gold_document": False, "searched_as": None},
        {"not_found": False, "gold_document": True, "searched_as": "电池保修多久？"},
        {"not_found": False, "gold_document": False, "searched_as": None},
    ]
    summary = eval_crosslingual._summary(rows)
    assert summary == (
        "3 questions: 'not found' 1, answered 2 (from the gold document 1), "
        "searched in translation 1"
    )
