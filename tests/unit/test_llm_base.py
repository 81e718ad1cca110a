"""ZhikuLLM with an in-test fake backend: the LangChain contract without a model."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any, ClassVar, cast

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import GenerationChunk, LLMResult
from langchain_core.prompts import PromptTemplate
from pydantic import Field, PrivateAttr

from rag.llms import ZhikuLLM
from rag.llms.base import GenerationSettings, Message


class FakeLLM(ZhikuLLM):
    """Answers with `pieces` (or echoes the user message), recording what it was asked."""

    backend: ClassVar[str] = "fake"

    pieces: list[str] = Field(default_factory=lambda: ["Hello", ", ", "wor", "ld", "!"])
    delay: float = 0.0

    _loads: int = PrivateAttr(default=0)
    _calls: list[tuple[list[Message], GenerationSettings]] = PrivateAttr(default_factory=list)
    _closed: int = PrivateAttr(default=0)
    _active: int = PrivateAttr(default=0)
    _max_active: int = PrivateAttr(default=0)

    def _load(self) -> None:
        if self._loads == 0:
            self._loads = 1

    def _stream_text(
        self,
        messages: list[Message],
        stop: list[str] | None,
        gen: GenerationSettings,
        info: dict[str, Any],
    ) -> Iterator[str]:
        self._calls.append((messages, gen))
        self._active += 1
        self._max_active = max(self._max_active, self._active)
        produced = 0
        try:
            for piece in self.pieces[: gen.max_new_tokens]:
                if self.delay:
                    time.sleep(self.delay)
                produced += 1
                yield piece
            info["finish_reason"] = "stop"
            info["usage"] = {"prompt_tokens": 3, "completion_tokens": produced}
        finally:
            self._active -= 1
            self._closed += 1


class Recorder(BaseCallbackHandler):
    """Records callback events in order, shared with the test's own records."""

    def __init__(self, events: list[tuple[str, str]]) -> None:
        self.events = events

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kwargs: Any) -> None:
        self.events.append(("start", prompts[0]))

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        chunk = kwargs.get("chunk")
        assert isinstance(chunk, GenerationChunk)
        assert chunk.text == token
        self.events.append(("token", token))

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.events.append(("end", response.generations[0][0].text))


def make(**kwargs: Any) -> FakeLLM:
    return FakeLLM(model="fake-model", **kwargs)


def test_invoke_returns_the_whole_answer() -> None:
    llm = make()
    assert llm.invoke("hi") == "Hello, world!"
    assert llm._loads == 1


def test_prompt_becomes_user_message_after_system_prompt() -> None:
    llm = make(system_prompt="Be brief.")
    llm.invoke("What is 2+2?")
    messages, _ = llm._calls[-1]
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
    ]
    make().invoke("q")  # no system prompt: only the user message
    assert make().messages_for("q") == [{"role": "user", "content": "q"}]


def test_a_call_may_bring_its_own_system_message() -> None:
    llm = make(system_prompt="Be brief.")
    list(llm.stream("q", system_prompt="Answer in full.", max_new_tokens=2))
    messages, gen = llm._calls[-1]
    assert messages[0] == {"role": "system", "content": "Answer in full."}
    assert gen.max_new_tokens == 2  # the other overrides still apply
    llm.invoke("q")  # the next call has the instance's own again
    assert llm._calls[-1][0][0] == {"role": "system", "content": "Be brief."}


def test_stream_announces_each_token_before_yielding_it() -> None:
    events: list[tuple[str, str]] = []
    llm = make()
    for chunk in llm.stream("hi", config={"callbacks": [Recorder(events)]}):
        events.append(("yield", chunk))
    assert events[0] == ("start", "hi")
    assert events[-1] == ("end", "Hello, world!")
    body = events[1:-1]
    tokens = [text for kind, text in body if kind == "token"]
    yields = [text for kind, text in body if kind == "yield"]
    assert "".join(yields) == "Hello, world!"
    assert tokens == yields
    # strictly alternating: token callback, then the yield of that same text
    for i in range(0, len(body), 2):
        assert body[i][0] == "token"
        assert body[i + 1] == ("yield", body[i][1])
    assert len([y for y in yields if y]) >= 5  # several chunks, not one


def test_stream_applies_stop_strings_split_over_pieces() -> None:
    llm = make(pieces=["The answer", " is 4.\nQue", "stion: more", " text"])
    chunks = list(llm.stream("q", stop=["\nQuestion:"]))
    assert "".join(chunks) == "The answer is 4."
    assert llm._closed == 1  # the backend generator was closed after the stop


def test_invoke_applies_stop_and_stops_the_backend_early() -> None:
    llm = make(pieces=["a", "b", "STOP", "c", "d"])
    assert llm.invoke("q", stop=["STOP"]) == "ab"
    assert llm._closed == 1


def test_generation_info_carries_usage_and_finish_reason() -> None:
    result = make().generate(["hi"])
    generation = result.generations[0][0]
    assert generation.text == "Hello, world!"
    assert generation.generation_info == {
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 3, "completion_tokens": 5},
    }
    cut = make(pieces=["x", "END"]).generate(["hi"], stop=["END"]).generations[0][0]
    assert cut.text == "x"
    assert cut.generation_info is not None
    assert cut.generation_info["finish_reason"] == "stop"


