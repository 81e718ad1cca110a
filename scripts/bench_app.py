"""App-level figures: cold start of `python app.py` to the first answer, idle RSS with the
default models, and RSS after ingesting a corpus (default: the dev set).

    python scripts/bench_app.py [--corpus ../shared/devset/corpus/zh_tw] [--llm qwen2.5-coder-1.5b]

Prints a table and writes JSON (--out). Starts its own app on a free loopback port.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import start_app  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "devset" / "corpus" / "zh_tw"


def rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    total = process.memory_info().rss
    total += sum(child.memory_info().rss for child in process.children(recursive=True))
    return total / 1024 / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--llm", default="qwen2.5-coder-1.5b")
    parser.add_argument("--out", type=Path, default=Path("bench_app.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        app = start_app(Path(tmp) / "kbs", Path(tmp) / "app.log", args.llm)
        try:
            ready_s = time.monotonic() - started
            client = httpx.Client(base_url=app.base_url, timeout=600)
            reply = client.post(
                "/api/chat", json={"kb": None, "query": "你好，请用一句话介绍你自己。"}
            )
            reply.raise_for_status()
            first_answer_s = time.monotonic() - started
            time.sleep(3)
            idle_mb = rss_mb(app.process.pid)
            client.post("/api/kbs", json={"name": "bench"})
            files = sorted(p for p in args.corpus.iterdir() if p.is_file())
            ingest_started = time.monotonic()
            for start in range(0, len(files), 10):
                batch = [("files", (p.name, p.read_bytes())) for p in files[start : start + 10]]
                client.post("/api/kbs/bench/docs", files=batch).raise_for_status()
            ingest_s = time.monotonic() - ingest_started
            after_mb = rss_mb(app.process.pid)
        finally:
            app.stop()
    report = {
        "llm": args.llm,
        "start_to_ready_s": round(ready_s, 1),
        "start_to_first_answer_s": round(first_answer_s, 1),
        "idle_rss_mb": round(idle_mb),
        "ingest_files": len(files),
        "ingest_s": round(ingest_s, 1),
        "rss_after_ingest_mb": round(after_mb),
    }
    for key, value in report.items():
        print(f"{key:>24}: {value}")
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
