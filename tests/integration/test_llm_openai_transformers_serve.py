"""The openai backend against `transformers serve` (a second real OpenAI-compatible server).

The full contract runs against llama_cpp.server in test_llm_contract.py; this checks the
same client against transformers' own server, which streams token usage and validates
request fields strictly. Needs `transformers[serving]` (the `openai` package); skipped
without it. The server preloads the shipped 0.5B model's transformers folder, on a free
loopback port, and is stopped after the module.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.errors import ModelUnavailableError
from rag.factory import llm_setup
from rag.llms import ZhikuLLM, build_llm
from rag.llms.assets import gguf_to_transformers_folder, resolve_gguf_path
from rag.settings import load_settings

pytest.importorskip("openai", reason="needs transformers[serving]")
pytest.importorskip("fastapi")

pytestmark = pytest.mark.slow

COUNT = "Count from 1 to 10 in digits, separated by commas. Output only the numbers."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def folder() -> Path:
    settings = load_settings(llm_model="fast")
    gguf = resolve_gguf_path(settings.models.llm, settings.models.cache_dir, name="fast")
    return gguf_to_transformers_folder(
        gguf, settings.models.cache_dir / "models" / "qwen2.5-coder-0.5b-hf"
    )


@pytest.fixture(scope="module")
def server_url(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("transformers-serve")
    (work / "hub").mkdir()
    port = free_port()
    cli = shutil.which("transformers", path=str(Path(sys.executable).parent))
    command = [cli] if cli else [sys.executable, "-m", "transformers.cli.transformers"]
    command += ["serve", "--device", "cpu", "--host", "127.0.0.1", "--port", str(port)]
    command.append(str(folder))
    env = {**os.environ, "HF_HUB_CACHE": str(work / "hub"), "HF_HUB_OFFLINE": "1"}
    log = work / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve not ready: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def make(url: str, folder: Path, **entry: Any) -> ZhikuLLM:
    settings = load_settings(
        llm_model_dict={
            "ts": {
                "backend": "openai",
                "api_base_url": url,
                "model": str(folder),  # the server is pinned to it
                "max_new_tokens": 10,
                "temperature": 0.0,
                "timeout_s": 120,
                **entry,
            }
        },
        llm_model="ts",
    )
    llm = build_llm(llm_setup(settings))
    assert isinstance(llm, ZhikuLLM)
    return llm.load()


async def test_invoke_stream_astream_stop_and_usage(server_url: str, folder: Path) -> None:
    llm = make(server_url, folder)
    full = llm.invoke(COUNT)
    assert full.startswith("1")
    chunks = list(llm.stream(COUNT))
    assert "".join(chunks) == full
    assert len([c for c in chunks if c]) >= 3
    assert "".join([c async for c in llm.astream(COUNT)]) == full
    assert await llm.ainvoke(COUNT) == full
    # transformers serve sends token usage with the last streamed event too
    streamed = llm.model_copy(update={"streaming": True}).generate([COUNT])
    info = streamed.generations[0][0].generation_info
    assert info is not None
    assert info["usage"]["prompt_tokens"] > 20
    assert 1 <= info["usage"]["completion_tokens"] <= 10
    stop = full[2:5] if len(full) >= 5 else full[-1]
    assert llm.invoke(COUNT, stop=[stop]) == full[: full.index(stop)]


def test_a_field_the_server_refuses_is_quoted(server_url: str, folder: Path) -> None:
    llm = make(server_url, folder, extra_body={"repetition_penalty": 1.05})
    with pytest.raises(ModelUnavailableError, match=r"answered 422.*repetition_penalty"):
        llm.invoke(COUNT)


def test_the_wrong_model_name_is_quoted(server_url: str, folder: Path) -> None:
    llm = make(server_url, folder, model="other-model")
    with pytest.raises(ModelUnavailableError, match=r"answered 400.*pinned.*other-model"):
        llm.invoke(COUNT)
