"""Questions asked in the other language than the documents', through the app's chain.

    .venv/bin/python scripts/eval_crosslingual.py --kb-root R --kb KB \
        --questions tests/data/devgate/en_over_zh.jsonl \
        --gold ../shared/devset/questions/zh.jsonl [--env ZHIKU_TRANSLATE_QUESTIONS=false]

Asks each question of knowledge base KB (built as the dev gate builds it: `scripts/devgate.py
--kb-root R` keeps it) with the default settings and the shipped models, in process
(`rag.factory.build_services`, `QAChain.answer`), and counts the "not found" replies
(`rag.chains.is_not_found`), the questions answered from the gold document (the first
source is from the document of the question's id in --gold, when given), and the questions
searched again in translation. `tests/data/devgate/en_over_zh.jsonl` holds 26 English
translations of `zh` dev questions (their ids are the `zh` ones); an off-topic file (the
gate's English one over the `zh` knowledge base, or `zh` questions over the `en` one) gives
the refusal rate across languages. Gold answers are in the documents' language, so the
answers are printed to be read, not scored.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from rag.chains.not_found import is_not_found
from rag.factory import build_services
from rag.services import Services
from rag.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kb-root", type=Path, required=True)
    parser.add_argument("--kb", required=True, help="the knowledge base's name under --kb-root")
    parser.add_argument("--questions", type=Path, required=True, help="JSONL: question[, id]")
    parser.add_argument("--gold", type=Path, help="JSONL of the ids' questions, with doc_id")
    parser.add_argument("--limit", type=int, default=0, help="the first N questions (0: all)")
    parser.add_argument("--env", action="append", default=[], help="ZHIKU_KEY=VALUE")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    env = dict(os.environ) | dict(item.split("=", 1) for item in args.env)
    services = build_services(load_settings(env=env), args.kb_root)
    retriever = services.retriever(args.kb)
    gold = _documents(args.gold) if args.gold else {}
    questions = [json.loads(line) for line in args.questions.open(encoding="utf-8")]
    rows = [_asked(services, retriever, q, gold) for q in questions[: args.limit or None]]
    print(_summary(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


def _documents(path: Path) -> dict[str, str]:
    rows = (json.loads(line) for line in path.open(encoding="utf-8"))
    return {row["id"]: row.get("doc_id", "") for row in rows}


def _asked(services: Services, retriever: Any, question: dict, gold: dict[str, str]) -> dict:
    answer = services.qa.answer(question["question"], retriever)
    doc = gold.get(question.get("id", ""))
    first = answer.sources[0].source if answer.sources else ""
    row = {
        "question": question["question"],
        "searched_as": answer.rewritten,
        "answer": answer.text,
        "not_found": is_not_found(answer.text),
        "gold_document": bool(doc) and first.startswith(doc),
    }
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return row


def _summary(rows: list[dict]) -> str:
    answered = [row for row in rows if not row["not_found"]]
    return (
        f"{len(rows)} questions: 'not found' {len(rows) - len(answered)}, answered "
        f"{len(answered)} (from the gold document {sum(r['gold_document'] for r in answered)}), "
        f"searched in translation {sum(bool(r['searched_as']) for r in rows)}"
    )


if __name__ == "__main__":
    main()
