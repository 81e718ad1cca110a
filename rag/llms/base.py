"""The LangChain LLM every zhiku backend derives from, and the stop-string cutter.

A backend implements two small methods: `_load()` (create the heavy client once) and
`_stream_text()` (raw text pieces for a list of chat messages), and may add a native async
`_astream_text()`. This base class turns them into a custom LangChain `LLM`: `invoke`,
`stream`, `batch`, their async versions and `prompt | llm | parser` all work, callbacks see
every token before it is yielded, stop strings are cut here the same way for every backend,
and one lock per instance serializes generation so that one loaded model can serve
concurrent requests.

Async calls never block the event loop. A backend without `_astream_text` generates in a
thread of its own per call (not in the shared executor: a call waiting for the lock must
not take the thread the running stream needs for its next token); its chunks are handed to
the loop, where the callbacks are awaited before each chunk is yielded.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from pydantic import Field, PrivateAttr

from rag.errors import ZhikuError
from rag.tokens import estimate_tokens

Message = dict[str, str]
"""One chat message: `{"role": "system" | "user" | "assistant", "content": "..."}`."""


class ContextWindowExceededError(ZhikuError):
    """The prompt alone does not fit into the model's context window."""


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling settings for one call: the instance defaults with per-call overrides."""

    max_new_tokens: int
    temperature: float
    top_p: float
    repetition_penalty: float

    def checked(self) -> GenerationSettings:
        """Itself, after checking the ranges the LLM entries (rag.settings) also enforce."""
        problems = []
        if self.max_new_tokens < 1:
            problems.append(f"max_new_tokens must be >= 1 (got {self.max_new_tokens})")
        if not 0.0 <= self.temperature <= 2.0:
            problems.append(f"temperature must be in [0, 2] (got {self.temperature})")
        if not 0.0 < self.top_p <= 1.0:
            problems.append(f"top_p must be in (0, 1] (got {self.top_p})")
        if not 0.5 <= self.repetition_penalty <= 2.0:
            problems.append(
                f"repetition_penalty must be in [0.5, 2] (got {self.repetition_penalty})"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


GENERATION_KEYS = ("max_new_tokens", "temperature", "top_p", "repetition_penalty")
"""The keyword arguments `invoke`/`stream` accept as per-call overrides."""


class StopCutter:
    """Cuts streamed text at the first stop string, so that no stop string is ever emitted.

    Feed it the pieces as they arrive; it returns the text that is safe to pass on. A
    piece's tail that could be the beginning of a stop string is held back until the next
    piece proves it is not (at most `len(longest stop) - 1` characters), so a stop string
    split over two or more pieces is still found. After a stop string is seen, `stopped`
    is true and everything from it on is dropped. Of several stop strings, the one that
    starts earliest in the text wins.
    """

    def __init__(self, stop: Sequence[str] | None = None) -> None:
        self._stops: tuple[str, ...] = tuple(s for s in (stop or ()) if s)
        self._max_hold = max((len(s) for s in self._stops), default=1) - 1
        self._pending = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Add one piece; return the text that can be emitted now."""
        if self.stopped:
            return ""
        text = self._pending + piece
        if not self._stops:
            self._pending = ""
            return text
        cut = min((i for i in (text.find(s) for s in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self._pending = ""
            self.stopped = True
            return text[:cut]
        hold = self._held_back(text)
        self._pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        """The text still held back, at the end of the stream (empty after a stop)."""
        text, self._pending = ("" if self.stopped else self._pending), ""
        return text

    def _held_back(self, text: str) -> int:
        """Length of the longest tail of `text` that is a proper prefix of a stop string."""
        for size in range(min(len(text), self._max_hold), 0, -1):
            tail = text[-size:]
            if any(s.startswith(tail) for s in self._stops):
                return size
        return 0


_MAX_PARALLEL = 8
"""Most prompts of one batch sent at once to a server (backends with `serialize = False`)."""


def _result(chunks: Sequence[GenerationChunk]) -> LLMResult:
    return LLMResult(
        generations=[
            [Generation(text=chunk.text, generation_info=chunk.generation_info)] for chunk in chunks
        ]
    )


class ZhikuLLM(LLM, ABC):
    """A local chat model as a LangChain LLM: the string prompt is the user message.

    The prompt becomes `[{"role": "system", ...} (when `system_prompt` is set),
    {"role": "user", "content": prompt}]` and the backend formats it with the model's own
    chat template. Generation settings and the system message can be overridden per call:
    `llm.invoke(prompt, max_new_tokens=16, temperature=0, system_prompt="...")`.

    One instance holds one loaded model; a lock serializes generation on it, so concurrent
    requests queue up instead of corrupting the model state. A caller that holds a
    `stream()` open blocks other callers until it finishes or closes the stream.
    """

    backend: ClassVar[str]
    """Name of the backend in `LLM_MODEL_DICT` entries (`"gguf"`, `"transformers"`...)."""

    serialize: ClassVar[bool] = True
    """Whether generation holds the instance's lock (one in-process model). A client of a
    server (`openai`) sets it to False: the server schedules concurrent requests."""

    model: str
    """Name of the entry in `LLM_MODEL_DICT` this instance runs."""

    system_prompt: str | None = None
    """System message sent before every prompt; `None` sends none (the chat template may
    then add the model's own default)."""

    max_new_tokens: int = Field(default=512, ge=1)
    """Most tokens generated per call."""

    temperature: float = Field(default=0.1, ge=0.0, le=2.0)
    """Sampling temperature; 0 picks the most likely token every time (greedy)."""

    top_p: float = Field(default=0.9, gt=0.0, le=1.0)
    """Nucleus sampling: sample only from the smallest token set with this total
    probability."""

    repetition_penalty: float = Field(default=1.05, ge=0.5, le=2.0)
    """Penalty on tokens already generated (1.0 = none)."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    # ---- what a backend implements -------------------------------------------------------

    @abstractmethod
    def _load(self) -> None:
        """Create the heavy client unless it exists. Called with the lock held."""

    @abstractmethod
    def _stream_text(
        self,
        messages: list[Message],
        stop: list[str] | None,
        gen: GenerationSettings,
        info: dict[str, Any],
    ) -> Iterator[str]:
        """Yield raw text pieces of the answer to `messages`.

        Called with the lock held and the client loaded. `stop` is informational (the base
        class cuts the text); a backend may use it to end generation early. Put what the
        backend knows about the run into `info` (`finish_reason`, `usage` with
        `prompt_tokens` / `completion_tokens` / `total_tokens`): it becomes the
        `generation_info` of the last chunk. The generator may be closed early (after a
        stop string); it must then stop generating and release its resources.
        """

    def _astream_text(
        self,
        messages: list[Message],
        stop: list[str] | None,
        gen: GenerationSettings,
        info: dict[str, Any],
    ) -> AsyncIterator[str]:
        """Native async `_stream_text` (an async generator), for backends that have one.

        Not called with the lock held; `_load()` has run. Without it, async calls run
        `_stream_text` in a worker thread.
        """
        raise NotImplementedError

    def _model_params(self) -> dict[str, Any]:
        """Backend-specific identifying parameters (model source, context window...)."""
        return {}

    # ---- public helpers ------------------------------------------------------------------

    def load(self) -> Self:
        """Load the model now instead of on the first call (e.g. at app start-up)."""
        with self._lock:
            self._load()
        return self

    def get_num_tokens(self, text: str) -> int:
        """`text`'s length in this model's tokens. This base estimates it (LangChain's
        default would fetch GPT-2's tokenizer from the hub); a backend with its tokenizer at
        hand counts exactly."""
        return estimate_tokens(text)

    def messages_for(self, prompt: str, system_prompt: str | None = None) -> list[Message]:
        """The chat messages a string prompt is sent as; `system_prompt` replaces the
        instance's system message for this prompt."""
        messages: list[Message] = []
        if system := system_prompt or self.system_prompt:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt})
        return messages

    def yes_probability(self, prompt: str, system_prompt: str | None = None) -> float | None:
        """How sure the model is that its reply to the yes-or-no question `prompt` begins
        with "Yes": P(Yes) / (P(Yes) + P(No)) over its first token; None when this backend
        cannot tell (it gives no token probabilities)."""
        messages = self.messages_for(prompt, system_prompt)
        with self._turn():
            return self._yes_probability(messages)

    def _yes_probability(self, messages: list[Message]) -> float | None:
        """`yes_probability` of a backend that has the first token's probabilities."""
        return None

    def call_setup(
        self, prompt: str, kwargs: Mapping[str, Any]
    ) -> tuple[GenerationSettings, list[Message]]:
        """A call's generation settings and messages, from its keyword arguments (the
        overrides of GENERATION_KEYS, and `system_prompt`)."""
        overrides = dict(kwargs)
        system_prompt = overrides.pop("system_prompt", None)
        return self.generation_settings(overrides), self.messages_for(prompt, system_prompt)

    def generation_settings(self, overrides: Mapping[str, Any] | None = None) -> GenerationSettings:
        """The instance's generation settings with `overrides` applied and checked."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(GENERATION_KEYS))
        if unknown:
            raise ValueError(
                f"unknown generation argument(s) {', '.join(unknown)}; "
                f"valid: {', '.join(GENERATION_KEYS)}"
            )
        base = GenerationSettings(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            repetition_penalty=self.repetition_penalty,
        )
        try:
            typed: dict[str, Any] = {
                key: int(value) if key == "max_new_tokens" else float(value)
                for key, value in overrides.items()
            }
        except (TypeError, ValueError) as exc:
            raise ValueError(f"generation arguments must be numbers: {exc}") from None
        return replace(base, **typed).checked()

    # ---- LangChain LLM interface ---------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return f"zhiku-{self.backend}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.model,
            **self._model_params(),
            "system_prompt": self.system_prompt,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "repetition_penalty": self.repetition_penalty,
        }

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        gen, messages = self.call_setup(prompt, kwargs)
        cutter = StopCutter(stop)
        info: dict[str, Any] = {}
        with self._turn():
            pieces = self._stream_text(messages, stop, gen, info)
            try:
                for piece in pieces:
                    text = cutter.feed(piece)
                    if text:
                        yield self._chunk(text, run_manager)
                    if cutter.stopped:
                        break
            finally:
                close = getattr(pieces, "close", None)
                if close is not None:
                    close()
        if cutter.stopped:
            info["finish_reason"] = "stop"
        # The last chunk carries the run's info; it may have no text (an empty answer, or
        # nothing held back), but LangChain needs at least one chunk per run.
        yield self._chunk(cutter.flush(), run_manager, info)

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        return self._collect(prompt, stop, run_manager, **kwargs).text

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        # Like `LLM._generate`, but keeps each answer's `generation_info` (token usage), and
        # sends a batch's prompts at once to a server (`batch` calls this with all of them).
        def collect(prompt: str) -> GenerationChunk:
            return self._collect(prompt, stop, run_manager, **kwargs)

        if self.serialize or len(prompts) < 2:
            chunks = [collect(prompt) for prompt in prompts]
        else:
            with ThreadPoolExecutor(min(len(prompts), _MAX_PARALLEL)) as pool:
                chunks = list(pool.map(collect, prompts))
        return _result(chunks)

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        if not self._has_native_async():
            async for chunk in self._astream_in_thread(prompt, stop, run_manager, **kwargs):
                yield chunk
            return
        gen, messages = self.call_setup(prompt, kwargs)
        cutter = StopCutter(stop)
        info: dict[str, Any] = {}
        with self._lock:
            self._load()  # a native-async backend's `_load` is quick (creates clients)
        pieces = self._astream_text(messages, stop, gen, info)
        try:
            async for piece in pieces:
                text = cutter.feed(piece)
                if text:
                    yield await self._achunk(text, run_manager)
                if cutter.stopped:
                    break
        finally:
            aclose = getattr(pieces, "aclose", None)
            if aclose is not None:
                await aclose()
        if cutter.stopped:
            info["finish_reason"] = "stop"
        yield await self._achunk(cutter.flush(), run_manager, info)

    async def _acall(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        return (await self._acollect(prompt, stop, run_manager, **kwargs)).text

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.serialize or len(prompts) < 2:
            chunks = [
                await self._acollect(prompt, stop, run_manager, **kwargs) for prompt in prompts
            ]
        else:
            limit = asyncio.Semaphore(_MAX_PARALLEL)

            async def collect(prompt: str) -> GenerationChunk:
                async with limit:
                    return await self._acollect(prompt, stop, run_manager, **kwargs)

            chunks = list(await asyncio.gather(*(collect(prompt) for prompt in prompts)))
        return _result(chunks)

    # ---- internals -----------------------------------------------------------------------

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """One generation's hold on the model: loaded, and locked when `serialize` is set."""
        if self.serialize:
            with self._lock:
                self._load()
                yield
        else:
            with self._lock:
                self._load()
            yield

    def _has_native_async(self) -> bool:
        return type(self)._astream_text is not ZhikuLLM._astream_text

    async def _astream_in_thread(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        """`_stream` run in a thread of its own, its chunks handed over to the event loop.

        The callbacks are awaited here, on the loop, before each chunk is yielded. When the
        caller stops early, the thread closes the sync stream at its next chunk, which
        ends generation and releases the lock.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        abandoned = threading.Event()

        def hand_over(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:  # the loop is closed: nobody is listening any more
                abandoned.set()

        def produce() -> None:
            try:
                chunks = self._stream(prompt, stop, None, **kwargs)
                try:
                    for chunk in chunks:
                        if abandoned.is_set():
                            break
                        hand_over("chunk", chunk)
                finally:
                    chunks.close()  # type: ignore[attr-defined]
            except BaseException as exc:  # raised again on the loop
                hand_over("error", exc)
            else:
                hand_over("done", None)

        context = contextvars.copy_context()
        worker = threading.Thread(
            target=context.run, args=(produce,), name=f"zhiku-llm-{self.model}", daemon=True
        )
        worker.start()
        try:
            while True:
                kind, value = await queue.get()
                if kind == "chunk":
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(value.text, chunk=value)
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            abandoned.set()

    async def _acollect(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        **kwargs: Any,
    ) -> GenerationChunk:
        """Run `_astream` to the end and merge its chunks into one."""
        merged: GenerationChunk | None = None
        async for chunk in self._astream(prompt, stop=stop, run_manager=run_manager, **kwargs):
            merged = chunk if merged is None else merged + chunk
        assert merged is not None  # `_astream` always yields a last chunk
        return merged

    def _collect(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        **kwargs: Any,
    ) -> GenerationChunk:
        """Run `_stream` to the end and merge its chunks into one."""
        merged: GenerationChunk | None = None
        for chunk in self._stream(prompt, stop=stop, run_manager=run_manager, **kwargs):
            merged = chunk if merged is None else merged + chunk
        assert merged is not None  # `_stream` always yields a last chunk
        return merged

    @staticmethod
    def _chunk(
        text: str,
        run_manager: CallbackManagerForLLMRun | None,
        info: dict[str, Any] | None = None,
    ) -> GenerationChunk:
        """A chunk, announced to the callbacks before the caller yields it."""
        chunk = GenerationChunk(text=text, generation_info=info or None)
        if run_manager is not None:
            run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk

    @staticmethod
    async def _achunk(
        text: str,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        info: dict[str, Any] | None = None,
    ) -> GenerationChunk:
        """`_chunk` for async runs: the callbacks are awaited before the chunk is yielded."""
        chunk = GenerationChunk(text=text, generation_info=info or None)
        if run_manager is not None:
            await run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk
