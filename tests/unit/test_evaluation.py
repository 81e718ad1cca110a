"""The eval command's metrics, on hand-made results whose answers are known."""

import json
from pathlib import Path

import pytest

from rag.errors import BadRequestError
from rag.evaluation import (
    EvalQuestion,
    answer_scores,
    evaluate,
    is_hit,
    load_questions,
    score_results,
)


def test_hits_need_gold_document_and_answer():
    questions = [
        EvalQuestion("q1", ("1987年",), "a.md"),
        EvalQuestion("q2", ("林 晓峰",), "b.md"),
        EvalQuestion("q3", ("never",), "c.md"),
    ]
    results = {
        "q1": [("x.md", "成立于1987年"), ("a.md", "成立于１９８７年")],  # NFKC digits
        "q2": [("b.md", "创始人是林晓峰。")],  # whitespace ignored
        "q3": [("c.md", "nothing here")],
    }
    report = evaluate("kb", questions, lambda q, k: results[q][:k])
    assert report.hit_at == {
        1: pytest.approx(1 / 3),
        5: pytest.approx(2 / 3),
        10: pytest.approx(2 / 3),
    }
    assert report.doc_hit_at[1] == pytest.approx(2 / 3)
    assert report.mrr_at_10 == pytest.approx((1 / 2 + 1) / 3)
    assert report.answered == 0 and report.contains is None


def test_answer_scores_chinese_and_english():
    assert answer_scores("答案是法律制裁。", ["法律制裁"]) == (0.0, pytest.approx(8 / 11), 1.0)
    em, f1, contains = answer_scores("The Danube", ["Danube"])
    assert (em, contains) == (1.0, 1.0) and f1 == 1.0
    assert answer_scores("不知道", ["法律制裁"])[2] == 0.0


def test_answers_scored_for_first_n(tmp_path: Path):
    questions = [EvalQuestion(f"q{i}", ("yes",), None) for i in range(4)]
    report = evaluate("kb", questions, lambda q, k: [], answer=lambda q: "yes", answers=2)
    assert report.answered == 2 and report.contains == 1.0 and report.exact_match == 1.0


def test_question_file_errors_name_the_line(tmp_path: Path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": "a", "answers": ["b"]}) + "\n{bad\n", encoding="utf-8")
    with pytest.raises(BadRequestError, match="line 2"):
        load_questions(path)


def test_scored_results_are_evaluate_s():
    """`score_results` scores rankings made elsewhere (scripts/eval_retrieval.py) by the
    rule `evaluate` applies to a search function's."""
    questions = [EvalQuestion("q1", ("1987年",), "a.md"), EvalQuestion("q2", ("x",), None)]
    results = {"q1": [("x.md", "1987年"), ("a.md", "成立于１９８７年")], "q2": [("b.md", "x")]}
    searched = evaluate("kb", questions, lambda q, k: results[q][:k])
    scored = score_results("kb", questions, [results["q1"], results["q2"]], [1.0, 2.0])
    assert scored.hit_at == searched.hit_at and scored.mrr_at_10 == searched.mrr_at_10
    assert scored.doc_hit_at == searched.doc_hit_at and scored.search_p50_ms == 1.0
    assert is_hit(questions[0], "a.md", "成立于 1987年") and not is_hit(
        questions[0], "x.md", "1987年"
    )
