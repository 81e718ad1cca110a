"""The openai backend's protocol and error paths, against a hand-written fake HTTP server.

The real-server behaviour (llama_cpp.server with the shipped model) is tested in
tests/integration/test_llm_contract.py; this fake only plays what a real server cannot be
made to do on demand: non-2xx answers, malformed or broken streams, slowness.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from rag.errors import ConfigError, ModelUnavailableError
from rag.factory import llm_setup
from rag.llms import ContextWindowExceededError, build_llm
from rag.llms.openai_compat import OpenAICompatLLM, SSEDecoder, iter_sse_data
from rag.settings import OpenAIEntry, Settings, load_settings

Responder = Callable[["Handler", dict[str, Any]], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(("GET", self.path, dict(self.headers), {}))
        if self.server.models is None:
            self.send_json(404, {"detail": "Not Found"})
        else:
            self.send_json(200, {"object": "list", "data": [{"id": m} for m in self.server.models]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(("POST", self.path, dict(self.headers), body))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.server.responder(self, body)  # the client may go away (a timeout test)

    # ---- helpers for responders -----------------------------------------------------------

    def send_json(self, status: int, data: Any, content_type: str = "application/json") -> None:
        raw = (data if isinstance(data, str) else json.dumps(data)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, text: str) -> None:
        raw = text.encode()
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, str, dict[str, str], dict[str, Any]]] = []
        self.responder: Responder = sse_answer(["Hel", "lo"])
        self.models: list[str] | None = ["served-model"]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out or hung up early is what some tests are about

    def posts(self) -> list[dict[str, Any]]:
        return [body for method, _, _, body in self.requests if method == "POST"]


def delta_event(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if text is None else {"content": text}
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def sse_answer(
    pieces: list[str],
    delay: float = 0.0,
    usage: dict[str, int] | None = None,
    done: bool = True,
) -> Responder:
    def respond(handler: Handler, body: dict[str, Any]) -> None:
        if not body.get("stream"):
            text = "".join(pieces)
            handler.send_json(
                200,
                {
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage or {"prompt_tokens": 7, "completion_tokens": len(pieces)},
                },
            )
            return
        handler.start_stream()
        handler.write_chunk(": ping\n\n")
        handler.write_chunk(f"data: {json.dumps(delta_event(None))}\n\n")
        for piece in pieces:
            if delay:
                time.sleep(delay)
            handler.write_chunk(f"data: {json.dumps(delta_event(piece))}\n\n")
        handler.write_chunk(f"data: {json.dumps(delta_event(None, 'stop'))}\n\n")
        if usage and body.get("stream_options", {}).get("include_usage"):
            handler.write_chunk(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n")
        if done:
            handler.write_chunk("data: [DONE]\n\n")
        handler.end_stream()

    return respond


def status_answer(status: int, data: Any, content_type: str = "application/json") -> Responder:
    def respond(handler: Handler, body: dict[str, Any]) -> None:
        handler.send_json(status, data, content_type)

    return respond


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    thread = threading.Thread(target=fake.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()


def make(server: FakeServer, **kwargs: Any) -> OpenAICompatLLM:
    options: dict[str, Any] = {
        "model": "remote",
        "api_base_url": server.base_url,
        "served_model": "served-model",
        "temperature": 0.0,
        "max_new_tokens": 16,
    }
    options.update(kwargs)
    return OpenAICompatLLM(**options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_with(entry: dict[str, Any]) -> Settings:
    return load_settings(env={}, llm_model_dict={"remote": entry}, llm_model="remote")


# ---- SSE parsing --------------------------------------------------------------------------


def test_sse_decoder_handles_comments_fields_multiline_and_crlf() -> None:
    lines = [
        ": keep-alive",
        "event: message",
        "id: 1",
        "data: first",
        "data:second line",
        "",
        "retry: 100",
        "data: {}\r",
        "\r",
        "data: [DONE]",
        "",
        "data: after done",
        "",
    ]
    assert list(iter_sse_data(lines)) == ["first\nsecond line", "{}"]


def test_sse_last_event_without_blank_line_is_kept() -> None:
    assert list(iter_sse_data(["data: a", "", "data: b"])) == ["a", "b"]
    decoder = SSEDecoder()
    assert decoder.feed("data: x") is None
    assert decoder.flush() == "x"
    assert decoder.flush() is None


# ---- requests -----------------------------------------------------------------------------


def test_non_streaming_invoke_sends_an_openai_request_and_reads_usage(
    server: FakeServer,
) -> None:
    llm = make(server, system_prompt="Be brief.", api_key="sk-test")
    result = llm.generate(["hi"], max_new_tokens=5, top_p=0.5)
    generation = result.generations[0][0]
    assert generation.text == "Hello"
    assert generation.generation_info == {
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
    }
    method, path, headers, body = server.requests[-1]
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert headers["Authorization"] == "Bearer sk-test"
    assert body == {
        "model": "served-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "max_tokens": 5,
        "temperature": 0.0,
        "top_p": 0.5,
        "stream": False,
    }


def test_the_api_key_never_shows(server: FakeServer) -> None:
    llm = make(server, api_key="sk-secret-123")
    for text in (repr(llm), str(llm), str(llm._identifying_params), str(llm.dict())):
        assert "sk-secret-123" not in text
    assert llm._identifying_params["backend"] == "openai"
    assert llm._identifying_params["served_model"] == "served-model"


def test_streaming_asks_for_usage_and_caps_server_stops(server: FakeServer) -> None:
    usage = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    server.responder = sse_answer(["Hel", "lo"], usage=usage)
    llm = make(server, streaming=True, extra_body={"repeat_penalty": 1.1, "top_p": 0.7})
    stops = ["s1", "s2", "s3", "s4", "s5"]
    generation = llm.generate(["hi"], stop=stops).generations[0][0]
    assert generation.text == "Hello"
    assert generation.generation_info == {"finish_reason": "stop", "usage": usage}
    body = server.posts()[-1]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["stop"] == stops[:4]  # the OpenAI limit; the fifth is cut locally
    assert body["repeat_penalty"] == 1.1
    assert body["top_p"] == 0.7  # extra_body wins


def test_stream_yields_pieces_after_their_callbacks(server: FakeServer) -> None:
    server.responder = sse_answer(["The ", "answer", " is", " 4."])
    events: list[tuple[str, str]] = []

    class Recorder(BaseCallbackHandler):
        def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
            events.append(("token", token))

    llm = make(server)
    for chunk in llm.stream("q", config={"callbacks": [Recorder()]}):
        events.append(("yield", chunk))
    for i in range(0, len(events), 2):
        assert events[i][0] == "token"
        assert events[i + 1] == ("yield", events[i][1])
    assert "".join(t for k, t in events if k == "yield") == "The answer is 4."


def test_stop_split_over_events_is_cut_locally(server: FakeServer) -> None:
    # the fake server ignores `stop`, like a server would for the fifth stop string
    server.responder = sse_answer(["1, 2, ", "3, 4", ", 5, 6"])
    llm = make(server)
    assert list(llm.stream("q", stop=["4, 5"])) == ["1, 2, ", "3, ", ""]
    assert llm.invoke("q", stop=["4, 5"]) == "1, 2, 3, "


def test_a_server_that_refuses_stream_options_is_retried_without(
    server: FakeServer,
) -> None:
    answer = sse_answer(["ok"])

    def respond(handler: Handler, body: dict[str, Any]) -> None:
        if "stream_options" in body:
            handler.send_json(
                400, {"error": {"message": "Unrecognized request argument: stream_options"}}
            )
        else:
            answer(handler, body)

    server.responder = respond
    llm = make(server)
    assert "".join(llm.stream("q")) == "ok"
    assert "".join(llm.stream("q")) == "ok"
    assert ["stream_options" in body for body in server.posts()] == [True, False, False]


def test_a_server_answering_json_to_a_stream_request_still_works(server: FakeServer) -> None:
    answer = sse_answer(["whole answer"])
    server.responder = lambda handler, body: answer(handler, {**body, "stream": False})
    llm = make(server)
    assert "".join(llm.stream("q")) == "whole answer"


# ---- errors: each one line, naming the server and the entry ------------------------------


def assert_one_line(exc: BaseException, *parts: str) -> None:
    message = str(exc)
    assert "\n" not in message
    for part in parts:
        assert part in message, (part, message)


def test_server_down_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAICompatLLM(model="remote", api_base_url=url, served_model="m")
    with pytest.raises(ModelUnavailableError) as info:
        llm.invoke("q")
    assert_one_line(
        info.value, f"cannot reach the LLM server at {url}", "is it running?", "LLM_MODEL=remote"
    )
    with pytest.raises(ModelUnavailableError, match="cannot reach the LLM server"):
        list(llm.stream("q"))
    with pytest.raises(ModelUnavailableError, match="cannot reach the LLM server"):
        llm.load()


async def test_server_down_is_a_clear_error_async() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAICompatLLM(model="remote", api_base_url=url, served_model="m")
    with pytest.raises(ModelUnavailableError, match="cannot reach the LLM server at"):
        await llm.ainvoke("q")
    with pytest.raises(ModelUnavailableError, match="is it running"):
        [c async for c in llm.astream("q")]


@pytest.mark.parametrize("streaming", [False, True])
def test_non_2xx_quotes_the_server(server: FakeServer, streaming: bool) -> None:
    server.responder = status_answer(
        500, {"error": {"message": "model crashed: out of memory", "type": "server_error"}}
    )
    llm = make(server, streaming=streaming)
    with pytest.raises(ModelUnavailableError) as info:
        llm.invoke("q")
    assert_one_line(
        info.value,
        f"the LLM server at {server.base_url} answered 500 Internal Server Error",
        "model crashed: out of memory",
        "LLM_MODEL=remote",
    )


async def test_non_2xx_quotes_the_server_async(server: FakeServer) -> None:
    server.responder = status_answer(503, {"detail": "loading model"})
    llm = make(server)
    with pytest.raises(ModelUnavailableError, match="answered 503 Service Unavailable: loading"):
        await llm.ainvoke("q")
    with pytest.raises(ModelUnavailableError, match="answered 503"):
        [c async for c in llm.astream("q")]


def test_404_and_401_say_what_to_check(server: FakeServer) -> None:
    server.responder = status_answer(404, "<html>\n<h1>Not Found</h1>\n</html>", "text/html")
    with pytest.raises(ModelUnavailableError) as info:
        make(server).invoke("q")
    assert_one_line(info.value, "answered 404 Not Found", "<h1>Not Found</h1>", "api_base_url")
    server.responder = status_answer(401, {"error": {"message": "invalid api key"}})
    with pytest.raises(ModelUnavailableError) as info:
        make(server).invoke("q")
    assert_one_line(info.value, "answered 401", "invalid api key", "api_key")


def test_long_error_bodies_are_cut(server: FakeServer) -> None:
    server.responder = status_answer(500, "x" * 5000, "text/plain")
    with pytest.raises(ModelUnavailableError) as info:
        make(server).invoke("q")
    assert len(str(info.value)) < 600


def test_context_overflow_is_a_context_window_error(server: FakeServer) -> None:
    server.responder = status_answer(
        400,
        {
            "error": {
                "message": "This model's maximum context length is 2048 tokens.",
                "code": "context_length_exceeded",
            }
        },
    )
    with pytest.raises(ContextWindowExceededError, match="context window of LLM 'remote'"):
        make(server).invoke("q")


def test_malformed_stream_event(server: FakeServer) -> None:
    def respond(handler: Handler, body: dict[str, Any]) -> None:
        handler.start_stream()
        handler.write_chunk(f"data: {json.dumps(delta_event('fine'))}\n\n")
        handler.write_chunk("data: <html>oops\n\n")
        handler.end_stream()

    server.responder = respond
    chunks: list[str] = []
    with pytest.raises(ModelUnavailableError) as info:
        for chunk in make(server).stream("q"):
            chunks.append(chunk)
    assert chunks == ["fine"]
    assert_one_line(info.value, "malformed stream event", "<html>oops", "LLM_MODEL=remote")


async def test_malformed_stream_event_async(server: FakeServer) -> None:
    def respond(handler: Handler, body: dict[str, Any]) -> None:
        handler.start_stream()
        handler.write_chunk("data: [1, 2\n\n")
        handler.end_stream()

    server.responder = respond
    with pytest.raises(ModelUnavailableError, match="malformed stream event"):
        await make(server, streaming=True).ainvoke("q")


def test_an_error_event_in_the_stream(server: FakeServer) -> None:
    def respond(handler: Handler, body: dict[str, Any]) -> None:
        handler.start_stream()
        handler.write_chunk(f"data: {json.dumps(delta_event('par'))}\n\n")
        handler.write_chunk('data: {"error": {"message": "generation failed"}}\n\n')
        handler.end_stream()

    server.responder = respond
    with pytest.raises(ModelUnavailableError, match="error during the answer: generation failed"):
        list(make(server).stream("q"))


def test_connection_dropped_mid_answer(server: FakeServer) -> None:
    def respond(handler: Handler, body: dict[str, Any]) -> None:
        handler.start_stream()
        handler.write_chunk(f"data: {json.dumps(delta_event('half'))}\n\n")
        handler.wfile.write(b"40\r\ndata: {")  # a chunk cut short, then the socket closes
        handler.wfile.flush()
        handler.close_connection = True

    server.responder = respond
    with pytest.raises(ModelUnavailableError) as info:
        list(make(server).stream("q"))
    assert_one_line(info.value, "closed the connection before the answer was complete")


def test_a_slow_server_times_out_with_the_setting_named(server: FakeServer) -> None:
    def respond(handler: Handler, body: dict[str, Any]) -> None:
        time.sleep(1.0)
        sse_answer(["late"])(handler, body)

    server.responder = respond
    llm = make(server, timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(ModelUnavailableError) as info:
        llm.invoke("q")
    assert time.monotonic() - started < 0.9
    assert_one_line(info.value, "did not answer within 0.2 s", "timeout_s", "LLM_MODEL=remote")


async def test_a_slow_server_times_out_async(server: FakeServer) -> None:
    server.responder = sse_answer(["a", "b"], delay=1.0)
    with pytest.raises(ModelUnavailableError, match=r"did not answer within 0\.2 s"):
        [c async for c in make(server, timeout_s=0.2).astream("q")]


# ---- async and concurrency ----------------------------------------------------------------


async def test_astream_does_not_block_the_event_loop(server: FakeServer) -> None:
    server.responder = sse_answer(["a", "b", "c", "d", "e"], delay=0.1)
    llm = make(server)
    ticks = 0
    streaming = True

    async def tick() -> None:
        nonlocal ticks
        while streaming:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    chunks = [chunk async for chunk in llm.astream("q")]
    streaming = False
    await ticker
    assert "".join(chunks) == "abcde"
    assert ticks >= 20  # ~0.5 s of streaming; the loop kept running


def all_at_once(count: int) -> Responder:
    """Answers only when `count` requests are in flight together: requests sent one after
    the other wait in vain (10 s) and fail."""
    barrier = threading.Barrier(count, timeout=10)
    answer = sse_answer(["a", "b", "c"])

    def respond(handler: Any, body: dict[str, Any]) -> None:
        barrier.wait()
        answer(handler, body)

    return respond


async def test_concurrent_async_requests_are_not_serialized(server: FakeServer) -> None:
    server.responder = all_at_once(3)
    llm = make(server, streaming=True)
    assert await llm.abatch(["q1", "q2", "q3"]) == ["abc"] * 3


def test_concurrent_sync_streams_are_not_serialized(server: FakeServer) -> None:
    server.responder = all_at_once(3)
    llm = make(server, streaming=True)
    assert llm.batch(["q1", "q2", "q3"]) == ["abc"] * 3


def test_async_works_across_event_loops(server: FakeServer) -> None:
    llm = make(server)
    assert asyncio.run(llm.ainvoke("q")) == "Hello"
    assert asyncio.run(llm.ainvoke("q")) == "Hello"  # a new loop gets a new client


async def test_async_usage_and_callbacks_on_the_loop(server: FakeServer) -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    server.responder = sse_answer(["x", "y"], usage=usage)
    llm = make(server, streaming=True)
    result = await llm.agenerate(["q"])
    assert result.generations[0][0].generation_info == {"finish_reason": "stop", "usage": usage}


# ---- start-up probe and configuration -----------------------------------------------------


def test_load_probes_the_server(server: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    assert make(server).load().invoke("q") == "Hello"
    assert server.requests[0][:2] == ("GET", "/v1/models")
    make(server, served_model="other").load()
    assert "not 'other'" in caplog.text
    server.models = None  # a server without a model list only gets a warning
    make(server).load()


def test_entry_builds_the_client(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIKU_TEST_LLM_KEY", "sk-from-env")
    settings = settings_with(
        {
            "backend": "openai",
            "api_base_url": server.base_url + "/",
            "model": "served-model",
            "api_key": "sk-in-config",
            "api_key_env": "ZHIKU_TEST_LLM_KEY",
            "timeout_s": 12,
            "max_new_tokens": 9,
            "temperature": 0.0,
        }
    )
    llm = build_llm(llm_setup(settings))
    assert isinstance(llm, OpenAICompatLLM)
    assert llm.invoke("q") == "Hello"
    _, _, headers, body = server.requests[-1]
    assert headers["Authorization"] == "Bearer sk-from-env"
    assert body["model"] == "served-model"
    assert body["max_tokens"] == 9
    assert llm.timeout_s == 12


def test_model_name_defaults_to_the_hub_id_then_the_entry_name() -> None:
    url = "http://127.0.0.1:8000/v1"
    hub = settings_with(
        {"backend": "openai", "api_base_url": url, "pretrained_model_name": "THUDM/chatglm3-6b"}
    )
    assert build_llm(llm_setup(hub))._identifying_params["served_model"] == "THUDM/chatglm3-6b"
    bare = settings_with({"backend": "openai", "api_base_url": url})
    assert build_llm(llm_setup(bare))._identifying_params["served_model"] == "remote"


def test_missing_api_key_env_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHIKU_TEST_MISSING_KEY", raising=False)
    settings = settings_with(
        {
            "backend": "openai",
            "api_base_url": "http://127.0.0.1:8000/v1",
            "api_key_env": "ZHIKU_TEST_MISSING_KEY",
        }
    )
    with pytest.raises(ConfigError) as info:
        build_llm(llm_setup(settings))
    assert_one_line(info.value, "LLM_MODEL_DICT['remote'].api_key_env", "ZHIKU_TEST_MISSING_KEY")


@pytest.mark.parametrize("url", [None, "127.0.0.1:8000/v1", "ftp://host/v1"])
def test_openai_entry_needs_an_http_url(url: str | None) -> None:
    entry: dict[str, Any] = {"backend": "openai"}
    if url is not None:
        entry["api_base_url"] = url
    with pytest.raises(ConfigError) as info:
        settings_with(entry)
    assert_one_line(info.value, "llm_model_dict.remote", "api_base_url")


def test_api_key_is_a_secret_in_the_settings() -> None:
    entry = OpenAIEntry(backend="openai", api_base_url="http://h/v1", api_key="sk-x")  # type: ignore[arg-type]
    assert "sk-x" not in repr(entry)
    assert entry.api_key is not None
    assert entry.api_key.get_secret_value() == "sk-x"
