"""The real app, started as `python app.py` on a free loopback port, driven over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningApp:
    base_url: str
    process: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_app(
    kb_root: Path,
    log_path: Path,
    llm_model: str = "fast",
    env: Mapping[str, str] | None = None,
) -> RunningApp:
    """`python app.py` on a free port; `env` adds variables (ZHIKU_* settings) to ours."""
    port = free_port()
    child_env = {**os.environ, "ZHIKU_LLM_MODEL": llm_model, "PYTHONUNBUFFERED": "1", **(env or {})}
    log = open(log_path, "ab")  # noqa: SIM115 - the child process writes to it
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--kb-root", str(kb_root)],
        cwd=ROOT,
        env=child_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    app = RunningApp(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited early:\n{log_path.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(app.base_url + "/api/kbs", timeout=2).status_code == 200:
                return app
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    app.stop()
    raise RuntimeError(f"app did not start in {START_TIMEOUT_S}s")


@pytest.fixture(scope="module")
def app_factory(tmp_path_factory) -> Iterator:
    """Start (and restart) apps over one kb-root; all are stopped at the end."""
    started: list[RunningApp] = []
    kb_root = tmp_path_factory.mktemp("kb-root")
    log_dir = tmp_path_factory.mktemp("logs")

    def start(llm_model: str = "fast") -> RunningApp:
        app = start_app(kb_root, log_dir / "app.log", llm_model)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()
