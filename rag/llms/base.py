"""The LangChain LLM every zhiku backend derives from, and the stop-string cutter.

A backend implements two small methods: `_load()` (create the heavy client once) and
`_stream_text()` (raw text pieces for a list of chat messages). This base class turns them
into a custom LangChain `LLM`: `invoke`, `stream`, `batch`, their async versions and
`prompt | llm | parser` all work, callbacks see every token before it is yielded, stop
strings are cut here the same way for every backend, and one lock per instance serializes
generation so that one loaded model can serve concurrent requests.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from langchain_core.runnables.config import run_in_executor
from pydantic import Field, PrivateAttr

from rag.errors import ZhikuError

Message = dict[str, str]
"""One chat message: `{"role": "system" | "user" | "assistant", "content": "..."}`."""


class ContextWindowExceededError(ZhikuError):
    """The prompt alone does not fit into the model's context window."""

    http_status = 413


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling settings for one call: the instance defaults with per-call overrides."""

    max_new_tokens: int
    temperature: float
    top_p: float
    repetition_penalty: float

    def checked(self) -> GenerationSettings:
        """Itself, after checking the ranges `LLMModelEntry` also enforces."""
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


class ZhikuLLM(LLM, ABC):
    """A local chat model as a LangChain LLM: the string prompt is the user message.

    The prompt becomes `[{"role": "system", ...} (when `system_prompt` is set),
    {"role": "user", "content": prompt}]` and the backend formats it with the model's own
    chat template. Generation settings can be overridden per call:
    `llm.invoke(prompt, max_new_tokens=16, temperature=0)`.

    One instance holds one loaded model; a lock serializes generation on it, so concurrent
    requests queue up instead of corrupting the model state. A caller that holds a
    `stream()` open blocks other callers until it finishes or closes the stream.
    """

    backend: ClassVar[str]
    """Name of the backend in `LLM_MODEL_DICT` entries (`"gguf"`, `"transformers"`)."""

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

    def _model_params(self) -> dict[str, Any]:
        """Backend-specific identifying parameters (model source, context window...)."""
        return {}

    # ---- public helpers ------------------------------------------------------------------

    def load(self) -> Self:
        """Load the model now instead of on the first call (e.g. at app start-up)."""
        with self._lock:
            self._load()
        return self

    def messages_for(self, prompt: str) -> list[Message]:
        """The chat messages a string prompt is sent as."""
        messages: list[Message] = []
        if self.system_prompt:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": prompt})
        return messages

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
        gen = self.generation_settings(kwargs)
        messages = self.messages_for(prompt)
        cutter = StopCutter(stop)
        info: dict[str, Any] = {}
        with self._lock:
            self._load()
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
        # Like `LLM._generate`, but keeps each answer's `generation_info` (token usage).
        generations: list[list[Generation]] = []
        for prompt in prompts:
            chunk = self._collect(prompt, stop, run_manager, **kwargs)
            generations.append([Generation(text=chunk.text, generation_info=chunk.generation_info)])
        return LLMResult(generations=generations)

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        return await run_in_executor(
            None,
            self._generate,
            prompts,
            stop,
            run_manager.get_sync() if run_manager else None,
            **kwargs,
        )

    # ---- internals -----------------------------------------------------------------------

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
