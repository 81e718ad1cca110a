"""Benchmark: zhiku's LLM wrapper against the raw engine on the same ~600-token RAG prompt.

For a local backend (gguf: llama-cpp-python, transformers: `model.generate`) it measures,
on one loaded model and in the same run:

- time to first token (prompt evaluation + first token), and
- decode speed (tokens/s after the first token),

once through the wrapper (`llm.stream(...)`, the whole LangChain path with callbacks and
stop handling) and once through the raw engine (`Llama.__call__` / `model.generate` with a
streamer) on the same chat-formatted prompt, greedy, with the same settings. Runs are
interleaved (raw, wrapper, wrapper, raw, ...) so that a shared machine's noise hits both
alike; the table shows medians and the wrapper/raw ratios. The llama.cpp prompt cache is
reset before each run, so every run evaluates the whole prompt.

    python scripts/bench_llm.py                          # default LLM_MODEL
    python scripts/bench_llm.py --model fast --repeats 7
    python scripts/bench_llm.py --hf-folder ~/.cache/zhiku/models/qwen2.5-coder-0.5b-hf

Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

from rag.factory import llm_setup
from rag.llms import ZhikuLLM, build_llm
from rag.settings import Settings, load_settings

PASSAGES = [
    "知库（zhiku）是一个本地知识库问答应用：文档被切分成片段，经向量化后存入索引；提问时先检索"
    "最相关的片段，再把它们与问题一起交给本地大语言模型生成回答。",
    "The retriever returns the top-k chunks whose embeddings are closest to the question. "
    "Each chunk keeps its source file and heading path, so that the answer can cite it.",
    "GGUF files hold quantized weights; llama.cpp evaluates the prompt in batches of n_batch "
    "tokens and then decodes one token at a time, reusing the key-value cache.",
    "在只有两个 CPU 核心的机器上，提示词评估通常占据首字延迟的大部分；解码速度则主要取决于模型"
    "大小与量化位数。",
    "Stop strings end the answer early. They may be split across two tokens, so the wrapper "
    "holds back a short tail until the next token shows whether a stop string begins there.",
    "知识库可以增量更新：新增文件只需切分和向量化新的片段，删除文件时按文档编号精确删除其片段，"
    "无需重建整个索引。",
]
QUESTION = "请根据上述已知信息，详细说明知库回答一个问题的完整过程，并解释首字延迟主要花在哪里。"


@dataclass
class Run:
    kind: str  # "raw" or "wrapper"
    ttft_s: float
    decode_tok_s: float
    completion_tokens: int
    text: str


def rag_prompt(settings: Settings, count_tokens: Any, target_tokens: int) -> str:
    """The configured PROMPT_TEMPLATE filled with passages up to ~`target_tokens` tokens."""
    passages: list[str] = []
    i = 0
    while True:
        passages.append(f"[{i + 1}] {PASSAGES[i % len(PASSAGES)]}")
        template = settings.answer.prompt_templates["zh"]  # QUESTION is Chinese
        prompt = template.format(context="\n\n".join(passages), question=QUESTION)
        if count_tokens(prompt) >= target_tokens:
            return prompt
        i += 1


class Timer(BaseCallbackHandler):
    """The wrapper's usage, from the run's end event."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.info = response.generations[0][0].generation_info or {}


def decode_rate(tokens: int, first: float, last: float) -> float:
    return (tokens - 1) / (last - first) if tokens > 1 and last > first else float("nan")


def run_wrapper(llm: ZhikuLLM, prompt: str, max_new_tokens: int) -> Run:
    timer = Timer()
    first = last = 0.0
    pieces: list[str] = []
    start = time.perf_counter()
    for chunk in llm.stream(
        prompt, config={"callbacks": [timer]}, max_new_tokens=max_new_tokens, temperature=0
    ):
        if chunk:
            last = time.perf_counter()
            first = first or last
            pieces.append(chunk)
    tokens = int(timer.info.get("usage", {}).get("completion_tokens", 0))
    return Run("wrapper", first - start, decode_rate(tokens, first, last), tokens, "".join(pieces))


