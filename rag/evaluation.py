"""Measure a knowledge base with its own questions: retrieval hit rates and answer quality.

Questions are JSON lines, as in the dev set: `{"question", "answers": [...], "doc_file"}`.
A result is a *hit* when it comes from `doc_file` and contains one of the answers (NFKC,
lower-cased, whitespace removed) — the same rule as the dev-set harness. Answers are scored
by exact match, character F1 and "contains a gold answer".
"""

from __future__ import annotations

import collections
import json
import math
import re
import statistics
import string
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import BadRequestError

KS = (1, 5, 10)
_CJK = re.compile(r"[\u3400-\u9fff]")
_ZH_PUNCT = set("，。！？、；：“”‘’（）《》〈〉【】『』「」﹃﹄〔〕…—－～·．｀＂＇／＼")


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    answers: tuple[str, ...]
    doc_file: str | None = None


@dataclass
class EvalReport:
    kb: str
    questions: int = 0
    hit_at: dict[int, float] = field(default_factory=dict)
    doc_hit_at: dict[int, float] = field(default_factory=dict)
    mrr_at_10: float = 0.0
    search_p50_ms: float = 0.0
    search_p95_ms: float = 0.0
    chars_top5: float = 0.0
    answered: int = 0
    exact_match: float | None = None
    f1: float | None = None
    contains: float | None = None
    answer_p50_s: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "kb": self.kb,
            "questions": self.questions,
            **{f"hit@{k}": round(v, 4) for k, v in self.hit_at.items()},
            "mrr@10": round(self.mrr_at_10, 4),
            **{f"doc_hit@{k}": round(v, 4) for k, v in self.doc_hit_at.items()},
            "search_p50_ms": round(self.search_p50_ms, 1),
            "search_p95_ms": round(self.search_p95_ms, 1),
            "chars_top5": round(self.chars_top5, 1),
            "answered": self.answered,
            "answer_em": self.exact_match,
            "answer_f1": self.f1,
            "answer_contains": self.contains,
            "answer_p50_s": self.answer_p50_s,
        }

    def markdown(self) -> str:
        row = self.as_dict()
        keys = [k for k, v in row.items() if k != "kb" and v is not None]
        head = "| " + " | ".join(keys) + " |"
        rule = "|" + "---|" * len(keys)
        values = "| " + " | ".join(_fmt(row[k]) for k in keys) + " |"
        return "\n".join([head, rule, values])


def _fmt(value: object) -> str:
    if isinstance(value, float) and value <= 1.0:
        return f"{value * 100:.1f}%"
    return str(value)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a questions file; a malformed line is an error naming its number."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers = tuple(str(a) for a in row["answers"])
            questions.append(EvalQuestion(str(row["question"]), answers, row.get("doc_file")))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BadRequestError(
                f"{path.name} line {number}: expected JSON with 'question' and 'answers' "
                f"({exc.__class__.__name__})"
            ) from None
    if not questions:
        raise BadRequestError(f"{path.name} has no questions")
    return questions


def match_text(text: str) -> str:
    """Normalisation for "a chunk contains the answer": NFKC, lower case, no whitespace."""
    return "".join(unicodedata.normalize("NFKC", text or "").lower().split())


