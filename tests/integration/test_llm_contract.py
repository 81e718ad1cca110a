"""The LangChain LLM contract, on every backend, with REAL models (no hub downloads).

langchain-tests (1.1.9) has standard suites for chat models, embeddings, retrievers... but
none for plain (string-in, string-out) LLMs, so this module is that suite. Each test runs
on every backend:

- `gguf`: the shipped 0.5B GGUF ("fast") in this process;
- `transformers`: the same model converted once to a transformers folder;
- `openai`: a real `llama_cpp.server` serving the 0.5B GGUF on a free loopback port,
  started once for this module and stopped after it;
- `hf_pipeline`: `ZhikuHFPipeline` (langchain-huggingface) over the transformers model.

Greedy decoding (temperature 0) and few new tokens keep answers deterministic and quick;
models load once per module.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import (
    AsyncCallbackHandler,
    BaseCallbackHandler,
    FileCallbackHandler,
)
from langchain_core.language_models import BaseLLM
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import LLMResult
from langchain_core.prompts import PromptTemplate

from rag.errors import ModelUnavailableError
from rag.factory import llm_setup
from rag.llms import ContextWindowExceededError, ZhikuLLM, build_llm
from rag.llms.assets import gguf_to_transformers_folder, resolve_gguf_path
from rag.llms.repack import repack_enabled
from rag.settings import Settings, load_settings

pytest.importorskip("llama_cpp")
pytest.importorskip("transformers")

pytestmark = pytest.mark.slow

MAX_NEW_TOKENS = 12
COUNT = "Count from 1 to 10 in digits, separated by commas. Output only the numbers."
CAPITAL = "What is the capital of France? Answer with one word."
BACKEND_NAMES = ["gguf", "transformers", "openai", "hf_pipeline"]
CONVERTED_NAME = "qwen2.5-coder-0.5b-hf"


def fast_settings(**entry_updates: Any) -> Settings:
    """The shipped 0.5B entry ("fast"), greedy, with few new tokens."""
    settings = load_settings(llm_model="fast", llm_device="cpu")
    entry = settings.models.llm.model_copy(
        update={"max_new_tokens": MAX_NEW_TOKENS, "temperature": 0.0, **entry_updates}
    )
    return settings.updated(llm_model_dict={"fast": entry})


def entry_settings(name: str, entry: dict[str, Any]) -> Settings:
    base: dict[str, Any] = {"max_new_tokens": MAX_NEW_TOKENS, "temperature": 0.0}
    return load_settings(llm_model_dict={name: {**base, **entry}}, llm_model=name, llm_device="cpu")


# ---- the backends -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gguf_path() -> Path:
    settings = load_settings(llm_model="fast")
    return resolve_gguf_path(settings.models.llm, settings.models.cache_dir, name="fast")


@pytest.fixture(scope="module")
def hf_folder(gguf_path: Path) -> Path:
    """The shipped 0.5B model as a transformers folder (converted once per machine)."""
    settings = load_settings(llm_model="fast")
    return gguf_to_transformers_folder(
        gguf_path, settings.models.cache_dir / "models" / CONVERTED_NAME
    )


@pytest.fixture(scope="module")
def gguf_llm() -> ZhikuLLM:
    llm = build_llm(llm_setup(fast_settings()))
    assert isinstance(llm, ZhikuLLM)
    return llm.load()


@pytest.fixture(scope="module")
def transformers_llm(hf_folder: Path) -> ZhikuLLM:
    llm = build_llm(
        llm_setup(
            entry_settings(
                "qwen-0.5b-hf", {"backend": "transformers", "local_model_path": str(hf_folder)}
            )
        )
    )
    assert isinstance(llm, ZhikuLLM)
    return llm.load()


@pytest.fixture(scope="module")
def hf_pipeline_llm(transformers_llm: Any, hf_folder: Path) -> BaseLLM:
    """The pipeline route over the already loaded transformers model (one copy in memory)."""
    from transformers import pipeline

    from rag.llms.hf_pipeline import ZhikuHFPipeline

    return ZhikuHFPipeline(
        pipeline=pipeline(
            "text-generation", model=transformers_llm._model, tokenizer=transformers_llm._tokenizer
        ),
        model_id=str(hf_folder),
        model="qwen-0.5b-hf-pipeline",
        batch_size=1,
        system_prompt=transformers_llm.system_prompt,
        generation={
            "max_new_tokens": MAX_NEW_TOKENS,
            "temperature": 0.0,
            "top_p": transformers_llm.top_p,
            "repetition_penalty": transformers_llm.repetition_penalty,
        },
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVER_WITH_REPACK_CHOICE = """
import runpy, sys
from rag.llms.repack import llama_params
repack = sys.argv.pop(1) == "True"
sys.argv[0] = "llama_cpp.server"
with llama_params(use_extra_bufts=repack):
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


