"""How long a token takes from the model to the client: REST (SSE) and the Gradio UI's stream.

    .venv/bin/python scripts/bench_streaming.py [--llm fast] [--questions 5]

The app is built in this process by `rag.factory.build_services` (real LLM, real
embeddings, a small KB; the chain by `build_qa_chain` from the settings, with the answer
processors the options pick) and served by uvicorn on a free loopback port; clients in the
same process read the stream. One clock for all: every character of the answer gets the
time the LLM produced it (a LangChain callback on the LLM: every streamed piece is
announced to it), the time the chain handed it on (read from `Services.chat`, the stream
both routes serve, after the answer processors: the
answer-script conversion holds back up to 3 characters; for a model reading Traditional
sources in Simplified, the restoring of copied stretches up to 2 more; a number waits for
the character after it, to be written as the sources write it; a citation's open bracket
waits for its end, and what may begin a "not found" reply until it cannot), and the time
the client received it. Prints p50/p95/max of each delay per character and writes JSON (--out). The
goal: ≤ 0.3 s model → client.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from langchain_core.callbacks import BaseCallbackHandler

from rag.chains import ChatEvent
from rag.factory import build_services, create_app, llm_setup, offline_environment
from rag.llms import build_llm
from rag.services import Services
from rag.settings import Settings, load_settings

DOCS = {
    "company.md": "# 青松公司\n\n青松公司成立於1991年，總部位於成都，主要生產茶葉與茶具。"
    "公司在2005年開設第一家海外門市，位於新加坡。",
    "bridge.md": "# Marlow Bridge\n\nThe Marlow Bridge was completed in 1874 and spans the "
    "Thames. It was restored in 1996 after heavy lorries were banned from it.",
}
QUESTIONS = [
    "青松公司成立於哪一年？請詳細說明公司的歷史。",
    "When was the Marlow Bridge completed, and what happened to it later?",
    "青松公司的總部在哪裡？",
    "What river does the Marlow Bridge span?",
    "青松公司的第一家海外門市在哪裡？",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CharClock:
    """Times at which each character of one answer passed a point, in order."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def mark(self, text: str) -> None:
        now = time.monotonic()
        self.times.extend([now] * len(text))


class ProducedClock(BaseCallbackHandler):
    """The LLM's callback: marks each streamed piece of the current answer (every stage's
    model output is announced here)."""

    def __init__(self) -> None:
        self.clock = CharClock()

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.clock.mark(str(token))


class ClockedServices(Services):
    """The app's services; the chat stream's tokens (what both routes serve, after the
    answer processors) are marked on `handed_on` as they leave."""

    handed_on: CharClock

    @classmethod
    def of(cls, services: Services) -> ClockedServices:
        clocked = cls(**{f.name: getattr(services, f.name) for f in fields(services)})
        clocked.handed_on = CharClock()
        return clocked

    def chat(
        self, question: str, kb: str | None, history: Sequence[tuple[str, str]] = ()
    ) -> Iterator[ChatEvent]:
        for event in super().chat(question, kb, history):
            if event.kind == "token":
                self.handed_on.mark(event.text)
            yield event


def build_clocked(settings: Settings, kb_root: Path) -> tuple[ClockedServices, ProducedClock]:
    """The app's services over an LLM that announces its pieces to a `ProducedClock`."""
    offline_environment()
    produced = ProducedClock()
    llm = build_llm(llm_setup(settings))
    llm.callbacks = [produced]  # a fresh model, before any chain holds it
    services = build_services(settings, kb_root=kb_root, llm=llm.load())
    return ClockedServices.of(services), produced


def rest_answer(base: str, kb: str, question: str) -> CharClock:
    received = CharClock()
    body = {"kb": kb, "query": question, "stream": True}
    with httpx.stream("POST", f"{base}/api/chat", json=body, timeout=300) as response:
        response.raise_for_status()
        event = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "token":
                received.mark(json.loads(line[5:])["text"])
    return received


def gradio_answer(base: str, kb: str, question: str) -> CharClock:
    """The UI's own stream (the respond handler), read with gradio_client as the browser
    reads it: each update carries the answer so far. Plain chat: the UI's KB list is filled
    when a browser loads the page, so the client cannot pick the KB; the stream's path from
    the chain to the client is the same."""
    from gradio_client import Client

    from rag.ui import PLAIN_CHAT
    from rag.ui.render import plain_answer

    received = CharClock()
    client = Client(base + "/", verbose=False)
    shown = 0
    session = secrets.token_urlsafe(24)  # as a page gets on load; no conversation open yet
    job = client.submit(question, [], PLAIN_CHAT, session, None, api_name="/respond")
    for messages, *_ in job:  # the chatbot, the question box, the model line
        # the last update carries the model line only (the chatbot: a "skip" update dict)
        if not isinstance(messages, list) or not messages or messages[-1]["role"] != "assistant":
            continue
        content = messages[-1]["content"]  # Gradio 6: a list of {"type": "text", "text"} parts
        if isinstance(content, list):
            content = "".join(str(part.get("text", "")) for part in content)
        text = plain_answer(str(content))  # without the sources block under it
        if text != "…" and len(text) > shown:
            received.mark(text[shown:])
            shown = len(text)
    return received