# ---- gguf ---------------------------------------------------------------------------------


class GGUFBench:
    def __init__(self, llm: ZhikuLLM) -> None:
        self.llm = llm
        self.llama: Any = llm._llama  # type: ignore[attr-defined]

    def count_tokens(self, prompt: str) -> int:
        return len(
            self.llama.tokenize(self.chat_text(prompt).encode(), add_bos=False, special=True)
        )

    def chat_text(self, prompt: str) -> str:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        template = self.llama.metadata["tokenizer.chat_template"]
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(template).render(
            messages=self.llm.messages_for(prompt), add_generation_prompt=True
        )

    def fresh(self) -> None:
        self.llama.reset()  # no prompt-cache reuse: every run evaluates the whole prompt

    def raw(self, prompt: str, max_new_tokens: int) -> Run:
        text = self.chat_text(prompt)
        first = last = 0.0
        pieces: list[str] = []
        prompt_tokens: int | None = None
        finish = None
        start = time.perf_counter()
        for chunk in self.llama(
            text,
            stream=True,
            max_tokens=max_new_tokens,
            temperature=0.0,
            top_p=self.llm.top_p,
            repeat_penalty=self.llm.repetition_penalty,
        ):
            if prompt_tokens is None:
                prompt_tokens = self.llama.n_tokens
            choice = chunk["choices"][0]
            finish = choice.get("finish_reason") or finish
            if choice["text"]:
                last = time.perf_counter()
                first = first or last
                pieces.append(choice["text"])
        generated = self.llama.n_tokens - (prompt_tokens or 0)
        tokens = generated if finish == "stop" else generated + 1
        return Run("raw", first - start, decode_rate(tokens, first, last), tokens, "".join(pieces))


# ---- transformers -------------------------------------------------------------------------


class TransformersBench:
    def __init__(self, llm: ZhikuLLM) -> None:
        self.llm = llm
        self.model: Any = llm._model  # type: ignore[attr-defined]
        self.tokenizer: Any = llm._tokenizer  # type: ignore[attr-defined]

    def count_tokens(self, prompt: str) -> int:
        return int(self.llm._encode(self.llm.messages_for(prompt)).shape[-1])  # type: ignore[attr-defined]

    def fresh(self) -> None:
        pass

    def raw(self, prompt: str, max_new_tokens: int) -> Run:
        import torch
        from transformers import TextIteratorStreamer

        input_ids = self.llm._encode(self.llm.messages_for(prompt))  # type: ignore[attr-defined]
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        end_ids = self.llm._end_of_turn_ids()  # type: ignore[attr-defined]
        out: dict[str, Any] = {}

        def work() -> None:
            with torch.inference_mode():
                out["sequences"] = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    repetition_penalty=self.llm.repetition_penalty,
                    eos_token_id=end_ids,
                    pad_token_id=end_ids[0],
                    streamer=streamer,
                )

        first = last = 0.0
        pieces: list[str] = []
        start = time.perf_counter()
        worker = threading.Thread(target=work)
        worker.start()
        for text in streamer:
            if text:
                last = time.perf_counter()
                first = first or last
                pieces.append(text)
        worker.join()
        sequence = out["sequences"][0]
        tokens = int(sequence.shape[-1]) - int(input_ids.shape[-1])
        if tokens and int(sequence[-1]) in end_ids:
            tokens -= 1
        return Run("raw", first - start, decode_rate(tokens, first, last), tokens, "".join(pieces))


# ---- main ---------------------------------------------------------------------------------


