"""Models served over an OpenAI-compatible HTTP API (`POST {api_base_url}/chat/completions`).

Works with FastChat's `openai_api_server`, vLLM, Ollama (`http://127.0.0.1:11434/v1`),
`llama_cpp.server` and `transformers serve`. The server formats the chat messages with the
model's template. Streamed answers arrive as server-sent events (`data: {...}` lines, ended
by `data: [DONE]`); token usage comes with the last event where the server supports
`stream_options.include_usage`, and with every non-streamed answer.

Sync calls use an `httpx.Client`, async calls an `httpx.AsyncClient` (one per event loop),
so `ainvoke` / `astream` never block the loop. No lock: the server schedules concurrent
requests. Every failure becomes one `ModelUnavailableError` line naming the server and the
`LLM_MODEL` entry: the server is down or too slow, it answered non-2xx (with an excerpt of
its answer), or it sent something that is not an OpenAI answer.

`repetition_penalty` is not sent: the OpenAI API has no such field, and some servers
refuse unknown fields. Pass a server's own name for it through the entry's `extra_body`
(`{"repetition_penalty": 1.05}` for vLLM and FastChat, `{"repeat_penalty": 1.05}` for
llama_cpp.server).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import ssl
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import cache
from typing import Any, ClassVar

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.outputs import GenerationChunk
from pydantic import Field, PrivateAttr, SecretStr

from rag.errors import ConfigError, ModelUnavailableError, ZhikuError
from rag.llms.base import (
    ContextWindowExceededError,
    GenerationSettings,
    Message,
    StopCutter,
    ZhikuLLM,
)
from rag.llms.setup import LLMSetup
from rag.server_replies import error_detail, one_line
from rag.settings import OpenAIEntry

logger = logging.getLogger(__name__)

MAX_SERVER_STOPS = 4
"""The OpenAI API takes at most 4 stop strings; more are cut here only."""

_CONNECT_TIMEOUT_S = 10.0
_CONTEXT_ERROR = re.compile(
    r"context_length_exceeded|maximum context length|context (window|length)|too many tokens",
    re.IGNORECASE,
)


class SSEDecoder:
    """Server-sent events, line by line: returns each event's `data` when it is complete.

    Lines starting with `:` are comments (keep-alive pings); `event:`, `id:` and `retry:`
    fields are ignored; several `data:` lines of one event are joined with newlines; a
    blank line ends the event.
    """

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """One line (without its line break); the event's data when `line` ends it."""
        line = line.rstrip("\r\n")
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value.removeprefix(" "))
        return None

    def flush(self) -> str | None:
        """The pending event's data (at a blank line, or at the end of the stream)."""
        if not self._data:
            return None
        data, self._data = "\n".join(self._data), []
        return data


def iter_sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The `data` of each event in `lines`, up to the end or to `[DONE]`."""
    decoder = SSEDecoder()
    for line in lines:
        data = decoder.feed(line)
        if data is not None:
            if data.strip() == "[DONE]":
                return
            yield data
    data = decoder.flush()
    if data is not None and data.strip() != "[DONE]":
        yield data


@cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every client (building one costs ~0.1 s)."""
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        return ssl.create_default_context()


def _usage(data: Any) -> dict[str, int] | None:
    if not isinstance(data, dict):
        return None
    try:
        prompt = int(data.get("prompt_tokens") or 0)
        completion = int(data.get("completion_tokens") or 0)
        total = int(data.get("total_tokens") or prompt + completion)
    except (TypeError, ValueError):
        return None
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