def _norm_answer(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    if _CJK.search(text):
        drop = _ZH_PUNCT | set(string.punctuation)
        return "".join(ch for ch in text if not ch.isspace() and ch not in drop)
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def _tokens(text: str) -> list[str]:
    normalized = _norm_answer(text)
    if _CJK.search(normalized):
        return re.findall(r"[a-z0-9]+|[^a-z0-9]", normalized)
    return normalized.split()


def answer_scores(prediction: str, golds: Iterable[str]) -> tuple[float, float, float]:
    """(exact match, best token/character F1, contains a gold answer) for one answer."""
    golds = list(golds)
    predicted = _norm_answer(prediction)
    em = max(float(predicted == _norm_answer(g)) for g in golds)
    contains = max(float(bool(_norm_answer(g)) and _norm_answer(g) in predicted) for g in golds)
    best_f1 = 0.0
    predicted_tokens = _tokens(prediction)
    for gold in golds:
        gold_tokens = _tokens(gold)
        same = sum(
            (collections.Counter(predicted_tokens) & collections.Counter(gold_tokens)).values()
        )
        if same and predicted_tokens and gold_tokens:
            precision, recall = same / len(predicted_tokens), same / len(gold_tokens)
            best_f1 = max(best_f1, 2 * precision * recall / (precision + recall))
    return em, best_f1, contains


def _from_gold_doc(source: str, doc_file: str | None) -> bool:
    return doc_file is None or source == doc_file or source.startswith(doc_file + "#")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


SearchFn = Callable[[str, int], list[tuple[str, str]]]
AnswerFn = Callable[[str], str]


def evaluate(
    kb: str,
    questions: list[EvalQuestion],
    search: SearchFn,
    answer: AnswerFn | None = None,
    answers: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Retrieval metrics over all questions; answer metrics over the first `answers`.

    `search(question, k)` gives (source, text) pairs best first; `answer(question)` the
    model's answer. Both are passed in, so this module needs no UI, API or model.
    """
    results: list[Sequence[tuple[str, str]]] = []
    latencies: list[float] = []
    for i, q in enumerate(questions):
        started = time.perf_counter()
        results.append(search(q.question, max(KS)))
        latencies.append((time.perf_counter() - started) * 1000)
        if on_progress:
            on_progress(i + 1, len(questions))
    report = score_results(kb, questions, results, latencies)
    if answer is not None and answers > 0:
        _score_answers(report, questions[:answers], answer)
    return report


def is_hit(question: EvalQuestion, source: str, text: str) -> bool:
    """A result from the question's gold document (any, without one) that contains one of
    its answers."""
    if not _from_gold_doc(source, question.doc_file):
        return False
    normalized = match_text(text)
    return any(gold and gold in normalized for gold in map(match_text, question.answers))


def score_results(
    kb: str,
    questions: Sequence[EvalQuestion],
    results: Sequence[Sequence[tuple[str, str]]],
    latencies_ms: Sequence[float],
) -> EvalReport:
    """The retrieval metrics of each question's results ((source, text) best first, the
    top 10 counted) and its search time in ms."""
    ranks: list[int | None] = []
    doc_ranks: list[int | None] = []
    chars: list[int] = []
    for q, hits in zip(questions, results, strict=True):
        rank = doc_rank = None
        for position, (source, text) in enumerate(hits[: max(KS)], 1):
            if doc_rank is None and _from_gold_doc(source, q.doc_file):
                doc_rank = position
            if rank is None and is_hit(q, source, text):
                rank = position
        ranks.append(rank)
        doc_ranks.append(doc_rank)
        chars.append(sum(len(text) for _, text in hits[:5]))
    n = len(questions)
    return EvalReport(
        kb=kb,
        questions=n,
        hit_at={k: sum(r is not None and r <= k for r in ranks) / n for k in KS},
        doc_hit_at={k: sum(r is not None and r <= k for r in doc_ranks) / n for k in KS},
        mrr_at_10=sum(1 / r for r in ranks if r is not None and r <= 10) / n,
        search_p50_ms=_percentile(list(latencies_ms), 0.5),
        search_p95_ms=_percentile(list(latencies_ms), 0.95),
        chars_top5=statistics.mean(chars),
    )


def _score_answers(report: EvalReport, questions: list[EvalQuestion], answer: AnswerFn) -> None:
    scores, seconds = [], []
    for q in questions:
        started = time.perf_counter()
        prediction = answer(q.question)
        seconds.append(time.perf_counter() - started)
        scores.append(answer_scores(prediction, q.answers))
    report.answered = len(scores)
    report.exact_match = round(statistics.mean(s[0] for s in scores), 4)
    report.f1 = round(statistics.mean(s[1] for s in scores), 4)
    report.contains = round(statistics.mean(s[2] for s in scores), 4)
    report.answer_p50_s = round(statistics.median(seconds), 2)