def load(args: argparse.Namespace) -> tuple[str, ZhikuLLM, Any]:
    if args.hf_folder:
        folder = str(Path(args.hf_folder).expanduser())
        settings = load_settings(
            llm_model_dict={"bench-hf": {"backend": "transformers", "local_model_path": folder}},
            llm_model="bench-hf",
            llm_device=args.device,
        )
    else:
        settings = load_settings(
            llm_device=args.device, **({"llm_model": args.model} if args.model else {})
        )
    name = settings.models.llm_model
    llm = build_llm(llm_setup(settings))
    if not isinstance(llm, ZhikuLLM) or llm.backend not in ("gguf", "transformers"):
        raise SystemExit(f"{name}: only the local gguf/transformers backends")
    started = time.perf_counter()
    llm.load()
    print(f"# {name} ({llm.backend}) loaded in {time.perf_counter() - started:.1f} s")
    bench = GGUFBench(llm) if llm.backend == "gguf" else TransformersBench(llm)
    return name, llm, (settings, bench)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="LLM_MODEL_DICT entry (default: LLM_MODEL)")
    parser.add_argument("--hf-folder", help="a transformers model folder instead of --model")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each kind")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--prompt-tokens", type=int, default=600)
    parser.add_argument("--device", default="cpu", help="LLM_DEVICE (cpu, cuda, auto)")
    parser.add_argument(
        "--keep-cache",
        action="store_true",
        help="let llama.cpp reuse the evaluated prompt between runs (shows the cost of a "
        "repeated prompt instead of a fresh one)",
    )
    parser.add_argument("--json", help="also write the runs to this file")
    return parser.parse_args()


def interleaved_runs(llm: ZhikuLLM, bench: Any, prompt: str, args: argparse.Namespace) -> list[Run]:
    """--repeats runs of each kind, raw and wrapper alternating which goes first (printed)."""
    runs: list[Run] = []
    for i in range(args.repeats):
        order = ("raw", "wrapper") if i % 2 == 0 else ("wrapper", "raw")
        for kind in order:
            if not args.keep_cache:
                bench.fresh()
            run = (
                bench.raw(prompt, args.max_new_tokens)
                if kind == "raw"
                else run_wrapper(llm, prompt, args.max_new_tokens)
            )
            runs.append(run)
            print(
                f"  {i + 1}/{args.repeats} {kind:7s} ttft {run.ttft_s:6.2f} s  "
                f"decode {run.decode_tok_s:6.2f} tok/s  ({run.completion_tokens} tokens)",
                flush=True,
            )
    return runs


def print_summary(
    name: str, backend: str, prompt_tokens: int, runs: list[Run], repeats: int
) -> None:
    """Prints the medians of the raw and wrapper runs and their ratios as a table."""
    raw = [r for r in runs if r.kind == "raw"]
    wrapped = [r for r in runs if r.kind == "wrapper"]
    same_text = all(r.text == raw[0].text for r in runs)
    raw_ttft, wrap_ttft = median([r.ttft_s for r in raw]), median([r.ttft_s for r in wrapped])
    raw_tps = median([r.decode_tok_s for r in raw])
    wrap_tps = median([r.decode_tok_s for r in wrapped])
    print()
    print(
        "| model | backend | prompt tok | new tok | TTFT raw s | TTFT wrapper s | TTFT ratio "
        "| decode raw tok/s | decode wrapper tok/s | decode ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {name} | {backend} | {prompt_tokens} | {wrapped[0].completion_tokens} "
        f"| {raw_ttft:.2f} | {wrap_ttft:.2f} | {wrap_ttft / raw_ttft:.3f} "
        f"| {raw_tps:.2f} | {wrap_tps:.2f} | {wrap_tps / raw_tps:.3f} |"
    )
    print(
        f"\nmedians of {repeats} interleaved runs each; TTFT ratio = wrapper/raw (lower is "
        f"better), decode ratio = wrapper/raw (higher is better); same text in every run: "
        f"{same_text}"
    )


def main() -> None:
    args = parse_args()
    name, llm, (settings, bench) = load(args)
    prompt = rag_prompt(settings, bench.count_tokens, args.prompt_tokens)
    prompt_tokens = bench.count_tokens(prompt)
    print(f"# prompt: {prompt_tokens} tokens (chat template included); {args.repeats} runs each")

    # warm-up (page in the weights, allocate buffers), not measured
    bench.fresh()
    run_wrapper(llm, prompt, 4)

    runs = interleaved_runs(llm, bench, prompt, args)
    print_summary(name, llm.backend, prompt_tokens, runs, args.repeats)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"model": name, "prompt_tokens": prompt_tokens, "runs": [asdict(r) for r in runs]},
                ensure_ascii=False,
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
