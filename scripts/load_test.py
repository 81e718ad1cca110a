"""Concurrency check: chat clients (streaming and not), uploaders and searchers against one app.

    python scripts/load_test.py                       # starts the app itself (fast LLM)
    python scripts/load_test.py --base-url http://127.0.0.1:7860 --clients 20 --duration 120

Bounded in count and time, loopback only. Prints p50/p95 latencies, throughput and errors,
writes JSON (--out). Exit code 1 on any error or wrong-KB answer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACTS = {
    "load_a": ("青松公司成立于1991年，总部位于成都。", "青松公司成立于哪一年？", "青松"),
    "load_b": ("The Marlow Bridge was completed in 1874 and spans the Thames.",
               "When was the Marlow Bridge completed?", "Marlow"),
}  # fmt: skip


@dataclass
class Stats:
    chat_s: list[float] = field(default_factory=list)
    first_token_s: list[float] = field(default_factory=list)
    search_s: list[float] = field(default_factory=list)
    upload_s: list[float] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, value: float) -> None:
        with self.lock:
            getattr(self, name).append(value)


def chat_client(base: str, kb: str, stream: bool, stop_at: float, stats: Stats) -> None:
    question, needle = FACTS[kb][1], FACTS[kb][2]
    with httpx.Client(base_url=base, timeout=600) as client:
        while time.monotonic() < stop_at:
            started = time.monotonic()
            try:
                sources = _chat(client, kb, question, stream, started, stats)
            except Exception as exc:  # every failure is counted, not raised
                stats.add("errors", f"chat {kb}: {exc!r}")
                continue
            stats.add("chat_s", time.monotonic() - started)
            if not sources or needle not in sources[0]["text"]:
                stats.add("errors", f"chat {kb}: answer not from its KB: {sources[:1]}")


def _chat(client: httpx.Client, kb: str, q: str, stream: bool, t0: float, stats: Stats) -> list:
    body = {"kb": kb, "query": q, "stream": stream}
    if not stream:
        reply = client.post("/api/chat", json=body)
        reply.raise_for_status()
        data = reply.json()
        if not data["answer"].strip():
            raise ValueError("empty answer")
        return data["sources"]
    sources, event, got_token, done = [], None, False, False
    with client.stream("POST", "/api/chat", json=body) as reply:
        reply.raise_for_status()
        for line in reply.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "token" and not got_token:
                    got_token = True
                    stats.add("first_token_s", time.monotonic() - t0)
                elif event == "sources":
                    sources = data["sources"]
                elif event == "error":
                    raise ValueError(data["error"])
                elif event == "done":
                    done = True
    if not (got_token and done):
        raise ValueError("stream ended early")
    return sources


def uploader(base: str, n: int, stop_at: float, stats: Stats) -> None:
    with httpx.Client(base_url=base, timeout=600) as client:
        i = 0
        while time.monotonic() < stop_at:
            name = f"upload_{n}_{i}.txt"
            text = f"上传者{n}的第{i}份文件：编号{n}-{i}的记录内容。" * 5
            started = time.monotonic()
            reply = client.post("/api/kbs/load_a/docs", files=[("files", (name, text.encode()))])
            if reply.status_code != 200 or reply.json()["files"][0]["status"] != "ok":
                stats.add("errors", f"upload {name}: {reply.status_code} {reply.text[:200]}")
            else:
                stats.add("upload_s", time.monotonic() - started)
                stats.add("uploaded", name)
            i += 1
            time.sleep(1)


def searcher(base: str, stop_at: float, stats: Stats) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        while time.monotonic() < stop_at:
            started = time.monotonic()
            reply = client.post("/api/kbs/load_b/search", json={"query": "Marlow Bridge"})
            if reply.status_code != 200:
                stats.add("errors", f"search: {reply.status_code}")
            stats.add("search_s", time.monotonic() - started)
            time.sleep(0.2)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def prepare(base: str) -> None:
    with httpx.Client(base_url=base, timeout=300) as client:
        for kb, (fact, _, _) in FACTS.items():
            client.post("/api/kbs", json={"name": kb})
            files = [("files", (f"{kb}.txt", fact.encode()))]
            client.post(f"/api/kbs/{kb}/docs", files=files).raise_for_status()


def run(base: str, clients: int, uploaders: int, duration: float) -> dict[str, object]:
    prepare(base)
    stats = Stats()
    stop_at = time.monotonic() + duration
    threads = [
        threading.Thread(
            target=chat_client, args=(base, list(FACTS)[i % 2], i % 2 == 0, stop_at, stats)
        )
        for i in range(clients)
    ]
    threads += [
        threading.Thread(target=uploader, args=(base, n, stop_at, stats)) for n in range(uploaders)
    ]
    threads.append(threading.Thread(target=searcher, args=(base, stop_at, stats)))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    with httpx.Client(base_url=base, timeout=60) as client:
        listed = {d["name"] for d in client.get("/api/kbs/load_a/docs").json()["docs"]}
    missing = [name for name in stats.uploaded if name not in listed]
    stats.errors.extend(f"upload {name} not listed" for name in missing)
    return {
        "clients": clients,
        "uploaders": uploaders,
        "duration_s": round(elapsed, 1),
        "answers": len(stats.chat_s),
        "answers_per_min": round(len(stats.chat_s) / elapsed * 60, 2),
        "chat_p50_s": round(percentile(stats.chat_s, 0.5), 2),
        "chat_p95_s": round(percentile(stats.chat_s, 0.95), 2),
        "first_token_p50_s": round(percentile(stats.first_token_s, 0.5), 2),
        "search_p50_ms": round(percentile(stats.search_s, 0.5) * 1000, 1),
        "search_p95_ms": round(percentile(stats.search_s, 0.95) * 1000, 1),
        "uploads": len(stats.uploaded),
        "upload_p50_s": round(statistics.median(stats.upload_s), 2) if stats.upload_s else None,
        "errors": stats.errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", help="a running app; default: start one (LLM 'fast')")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--uploaders", type=int, default=2)
    parser.add_argument("--duration", type=float, default=120, help="seconds (max 600)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    duration = min(args.duration, 600)
    if args.base_url:
        report = run(args.base_url, args.clients, args.uploaders, duration)
    else:
        from tests.e2e.conftest import start_app

        with tempfile.TemporaryDirectory() as tmp:
            app = start_app(Path(tmp) / "kbs", Path(tmp) / "app.log")
            try:
                report = run(app.base_url, args.clients, args.uploaders, duration)
            finally:
                app.stop()
    for key, value in report.items():
        if key != "errors":
            print(f"{key:>18}: {value}")
    print(f"{'errors':>18}: {len(report['errors'])}")  # type: ignore[arg-type]
    for error in report["errors"][:20]:  # type: ignore[index]
        print("   ", error)
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