class OpenAICompatLLM(ZhikuLLM):
    """A chat model behind an OpenAI-compatible server, as a LangChain LLM."""

    backend: ClassVar[str] = "openai"
    serialize: ClassVar[bool] = False

    api_base_url: str
    """The API root, e.g. `http://127.0.0.1:8000/v1`."""

    served_model: str
    """The model name sent in each request (the server's name for the model)."""

    api_key: SecretStr | None = None
    """Sent as `Authorization: Bearer <key>` when set."""

    timeout_s: float = Field(default=300.0, gt=0)
    """Seconds to wait: to connect (at most 10), and for each streamed piece or the whole
    non-streamed answer."""

    streaming: bool = False
    """`invoke` / `generate`: one non-streamed request (False) or a streamed one (True, the
    callbacks then see each token as it arrives). `stream` / `astream` always stream."""

    stream_usage: bool = True
    """Ask for token usage in streamed answers (`stream_options.include_usage`)."""

    extra_body: dict[str, Any] = Field(default_factory=dict)
    """Extra request fields for this server (they win over the standard ones)."""

    _client: httpx.Client | None = PrivateAttr(default=None)
    _aclient: httpx.AsyncClient | None = PrivateAttr(default=None)
    _aclient_loop: weakref.ReferenceType[asyncio.AbstractEventLoop] | None = PrivateAttr(
        default=None
    )
    _usage_option_refused: bool = PrivateAttr(default=False)

    @classmethod
    def from_setup(cls, setup: LLMSetup) -> OpenAICompatLLM:
        """The LLM of `setup`'s openai entry; no request is made until it is used."""
        entry = setup.entry_as(OpenAIEntry)
        name = setup.name
        api_key = entry.api_key
        if entry.api_key_env:
            value = os.environ.get(entry.api_key_env)
            if not value:
                raise ConfigError(
                    f"LLM_MODEL_DICT[{name!r}].api_key_env={entry.api_key_env!r}: that "
                    f"environment variable is not set; export it or remove api_key_env"
                )
            api_key = SecretStr(value)
        if not entry.api_base_url:
            raise ConfigError(
                f"LLM_MODEL_DICT[{name!r}] uses backend 'openai' but has no api_base_url; "
                f"set it, e.g. 'http://127.0.0.1:8000/v1'"
            )
        return cls(
            model=name,
            api_base_url=entry.api_base_url,
            served_model=_served_name(entry.model or entry.pretrained_model_name or name),
            api_key=api_key,
            timeout_s=entry.timeout_s,
            stream_usage=entry.stream_usage,
            extra_body=dict(entry.extra_body),
            system_prompt=setup.system_prompt,
            max_new_tokens=entry.max_new_tokens,
            temperature=entry.temperature,
            top_p=entry.top_p,
            repetition_penalty=entry.repetition_penalty,
        )

    # ---- clients -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.api_base_url.rstrip("/")

    @property
    def completions_url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _client_options(self) -> dict[str, Any]:
        headers = {"User-Agent": "zhiku"}
        if self.api_key is not None and self.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, _CONNECT_TIMEOUT_S))
        return {
            "headers": headers,
            "timeout": timeout,
            "verify": _ssl_context(),
            # HTTP(S)_PROXY must not catch a server on this machine (a remote one may need it)
            "trust_env": not _is_loopback(self.base_url),
        }

    def _load(self) -> None:
        if self._client is None:
            self._client = httpx.Client(**self._client_options())

    def _async_client(self) -> httpx.AsyncClient:
        """The async client of the running event loop (a client cannot change loops)."""
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is None or self._aclient_loop() is not loop:
            self._aclient = httpx.AsyncClient(**self._client_options())
            self._aclient_loop = weakref.ref(loop)
        return self._aclient

    def load(self) -> OpenAICompatLLM:
        """Check now that the server answers (`GET /models`), e.g. at app start-up.

        A server that cannot be reached is an error; one without a model list, or whose
        list does not name `served_model`, is only logged (many servers ignore the name).
        """
        super().load()
        assert self._client is not None
        with self._http_errors():
            response = self._client.get(f"{self.base_url}/models")
        if not response.is_success:
            logger.warning(
                "the LLM server at %s answered %s to GET /models; continuing",
                self.base_url,
                response.status_code,
            )
            return self
        try:
            ids = [str(m.get("id")) for m in response.json().get("data", [])]
        except (ValueError, AttributeError):
            ids = []
        if ids and self.served_model not in ids:
            logger.warning(
                "the LLM server at %s lists models %s, not %r (LLM_MODEL=%s); "
                "set `model` in its LLM_MODEL_DICT entry if the server needs the exact name",
                self.base_url,
                ", ".join(ids[:5]),
                self.served_model,
                self.model,
            )
        return self

    def close(self) -> None:
        """Close the sync client (the instance stays usable: a new one is made on use)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    async def aclose(self) -> None:
        """Close the async client of the running loop."""
        client, self._aclient, self._aclient_loop = self._aclient, None, None
        if client is not None:
            await client.aclose()

    def _model_params(self) -> dict[str, Any]:
        return {
            "api_base_url": self.base_url,
            "served_model": self.served_model,
            "streaming": self.streaming,
            "timeout_s": self.timeout_s,
            "extra_body": self.extra_body,
        }

    # ---- requests ------------------------------------------------------------------------

    def _payload(
        self,
        messages: list[Message],
        stop: list[str] | None,
        gen: GenerationSettings,
        stream: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.served_model,
            "messages": messages,
            "max_tokens": gen.max_new_tokens,
            "temperature": gen.temperature,
            "top_p": gen.top_p,
            "stream": stream,
        }
        stops = [s for s in stop or () if s][:MAX_SERVER_STOPS]
        if stops:
            body["stop"] = stops  # the server ends early; the base class cuts all of them
        if stream and self.stream_usage and not self._usage_option_refused:
            body["stream_options"] = {"include_usage": True}
        body.update(self.extra_body)
        return body

    def _where(self) -> str:
        return f"LLM_MODEL={self.model}"

    @contextmanager
    def _http_errors(self) -> Iterator[None]:
        """Turn httpx's transport errors into one clear line."""
        try:
            yield
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc

    @asynccontextmanager
    async def _ahttp_errors(self) -> AsyncIterator[None]:
        try:
            yield
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc

    def _transport_error(self, exc: httpx.HTTPError) -> ModelUnavailableError:
        url = self.base_url
        reason = one_line(f"{type(exc).__name__}: {exc}", 160)
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return ModelUnavailableError(
                f"cannot reach the LLM server at {url} — is it running? ({self._where()}; {reason})"
            )
        if isinstance(exc, httpx.TimeoutException):
            return ModelUnavailableError(
                f"the LLM server at {url} did not answer within {self.timeout_s:g} s — is it "
                f"overloaded? raise timeout_s in LLM_MODEL_DICT[{self.model!r}] for slow "
                f"models ({self._where()}; {reason})"
            )
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            return ModelUnavailableError(
                f"the LLM server at {url} closed the connection before the answer was "
                f"complete — did it crash? ({self._where()}; {reason})"
            )
        return ModelUnavailableError(
            f"cannot talk to the LLM server at {url} ({self._where()}; {reason})"
        )

    def _status_error(self, response: httpx.Response) -> ZhikuError:
        """The error for a non-2xx answer (its body must have been read)."""
        body = response.text
        detail = error_detail(body)
        status = f"{response.status_code} {response.reason_phrase}".strip()
        if response.status_code in (400, 413, 422) and _CONTEXT_ERROR.search(body):
            return ContextWindowExceededError(
                f"the prompt does not fit the context window of LLM {self.model!r}: the "
                f"server at {self.base_url} answered {status}: {detail}; shorten the question "
                f"or the retrieved context, or lower context_window in its LLM_MODEL_DICT entry"
            )
        hint = ""
        if response.status_code in (401, 403):
            hint = f"; check api_key / api_key_env in LLM_MODEL_DICT[{self.model!r}]"
        elif response.status_code == 404:
            hint = (
                f"; check api_base_url (usually ends in /v1) and model in "
                f"LLM_MODEL_DICT[{self.model!r}]"
            )
        return ModelUnavailableError(
            f"the LLM server at {self.base_url} answered {status}: {detail}{hint} ({self._where()})"
        )

    def _refused_usage_option(self, response: httpx.Response, body: dict[str, Any]) -> bool:
        """Whether a 4xx is the server refusing `stream_options` (then retried without)."""
        if "stream_options" not in body or response.status_code not in (400, 422):
            return False
        if "stream_options" not in response.text:
            return False
        logger.warning(
            "the LLM server at %s refuses stream_options; streamed answers report no token "
            "usage (set stream_usage: False in LLM_MODEL_DICT[%r] to skip this retry)",
            self.base_url,
            self.model,
        )
        self._usage_option_refused = True
        return True

    def _open(self, body: dict[str, Any], stream: bool) -> httpx.Response:
        client = self._client
        assert client is not None  # `_load` ran
        headers = {"Accept": "text/event-stream"} if stream else {}
        with self._http_errors():
            request = client.build_request("POST", self.completions_url, json=body, headers=headers)
            response = client.send(request, stream=stream)
            if response.is_success:
                return response
            response.read()
            response.close()
        if self._refused_usage_option(response, body):
            body = {k: v for k, v in body.items() if k != "stream_options"}
            return self._open(body, stream)
        raise self._status_error(response)

    async def _aopen(self, body: dict[str, Any], stream: bool) -> httpx.Response:
        client = self._async_client()
        headers = {"Accept": "text/event-stream"} if stream else {}
        async with self._ahttp_errors():
            request = client.build_request("POST", self.completions_url, json=body, headers=headers)
            response = await client.send(request, stream=stream)
            if response.is_success:
                return response
            await response.aread()
            await response.aclose()
        if self._refused_usage_option(response, body):
            body = {k: v for k, v in body.items() if k != "stream_options"}
            return await self._aopen(body, stream)
        raise self._status_error(response)

    # ---- answers -------------------------------------------------------------------------

    def _event(self, data: str, info: dict[str, Any]) -> str:
        """The text of one streamed event; its finish reason and usage go into `info`."""
        try:
            event = json.loads(data)
        except ValueError:
            raise ModelUnavailableError(
                f"the LLM server at {self.base_url} sent a malformed stream event (not JSON): "
                f"{one_line(data, 120)!r} — is api_base_url an OpenAI-compatible API? "
                f"({self._where()})"
            ) from None
        if not isinstance(event, dict):
            raise ModelUnavailableError(
                f"the LLM server at {self.base_url} sent a stream event that is not an "
                f"object: {one_line(data, 120)!r} ({self._where()})"
            )
        if event.get("error"):
            raise ModelUnavailableError(
                f"the LLM server at {self.base_url} reported an error during the answer: "
                f"{error_detail(data)} ({self._where()})"
            )
        usage = _usage(event.get("usage"))
        if usage is not None:
            info["usage"] = usage
        pieces: list[str] = []
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            if choice.get("finish_reason"):
                info["finish_reason"] = choice["finish_reason"]
            delta = choice.get("delta") or {}
            content = delta.get("content") if isinstance(delta, dict) else None
            if content is None:
                content = choice.get("text")  # a few servers stream completions-style
            if isinstance(content, str):
                pieces.append(content)
        return "".join(pieces)

    def _whole_answer(self, response: httpx.Response, info: dict[str, Any]) -> str:
        """The text of a non-streamed answer; finish reason and usage go into `info`."""
        try:
            data = response.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
            text = message.get("content") if "message" in choice else choice.get("text")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ModelUnavailableError(
                f"the LLM server at {self.base_url} answered with something that is not an "
                f"OpenAI chat completion: {one_line(response.text, 160)!r} ({self._where()})"
            ) from None
        if choice.get("finish_reason"):
            info["finish_reason"] = choice["finish_reason"]
        usage = _usage(data.get("usage"))
        if usage is not None:
            info["usage"] = usage
        return text if isinstance(text, str) else ""

    def _stream_text(
        self,
        messages: list[Message],
        stop: list[str] | None,
        gen: GenerationSettings,
        info: dict[str, Any],
    ) -> Iterator[str]:
        response = self._open(self._payload(messages, stop, gen, stream=True), stream=True)
        try:
            if not _is_event_stream(response):  # a server that ignored "stream": true
                response.read()
                yield self._whole_answer(response, info)
                return
            with self._http_errors():
                for data in iter_sse_data(response.iter_lines()):
                    text = self._event(data, info)
                    if text:
                        yield text
        finally:
            response.close()  # also when closed early: the server stops generating

    async def _astream_text(
        self,
        messages: list[Message],
        stop: list[str] | None,
        gen: GenerationSettings,
        info: dict[str, Any],
    ) -> AsyncIterator[str]:
        response = await self._aopen(self._payload(messages, stop, gen, stream=True), True)
        try:
            if not _is_event_stream(response):
                await response.aread()
                yield self._whole_answer(response, info)
                return
            decoder = SSEDecoder()
            async with self._ahttp_errors():
                async for line in response.aiter_lines():
                    data = decoder.feed(line)
                    if data is None:
                        continue
                    if data.strip() == "[DONE]":
                        return
                    text = self._event(data, info)
                    if text:
                        yield text
            data = decoder.flush()
            if data is not None and data.strip() != "[DONE]":
                text = self._event(data, info)
                if text:
                    yield text
        finally:
            await response.aclose()

    def _collect(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        **kwargs: Any,
    ) -> GenerationChunk:
        if self.streaming:
            return super()._collect(prompt, stop, run_manager, **kwargs)
        gen, messages = self.call_setup(prompt, kwargs)
        body = self._payload(messages, stop, gen, stream=False)
        info: dict[str, Any] = {}
        with self._turn():
            response = self._open(body, stream=False)
        return self._finish(self._whole_answer(response, info), stop, info, run_manager)

    async def _acollect(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        **kwargs: Any,
    ) -> GenerationChunk:
        if self.streaming:
            return await super()._acollect(prompt, stop, run_manager, **kwargs)
        gen, messages = self.call_setup(prompt, kwargs)
        body = self._payload(messages, stop, gen, stream=False)
        info: dict[str, Any] = {}
        with self._lock:
            self._load()
        response = await self._aopen(body, stream=False)
        chunk = self._finish(self._whole_answer(response, info), stop, info, None)
        if run_manager is not None:
            await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        return chunk

    def _finish(
        self,
        text: str,
        stop: list[str] | None,
        info: dict[str, Any],
        run_manager: CallbackManagerForLLMRun | None,
    ) -> GenerationChunk:
        """A non-streamed answer as one chunk, cut at the first stop string."""
        cutter = StopCutter(stop)
        text = cutter.feed(text) + cutter.flush()
        if cutter.stopped:
            info["finish_reason"] = "stop"
        return self._chunk(text, run_manager, info)


def _served_name(name: str) -> str:
    """The model name to send; `~/...` is expanded (`transformers serve ~/models/x` pins the
    expanded path, and a server-side model name never starts with `~/`)."""
    return os.path.expanduser(name) if name.startswith("~/") else name


def _is_loopback(url: str) -> bool:
    host = httpx.URL(url).host
    return host in ("localhost", "::1") or host.startswith("127.")


def _is_event_stream(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "")
    return not content_type.startswith("application/json")
