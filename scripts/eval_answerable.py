"""Where the answerability check should leave a question to the model, and how sure the
model must be: the check's score of every dev question (answerable and off-topic) and, near
the threshold, the model's P(yes) that the sources answer it, as the chat asks it.

    .venv/bin/python scripts/eval_answerable.py --lang en --kb-root R --kb devgate_en_XXXX \\
        --band 0.05 --margins 0.02 0.03 --min-yes 0.7 0.8 0.85

R is a knowledge-base folder the dev gate built (`scripts/devgate.py --kb-root R`). Prints,
for the threshold alone and for each margin and P(yes), how many answerable questions are
refused (and of those, how many had the gold answer in the sources) and how many off-topic
ones. `--out F` keeps each question's numbers (JSON lines).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.chains.qa import QAChain  # noqa: E402
from rag.chains.turn import Turn  # noqa: E402
from rag.factory import build_services  # noqa: E402
from rag.retrieval.answerable import AnswerabilityCheck  # noqa: E402
from rag.services import Services  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from scripts.devgate import DEFAULT_DEVSET, offtopic_file, read_jsonl  # noqa: E402


@dataclass
class Judged:
    """One question: its kind, the check's score and threshold, the model's P(yes)."""

    kind: str
    question: str
    score: float
    threshold: float
    gold_in_sources: bool
    yes: float | None = None

    def refused(self, margin: float, min_yes: float) -> bool:
        distance = self.score - self.threshold
        if abs(distance) < margin and self.yes is not None:
            return self.yes < min_yes
        return distance < 0


def judge(services: Services, kb: str, row: dict, band: float) -> Judged:
    """The check's score of `row`'s question; P(yes) too when it is within `band`."""
    check = services.answerability
    assert check is not None, "the embedding entry has no answerable_min"
    question, chain = row["question"], services.qa
    hits = services.kb.search(kb, question, 3)
    relevance = services.kb.relevance(kb, question, hits)
    golds = [g.replace(" ", "") for g in row.get("answers", [])]
    judged = Judged(
        row["kind"],
        question,
        check.score(relevance) if hits else 0.0,
        check.min_score_for(question),
        any(g in hit.text.replace(" ", "") for hit in hits for g in golds),
    )
    if hits and abs(judged.score - judged.threshold) < band:
        judged.yes = model_yes(chain, services, kb, question)
    return judged


def model_yes(chain: QAChain, services: Services, kb: str, question: str) -> float | None:
    """The model's P(yes), asked as the chat asks it (the chat's sources, prompt and system
    message)."""
    settings = services.settings  # the chat's retriever, without the check
    retriever = services.kb.retriever(
        kb, top_k=settings.answer_top_k, score_threshold=settings.retrieval.score_threshold
    )
    sources = chain.sources(question, retriever)
    language = chain.language_of(question, sources)
    turn = chain.prepare(Turn.asked(question, question, language, sources))
    confirmation = chain.confirmation
    if confirmation is None:
        raise SystemExit("the LLM entry has no answerable_min_yes: nothing to calibrate")
    prompt = confirmation.template.format(context=turn.read_context, question=turn.read_question)
    system = chain.system_for(turn).get("system_prompt")
    return services.llm.yes_probability(prompt, system)  # type: ignore[attr-defined]


def table(rows: list[Judged], margins: Sequence[float], min_yes: Sequence[float]) -> str:
    answerable = [r for r in rows if r.kind == "answer"]
    offtopic = [r for r in rows if r.kind == "offtopic"]

    def line(label: str, margin: float, yes: float) -> str:
        refused = [r for r in answerable if r.refused(margin, yes)]
        gold = sum(r.gold_in_sources for r in refused)
        off = sum(r.refused(margin, yes) for r in offtopic)
        return (
            f"| {label} | {len(refused)} of {len(answerable)} ({gold}) | "
            f"{off} of {len(offtopic)} ({100 * off / max(1, len(offtopic)):.0f} %) |"
        )

    out = [
        "| setting | answerable refused (gold in the sources) | off-topic refused |",
        "|---|---|---|",
        line("threshold alone", 0.0, 0.0),
    ]
    for margin in margins:
        for yes in min_yes:
            out.append(line(f"margin {margin}, P(yes) >= {yes}", margin, yes))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", required=True, choices=("zh", "zh_tw", "en"))
    parser.add_argument("--kb-root", type=Path, required=True)
    parser.add_argument("--kb", required=True, help="the knowledge base of --lang's corpus")
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--band", type=float, default=0.05, help="ask the model within this")
    parser.add_argument("--margins", type=float, nargs="+", default=[0.02, 0.03])
    parser.add_argument("--min-yes", type=float, nargs="+", default=[0.7, 0.8, 0.85])
    parser.add_argument("--out", type=Path, help="each question's numbers (JSON lines)")
    args = parser.parse_args(argv)
    services = build_services(load_settings(), kb_root=args.kb_root)
    if not isinstance(services.answerability, AnswerabilityCheck):
        raise SystemExit("no answerability check: the embedding entry has no answerable_min")
    questions = [
        dict(row, kind="answer")
        for row in read_jsonl(args.devset / "questions" / f"{args.lang}.jsonl", 10**6)
    ] + [
        dict(row, kind="offtopic")
        for row in read_jsonl(offtopic_file(args.devset, args.lang), 10**6)
    ]
    rows = [judge(services, args.kb, row, args.band) for row in questions]
    if args.out:
        with args.out.open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row.__dict__, ensure_ascii=False) + "\n")
    print(f"### {args.lang}: {sum(r.yes is not None for r in rows)} questions asked\n")
    print(table(rows, args.margins, args.min_yes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
