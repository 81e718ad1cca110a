"""Measure a configured LLM: load time, time to first token, generation speed.

    python scripts/bench_llm.py --model fast --runs 3 --max-new-tokens 64

The prompt is a RAG-style prompt of about 600 tokens (retrieved context + question), the
shape zhiku sends. Runs after the first reuse the evaluated prompt prefix where the backend
can (llama.cpp keeps the KV cache of the common prefix), so a changed question shows the
cost of the new tokens only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.llms import build_llm
from rag.settings import load_settings

CONTEXT = (
    "LangChain is a framework for developing applications powered by large language models. "
    "It provides prompt templates, output parsers, document loaders, text splitters, vector "
    "stores and retrievers, and a runnable interface that composes them with the | operator. "
    "A retriever returns the documents most relevant to a query; the chain then puts them "
    "into the prompt as context, and the model answers from that context only. "
)
QUESTIONS = [
    "What does a retriever return, and how does the chain use it?",
    "Which operator composes LangChain runnables?",
    "Name three kinds of components LangChain provides.",
]


def build_prompt(question: str, repeat: int) -> str:
    context = "\n".join(f"[{i + 1}] {CONTEXT}" for i in range(repeat))
    return (
        "Answer the question from the context below. If the context does not contain the "
        f"answer, say so.\n\nContext:\n{context}\n\nQuestion: {question}\nAnswer:"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="entry of LLM_MODEL_DICT (default: LLM_MODEL)")
    parser.add_argument("--device", default=None, help="LLM_DEVICE override (cpu, cuda...)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--context-repeat", type=int, default=8, help="~70 tokens each")
    args = parser.parse_args()

    overrides: dict[str, Any] = {}
    if args.model:
        overrides["llm_model"] = args.model
    if args.device:
        overrides["llm_device"] = args.device
    settings = load_settings(**overrides)
    llm = build_llm(settings)

    started = time.perf_counter()
    llm.load()
    print(
        f"model {settings.llm_model} ({settings.llm.backend}): loaded in "
        f"{time.perf_counter() - started:.1f} s"
    )

    for run in range(args.runs):
        prompt = build_prompt(QUESTIONS[run % len(QUESTIONS)], args.context_repeat)
        started = time.perf_counter()
        first: float | None = None
        pieces = 0
        for chunk in llm.stream(prompt, max_new_tokens=args.max_new_tokens, temperature=0):
            if chunk and first is None:
                first = time.perf_counter() - started
            pieces += bool(chunk)
        total = time.perf_counter() - started
        info = llm.generate([prompt], max_new_tokens=1, temperature=0).generations[0][0]
        usage = (info.generation_info or {}).get("usage", {})
        prompt_tokens = usage.get("prompt_tokens", "?")
        first_s = first if first is not None else total
        rate = (pieces - 1) / (total - first_s) if pieces > 1 and total > first_s else 0.0
        print(
            f"run {run + 1}: prompt {prompt_tokens} tokens, first token {first_s:.2f} s, "
            f"{pieces} chunks in {total:.2f} s, ~{rate:.1f} chunks/s after the first"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