def delays(later: CharClock, earlier: CharClock) -> list[float]:
    n = min(len(later.times), len(earlier.times))
    return [later.times[i] - earlier.times[i] for i in range(n)]


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(1000 * ordered[-1], 1),
        "chars": len(ordered),
    }


def configured(args: argparse.Namespace) -> Settings:
    """The settings with --llm, and the answer processors --read-chinese-as and
    --numbers-as-generated ask for (LLM_MODEL_DICT's entry overridden)."""
    settings = load_settings(llm_model=args.llm)
    names = list(settings.answer_processors)
    if args.read_chinese_as == "written" and "simplified_reading" in names:
        names.remove("simplified_reading")
    elif args.read_chinese_as == "simplified" and "simplified_reading" not in names:
        names.insert(names.index("question_script"), "simplified_reading")
    if args.numbers_as_generated and "source_numbers" in names:
        names.remove("source_numbers")
    entry = settings.models.llm.model_copy(update={"answer_processors": tuple(names)})
    models = {**settings.models.llm_model_dict, args.llm: entry}
    return load_settings(llm_model=args.llm, llm_model_dict=models)


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", default="fast")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--out", type=Path, default=Path("bench_streaming.json"))
    parser.add_argument(
        "--read-chinese-as",
        choices=("written", "simplified"),
        help="the model reads Chinese as written or in Simplified (the simplified_reading "
        "answer processor taken out or put in: a baseline for its hold-back)",
    )
    parser.add_argument(
        "--numbers-as-generated",
        action="store_true",
        help="leave the answer's numbers as the model writes them (the source_numbers answer "
        "processor taken out: a baseline for its hold-back)",
    )
    return parser.parse_args()


def add_stream_kb(services: Services, kb_root: Path) -> None:
    """Creates the "stream" knowledge base with `DOCS` in it."""
    services.kb.create_kb("stream")
    docs = kb_root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    services.kb.add_files("stream", [(p.name, p) for p in sorted(docs.iterdir())])


def serve(services: Services) -> tuple[uvicorn.Server, str]:
    """The app served by uvicorn on a free loopback port (started), and its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.1)
    return server, base


def route_delays(
    base: str, services: ClockedServices, produced: ProducedClock, questions: Sequence[str]
) -> dict[str, dict[str, list[float]]]:
    """Per route, the delays (s) per character: conversion, transport and total."""
    results: dict[str, dict[str, list[float]]] = {}
    for route, read in (("rest_sse", rest_answer), ("gradio_ui", gradio_answer)):
        delays_of: dict[str, list[float]] = {"conversion": [], "transport": [], "total": []}
        for question in questions:
            produced.clock, services.handed_on = CharClock(), CharClock()
            received = read(base, "stream", question)
            delays_of["conversion"] += delays(services.handed_on, produced.clock)
            delays_of["transport"] += delays(received, services.handed_on)
            delays_of["total"] += delays(received, produced.clock)
        results[route] = delays_of
    return results


def print_report(
    results: dict[str, dict[str, list[float]]],
) -> dict[str, dict[str, dict[str, float]]]:
    """The summary of each route's delays, printed as a table."""
    print("| route | delay | p50 ms | p95 ms | max ms | chars |")
    print("|---|---|---|---|---|---|")
    report: dict[str, dict[str, dict[str, float]]] = {}
    for route, delays_of in results.items():
        report[route] = {}
        for name, values in delays_of.items():
            if not values:
                continue
            row = summary(values)
            report[route][name] = row
            print(
                f"| {route} | {name} | {row['p50_ms']} | {row['p95_ms']} | {row['max_ms']} | "
                f"{row['chars']} |"
            )
    return report


def main() -> int:
    args = parse_args()
    kb_root = Path(tempfile.mkdtemp(prefix="zhiku-bench-stream-"))
    services, produced = build_clocked(configured(args), kb_root)
    add_stream_kb(services, kb_root)
    server, base = serve(services)
    results = route_delays(base, services, produced, QUESTIONS[: args.questions])
    server.should_exit = True
    report = print_report(results)
    args.out.write_text(json.dumps({"llm": args.llm, **report}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
