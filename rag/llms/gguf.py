"""GGUF models through llama-cpp-python (`llama_cpp.Llama`).

The chat template comes from the GGUF file's metadata: `create_chat_completion` formats the
messages with it. One `Llama` per instance; llama-cpp-python keeps the evaluated tokens of
the last call and reuses their common prefix with the next prompt (the system prompt and
the shared prompt head are not evaluated again), so the instance is kept and never reset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import PrivateAttr

from rag.devices import llama_cpp_can_offload, resolve_device
from rag.errors import ModelUnavailableError
from rag.llms.assets import pip_install_hint, resolve_gguf_path
from rag.llms.base import ContextWindowExceededError, GenerationSettings, Message, ZhikuLLM
from rag.llms.repack import llama_params, repack_enabled
from rag.llms.setup import LLMSetup
from rag.settings import GGUFEntry

if TYPE_CHECKING:
    from llama_cpp import Llama


def yes_share(logits: Any, tokens: tuple[list[int], list[int]]) -> float:
    """P(yes) / (P(yes) + P(no)) from next-token logits, each side summed over its ids."""
    import numpy as np

    values = np.asarray(logits, dtype=np.float64)
    top = values.max()
    yes = float(np.exp(values[tokens[0]] - top).sum())
    no = float(np.exp(values[tokens[1]] - top).sum())
    return yes / (yes + no) if yes + no > 0 else 0.0


def gpu_layers(device: str) -> int:
    """Layers llama.cpp offloads for LLM_DEVICE: "auto" all of them when this build of
    llama.cpp can offload (built with CUDA or Metal, and a GPU is there), else none; "cpu"
    none; "cuda" / "mps" all (an error when torch sees no such device)."""
    if device == "auto":
        return -1 if llama_cpp_can_offload() else 0
    return 0 if resolve_device(device) == "cpu" else -1


class GGUFLLM(ZhikuLLM):
    """A GGUF model run by llama.cpp, on the CPU or with layers offloaded to a GPU."""

    backend: ClassVar[str] = "gguf"

    entry: GGUFEntry
    """The model's entry in LLM_MODEL_DICT (file or part packages, context window...)."""

    cache_dir: Path
    """Where a GGUF assembled from part packages is kept."""

    n_threads: int
    """CPU threads llama.cpp uses."""

    n_gpu_layers: int
    """Layers offloaded to the GPU: 0 = none (CPU only), -1 = all."""

    _llama: Llama | None = PrivateAttr(default=None)
    _model_path: Path | None = PrivateAttr(default=None)

    @classmethod
    def from_setup(cls, setup: LLMSetup) -> GGUFLLM:
        """The LLM of `setup`'s gguf entry, not loaded yet."""
        entry = setup.entry_as(GGUFEntry)
        n_gpu_layers = entry.n_gpu_layers
        if n_gpu_layers is None:
            n_gpu_layers = gpu_layers(setup.device)
        return cls(
            model=setup.name,
            entry=entry,
            cache_dir=setup.cache_dir,
            n_threads=entry.n_threads or os.cpu_count() or 1,
            n_gpu_layers=n_gpu_layers,
            system_prompt=setup.system_prompt,
            max_new_tokens=entry.max_new_tokens,
            temperature=entry.temperature,
            top_p=entry.top_p,
            repetition_penalty=entry.repetition_penalty,
        )

    @property
    def model_path(self) -> Path | None:
        """The GGUF file, once loaded."""
        return self._model_path

    def _model_params(self) -> dict[str, Any]:
        return {
            "model_source": self.entry.local_model_path
            or self.entry.sha256
            or ",".join(self.entry.part_packages),
            "context_window": self.entry.context_window,
            "n_gpu_layers": self.n_gpu_layers,
        }

    def _load(self) -> None:
        if self._llama is not None:
            return
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelUnavailableError(
                f"the gguf backend needs llama-cpp-python: {pip_install_hint(['llama-cpp-python'])}"
            ) from exc
        path = resolve_gguf_path(self.entry, self.cache_dir, name=self.model)
        repack = repack_enabled(self.entry.weight_repack, path, self.cache_dir)
        try:
            with llama_params(use_extra_bufts=repack):
                self._llama = Llama(
                    model_path=str(path),
                    n_ctx=self.entry.context_window,
                    n_threads=self.n_threads,
                    n_batch=self.entry.n_batch,
                    flash_attn=self.entry.flash_attn,
                    n_gpu_layers=self.n_gpu_layers,
                    verbose=False,
                )
        except ValueError as exc:  # llama-cpp-python's way of saying "cannot load"
            raise ModelUnavailableError(
                f"llama.cpp cannot load LLM {self.model!r} from {path}: {exc}"
            ) from exc
        self._model_path = path

    def get_num_tokens(self, text: str) -> int:
        """`text`'s length in the model's own tokens (estimated until the model is loaded)."""
        llama = self._llama
        if llama is None:
            return super().get_num_tokens(text)
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _yes_probability(self, messages: list[Message]) -> float | None:
        """The first token's distribution, read in a logits processor: llama.cpp gives
        probabilities per token only when it keeps the logits of every prompt token
        (`logits_all`), which would cost memory and time on every answer."""
        llama = self._llama
        assert llama is not None  # `_turn` loaded it
        captured: list[Any] = []

        def capture(_input_ids: Any, scores: Any) -> Any:
            captured.append(scores.copy())
            return scores

        llama.create_chat_completion(
            messages=cast(Any, messages),
            max_tokens=1,
            temperature=0.0,
            logits_processor=cast(Any, [capture]),
        )
        return yes_share(captured[0], self._answer_tokens(llama)) if captured else None

    def _answer_tokens(self, llama: Llama) -> tuple[list[int], list[int]]:
        """The token ids a reply starting "Yes" / "No" may begin with."""

        def ids(*words: str) -> list[int]:
            found = {
                llama.tokenize(word.encode(), add_bos=False, special=False)[0] for word in words
            }
            return sorted(found)

        return ids("Yes", " Yes", "yes"), ids("No", " No", "no")

    def _stream_text(
        self,
        messages: list[Message],
        stop: list[str] | None,
        gen: GenerationSettings,
        info: dict[str, Any],
    ) -> Iterator[str]:
        llama = self._llama
        assert llama is not None  # `_load` ran
        # `stop` is not passed on: the base class cuts it and closes this generator,
        # which ends generation at once.
        chunks = cast(
            Iterator[dict[str, Any]],
            llama.create_chat_completion(
                messages=cast(Any, messages),
                stream=True,
                max_tokens=gen.max_new_tokens,
                temperature=gen.temperature,
                top_p=gen.top_p,
                repeat_penalty=gen.repetition_penalty,
                seed=self.entry.seed,
            ),
        )
        prompt_tokens: int | None = None
        finish_reason: str | None = None
        try:
            for chunk in chunks:
                if prompt_tokens is None:
                    # The first chunk comes right after the prompt was evaluated and the
                    # first token sampled (not yet evaluated): the context holds the prompt.
                    prompt_tokens = llama.n_tokens
                choice = chunk["choices"][0]
                finish_reason = choice.get("finish_reason") or finish_reason
                text = choice["delta"].get("content")
                if text:
                    yield text
        except ValueError as exc:
            if "exceed context window" in str(exc):
                raise ContextWindowExceededError(
                    f"the prompt does not fit the context window of LLM {self.model!r} "
                    f"({self.entry.context_window} tokens): {exc}; shorten the question or "
                    f"the retrieved context"
                ) from exc
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            # The context now holds the prompt and every generated token but the last one
            # sampled; an end-of-turn token is sampled but not part of the answer.
            if prompt_tokens is not None:
                generated = llama.n_tokens - prompt_tokens
                completion_tokens = generated if finish_reason == "stop" else generated + 1
                info["usage"] = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                }
            if finish_reason:
                info["finish_reason"] = finish_reason