class LlamaServer:
    """`python -m llama_cpp.server` on a free loopback port, as a child process."""

    def __init__(self, model: Path, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        # The server builds its own `Llama`: it gets the weight-repacking choice the app
        # makes on this machine (repacking crashes llama.cpp on some CPUs).
        settings = load_settings()
        mode = settings.models.llm_model_dict["fast"].weight_repack
        repack = repack_enabled(mode, model, settings.models.cache_dir)
        command = [
            sys.executable,
            "-c",
            SERVER_WITH_REPACK_CHOICE,
            str(repack),
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            "2048",
            "--n_threads",
            str(os.cpu_count() or 2),
        ]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"llama_cpp.server not ready in {timeout_s} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture(scope="module")
def llama_server(
    gguf_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    pytest.importorskip("sse_starlette", reason="needs llama-cpp-python[server]")
    pytest.importorskip("starlette_context", reason="needs llama-cpp-python[server]")
    server = LlamaServer(gguf_path, tmp_path_factory.mktemp("llama-server") / "server.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def openai_entry(server: LlamaServer, **extra: Any) -> dict[str, Any]:
    return {"backend": "openai", "api_base_url": server.base_url, "timeout_s": 120, **extra}


@pytest.fixture(scope="module")
def openai_llm(llama_server: LlamaServer) -> ZhikuLLM:
    llm = build_llm(llm_setup(entry_settings("llama-cpp-server", openai_entry(llama_server))))
    assert isinstance(llm, ZhikuLLM)
    return llm.load()


@pytest.fixture(params=BACKEND_NAMES)
def llm(request: pytest.FixtureRequest) -> BaseLLM:
    return request.getfixturevalue(f"{request.param}_llm")  # type: ignore[no-any-return]


_references: dict[tuple[int, str], str] = {}


def reference(llm: BaseLLM, prompt: str) -> str:
    """`llm.invoke(prompt)`, once per backend and prompt (greedy: always the same)."""
    key = (id(llm), prompt)
    if key not in _references:
        _references[key] = llm.invoke(prompt)
    return _references[key]


class Recorder(BaseCallbackHandler):
    """Callback events in order; the test appends its own "yield" events in between."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kwargs: Any) -> None:
        self.events.append(("start", prompts[0]))

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.events.append(("token", token))

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.events.append(("end", response.generations[0][0].text))


class AsyncRecorder(AsyncCallbackHandler):
    def __init__(self, events: list[tuple[str, str]]) -> None:
        self.events = events

    async def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.events.append(("token", token))

    async def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.events.append(("end", response.generations[0][0].text))


def assert_token_then_yield(events: list[tuple[str, str]]) -> list[str]:
    """Each yielded chunk was announced by `on_llm_new_token` just before; the chunks."""
    body = [event for event in events if event[0] in ("token", "yield")]
    assert body, events
    for i in range(0, len(body), 2):
        assert body[i][0] == "token", body
        assert body[i + 1] == ("yield", body[i][1]), body
    return [text for kind, text in body if kind == "yield"]


# ---- the contract -------------------------------------------------------------------------


def test_invoke(llm: BaseLLM) -> None:
    answer = llm.invoke(CAPITAL)
    assert isinstance(answer, str)
    assert "paris" in answer.lower()


async def test_ainvoke_equals_invoke(llm: BaseLLM) -> None:
    assert await llm.ainvoke(COUNT) == reference(llm, COUNT)


def test_batch(llm: BaseLLM) -> None:
    assert llm.batch([COUNT, CAPITAL]) == [reference(llm, COUNT), reference(llm, CAPITAL)]


async def test_abatch(llm: BaseLLM) -> None:
    assert await llm.abatch([COUNT, CAPITAL]) == [reference(llm, COUNT), reference(llm, CAPITAL)]


def test_stream_announces_each_token_before_yielding_it(llm: BaseLLM) -> None:
    recorder = Recorder()
    for chunk in llm.stream(COUNT, config={"callbacks": [recorder]}):
        recorder.events.append(("yield", chunk))
    assert recorder.events[0] == ("start", COUNT)
    chunks = assert_token_then_yield(recorder.events)
    assert len([c for c in chunks if c]) >= 3  # really streamed, not one piece
    assert "".join(chunks) == reference(llm, COUNT)
    assert recorder.events[-1] == ("end", reference(llm, COUNT))


async def test_astream_announces_each_token_before_yielding_it(llm: BaseLLM) -> None:
    events: list[tuple[str, str]] = []
    async for chunk in llm.astream(COUNT, config={"callbacks": [AsyncRecorder(events)]}):
        events.append(("yield", chunk))
    chunks = assert_token_then_yield(events)
    assert len([c for c in chunks if c]) >= 3
    assert "".join(chunks) == reference(llm, COUNT)
    assert events[-1] == ("end", reference(llm, COUNT))


async def test_astream_events_v2(llm: BaseLLM) -> None:
    events = [event async for event in llm.astream_events(COUNT, version="v2")]
    kinds = [event["event"] for event in events]
    assert kinds[0] == "on_llm_start"
    assert kinds[-1] == "on_llm_end"
    assert kinds.count("on_llm_stream") >= 3
    chunks = [e["data"]["chunk"] for e in events if e["event"] == "on_llm_stream"]
    streamed = "".join(c if isinstance(c, str) else c.text for c in chunks)
    assert streamed == reference(llm, COUNT)
    output = events[-1]["data"]["output"]
    assert output["generations"][0][0]["text"] == reference(llm, COUNT)


async def test_chain_prompt_llm_parser(llm: BaseLLM, tmp_path: Path) -> None:
    chain = PromptTemplate.from_template("{question}") | llm | StrOutputParser()
    log = tmp_path / "chain.log"
    with FileCallbackHandler(str(log)) as handler:
        assert chain.invoke({"question": COUNT}, config={"callbacks": [handler]}) == reference(
            llm, COUNT
        )
    text = log.read_text()
    assert "Entering new RunnableSequence chain" in text
    assert "Finished chain" in text
    assert "".join(chain.stream({"question": COUNT})) == reference(llm, COUNT)


def split_stop(llm: BaseLLM) -> tuple[str, str]:
    """A 3-character stop string that the streamed answer splits over two chunks, and the
    answer cut at its first occurrence."""
    chunks = [c for c in llm.stream(COUNT) if c]
    full = "".join(chunks)
    offset = 0
    for chunk in chunks[:-1]:
        offset += len(chunk)
        stop = full[offset - 1 : offset + 2]
        if (
            offset >= 3
            and len(stop) == 3
            and stop.strip() == stop
            and full.find(stop) == offset - 1
            and not any(stop in c for c in chunks)
        ):
            return stop, full[: offset - 1]
    pytest.fail(f"no stop string spans two chunks in {chunks}")


async def test_stop_split_over_tokens_is_cut_everywhere(llm: BaseLLM) -> None:
    stop, expected = split_stop(llm)
    assert llm.invoke(COUNT, stop=[stop]) == expected
    streamed = list(llm.stream(COUNT, stop=[stop]))
    assert "".join(streamed) == expected
    assert not any(stop in chunk for chunk in streamed)
    # several stop strings: the earliest wins, wherever it is in the list
    stops = ["never seen", stop, "neither"]
    assert "".join([c async for c in llm.astream(COUNT, stop=stops)]) == expected


def test_identifying_params_name_backend_model_and_settings(llm: BaseLLM) -> None:
    params = llm._identifying_params
    assert params["backend"] in BACKEND_NAMES
    assert params["model"]
    assert params["max_new_tokens"] == MAX_NEW_TOKENS
    assert params["temperature"] == 0.0
    assert {"top_p", "repetition_penalty"} <= set(params)


@pytest.fixture(scope="module")
def count_prompt_tokens(gguf_llm: ZhikuLLM) -> int:
    """Tokens of COUNT in the model's chat template: the GGUF's own template, rendered here
    and tokenized by llama.cpp (no generation)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    llama: Any = gguf_llm._llama  # type: ignore[attr-defined]
    template = llama.metadata["tokenizer.chat_template"]
    text = (
        ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        .from_string(template)
        .render(messages=gguf_llm.messages_for(COUNT), add_generation_prompt=True)
    )
    assert text.startswith(f"<|im_start|>system\n{gguf_llm.system_prompt}<|im_end|>\n")
    assert text.endswith(f"<|im_start|>user\n{COUNT}<|im_end|>\n<|im_start|>assistant\n")
    return len(llama.tokenize(text.encode(), add_bos=False, special=True))


def test_token_usage(llm: BaseLLM, count_prompt_tokens: int) -> None:
    """Usage where the backend gives it; the prompt is the chat template's, on every engine."""
    if llm._identifying_params["backend"] == "hf_pipeline":
        pytest.skip("HuggingFacePipeline reports no token usage")
    generation = llm.generate([COUNT]).generations[0][0]
    assert generation.text == reference(llm, COUNT)
    info = generation.generation_info
    assert info is not None
    usage = info["usage"]
    assert usage["prompt_tokens"] == count_prompt_tokens
    assert 1 <= usage["completion_tokens"] <= MAX_NEW_TOKENS
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert info["finish_reason"] in {"stop", "length"}


# ---- backend specifics --------------------------------------------------------------------


def test_openai_streaming_invoke_and_local_stop_cut(llama_server: LlamaServer) -> None:
    llm = build_llm(llm_setup(entry_settings("srv", openai_entry(llama_server))))
    assert isinstance(llm, ZhikuLLM)
    streaming = llm.model_copy(update={"streaming": True})
    recorder = Recorder()
    answer = streaming.invoke(COUNT, config={"callbacks": [recorder]})
    assert answer == llm.invoke(COUNT)
    tokens = [text for kind, text in recorder.events if kind == "token" and text]
    assert len(tokens) >= 3  # the callbacks saw the answer arrive piece by piece
    # more stop strings than the OpenAI API takes: the fifth is cut here
    stop, expected = split_stop(llm)
    stops = ["zz1", "zz2", "zz3", "zz4", stop]
    assert llm.invoke(COUNT, stop=stops) == expected
    assert "".join(llm.stream(COUNT, stop=stops)) == expected


def test_openai_context_overflow(llama_server: LlamaServer) -> None:
    llm = build_llm(llm_setup(entry_settings("srv", openai_entry(llama_server))))
    with pytest.raises(ContextWindowExceededError, match="context window of LLM 'srv'"):
        llm.invoke("word " * 3000)


def test_openai_model_name_and_extra_body_reach_the_server(llama_server: LlamaServer) -> None:
    llm = build_llm(
        llm_setup(
            entry_settings(
                "srv",
                openai_entry(llama_server, model="my-model", extra_body={"repeat_penalty": 1.0}),
            )
        )
    )
    answer = llm.generate([CAPITAL]).generations[0][0]
    assert "paris" in answer.text.lower()


def test_hf_pipeline_from_config_in_a_chain(hf_folder: Path) -> None:
    """The documented alternative, built from an LLM_MODEL_DICT entry."""
    from langchain_huggingface import HuggingFacePipeline

    llm = build_llm(
        llm_setup(
            entry_settings("pipe", {"backend": "hf_pipeline", "local_model_path": str(hf_folder)})
        )
    ).load()
    assert isinstance(llm, HuggingFacePipeline)
    chain = PromptTemplate.from_template("{question}") | llm | StrOutputParser()
    assert "paris" in chain.invoke({"question": CAPITAL}).lower()
    del llm, chain


async def test_openai_server_down_last(llama_server: LlamaServer, openai_llm: ZhikuLLM) -> None:
    """Runs last in this module: stops the server, then every call is one clear error."""
    assert openai_llm.invoke(CAPITAL)
    llama_server.stop()
    pattern = re.escape(f"cannot reach the LLM server at {llama_server.base_url}")
    with pytest.raises(ModelUnavailableError, match=pattern + r".*is it running\?"):
        openai_llm.invoke(CAPITAL)
    with pytest.raises(ModelUnavailableError, match=pattern):
        list(openai_llm.stream(CAPITAL))
    with pytest.raises(ModelUnavailableError, match="LLM_MODEL=llama-cpp-server"):
        openai_llm.load()
    with pytest.raises(ModelUnavailableError, match=pattern):
        await openai_llm.ainvoke(CAPITAL)
    with pytest.raises(ModelUnavailableError, match=pattern):
        [chunk async for chunk in openai_llm.astream(CAPITAL)]