def test_per_call_overrides_reach_the_backend() -> None:
    llm = make(max_new_tokens=100, temperature=0.5)
    assert llm.invoke("q", max_new_tokens=2, temperature=0) == "Hello, "
    _, gen = llm._calls[-1]
    assert gen == GenerationSettings(
        max_new_tokens=2, temperature=0.0, top_p=0.9, repetition_penalty=1.05
    )
    llm.invoke("q")
    assert llm._calls[-1][1].max_new_tokens == 100  # overrides do not stick


def test_unknown_or_out_of_range_overrides_are_errors() -> None:
    llm = make()
    with pytest.raises(ValueError, match=r"unknown generation argument.*top_k"):
        llm.invoke("q", top_k=5)
    with pytest.raises(ValueError, match="temperature"):
        llm.invoke("q", temperature=5)


def test_empty_answer_still_yields_one_chunk() -> None:
    llm = make(pieces=[])
    assert list(llm.stream("q")) == [""]
    assert llm.invoke("q") == ""
    assert make(pieces=["STOP"]).invoke("q", stop=["STOP"]) == ""


def test_prompt_pipe_llm_pipe_parser() -> None:
    prompt = PromptTemplate.from_template("Question: {question}")
    llm = make(pieces=["echo"])
    chain = prompt | llm | StrOutputParser()
    assert chain.invoke({"question": "why?"}) == "echo"
    assert llm._calls[-1][0][-1]["content"] == "Question: why?"
    assert "".join(chain.stream({"question": "why?"})) == "echo"


def test_identifying_params_and_type() -> None:
    llm = make(system_prompt="s", max_new_tokens=7)
    params = llm._identifying_params
    assert params["backend"] == "fake"
    assert params["model"] == "fake-model"
    assert params["max_new_tokens"] == 7
    assert {"temperature", "top_p", "repetition_penalty"} <= set(params)
    assert llm._llm_type == "zhiku-fake"


def test_concurrent_requests_are_serialized() -> None:
    llm = make(delay=0.01)
    results: list[str] = []

    def ask() -> None:
        results.append(llm.invoke("q"))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["Hello, world!"] * 4
    assert llm._max_active == 1


def test_an_abandoned_stream_releases_the_model() -> None:
    llm = make()
    stream = cast(Generator[str, None, None], llm.stream("q"))
    assert next(stream) == "Hello"
    stream.close()
    assert llm._closed == 1
    assert llm.invoke("q") == "Hello, world!"  # not deadlocked


def test_backend_errors_propagate_and_release_the_lock() -> None:
    class Broken(FakeLLM):
        def _stream_text(self, *args: Any, **kwargs: Any) -> Iterator[str]:
            yield "partial"
            raise RuntimeError("model exploded")

    llm = Broken(model="broken")
    with pytest.raises(RuntimeError, match="model exploded"):
        llm.invoke("q")
    with pytest.raises(RuntimeError, match="model exploded"):
        llm.invoke("q")  # the lock was released


async def test_async_invoke_and_stream() -> None:
    llm = make()
    assert await llm.ainvoke("q") == "Hello, world!"
    chunks = [chunk async for chunk in llm.astream("q", stop=["wor"])]
    assert "".join(chunks) == "Hello, "
    result = await llm.agenerate(["q"])
    assert result.generations[0][0].generation_info is not None


async def test_many_concurrent_astreams_do_not_deadlock() -> None:
    # More waiting callers than the default executor has threads: each waits in a thread of
    # its own, so the stream holding the lock still gets its next token.
    llm = make(delay=0.002)

    async def consume() -> str:
        return "".join([chunk async for chunk in llm.astream("q")])

    answers = await asyncio.wait_for(asyncio.gather(*(consume() for _ in range(12))), 30)
    assert answers == ["Hello, world!"] * 12
    assert llm._max_active == 1


async def test_async_callbacks_come_before_each_chunk() -> None:
    events: list[tuple[str, str]] = []

    class AsyncRecorder(AsyncCallbackHandler):
        async def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
            await asyncio.sleep(0)
            events.append(("token", token))

    async for chunk in make().astream("q", config={"callbacks": [AsyncRecorder()]}):
        events.append(("yield", chunk))
    for i in range(0, len(events), 2):
        assert events[i][0] == "token"
        assert events[i + 1] == ("yield", events[i][1])
    assert "".join(text for kind, text in events if kind == "yield") == "Hello, world!"


async def test_an_abandoned_astream_releases_the_model() -> None:
    llm = make(delay=0.01)
    stream = llm.astream("q")
    assert await anext(stream) == "Hello"
    await stream.aclose()  # type: ignore[attr-defined]
    assert await asyncio.wait_for(llm.ainvoke("q"), 10) == "Hello, world!"
    assert llm._closed == 2


async def test_async_errors_propagate() -> None:
    class Broken(FakeLLM):
        def _stream_text(self, *args: Any, **kwargs: Any) -> Iterator[str]:
            yield "partial"
            raise RuntimeError("model exploded")

    with pytest.raises(RuntimeError, match="model exploded"):
        await Broken(model="broken").ainvoke("q")
    with pytest.raises(RuntimeError, match="model exploded"):
        [chunk async for chunk in Broken(model="broken").astream("q")]


async def test_abatch_and_astream_events() -> None:
    llm = make()
    assert await llm.abatch(["a", "b"]) == ["Hello, world!"] * 2
    events = [event async for event in llm.astream_events("q", version="v2")]
    kinds = [event["event"] for event in events]
    assert kinds[0] == "on_llm_start"
    assert kinds[-1] == "on_llm_end"
    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_llm_stream"]
    assert "".join(c.text if hasattr(c, "text") else c for c in streamed) == "Hello, world!"
