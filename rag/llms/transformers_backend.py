"""Models run by Hugging Face transformers: a local model folder or a hub id.

The tokenizer's own chat template formats the messages; `generate` runs in a worker thread
and a token-level `TextIteratorStreamer` hands the text over as it is produced. Closing
the stream (e.g. after a stop string) stops the worker at its next token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import torch
from pydantic import PrivateAttr
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from rag.devices import resolve_device
from rag.errors import ModelUnavailableError
from rag.llms.assets import pip_install_hint
from rag.llms.base import ContextWindowExceededError, GenerationSettings, Message, ZhikuLLM
from rag.llms.setup import LLMSetup
from rag.settings import TransformersEntry

logger = logging.getLogger(__name__)

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def pick_dtype(requested: str, device: str) -> torch.dtype:
    """`auto`: bf16 on a GPU that supports it, else fp16 on a GPU, fp32 on the CPU."""
    if requested != "auto":
        return _DTYPES[requested]
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "mps":
        return torch.float16
    return torch.float32


def end_of_turn_ids(model: Any, tokenizer: Any) -> list[int]:
    """Token ids that end the answer: the generation config's eos plus the tokenizer's.

    Chat models end a turn with a token of their template (`<|im_end|>`, `<|eot_id|>`,
    GLM's `<|user|>`) that one of the two names, not always both.
    """
    ids: list[int] = []
    configured = model.generation_config.eos_token_id
    for value in [
        *(configured if isinstance(configured, list) else [configured]),
        tokenizer.eos_token_id,
    ]:
        if value is not None and value not in ids:
            ids.append(int(value))
    return ids


class _Cancelled(StoppingCriteria):
    """Stops `generate` once the event is set (the reader went away)."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor | None, **kwargs: Any
    ) -> torch.BoolTensor:
        stop = torch.full(
            (input_ids.shape[0],), self._event.is_set(), dtype=torch.bool, device=input_ids.device
        )
        return stop  # type: ignore[return-value]


class _TokenStreamer(TextIteratorStreamer):
    """Hands text over token by token (the stock streamer waits for whole words).

    Text is held back only while it ends in an incomplete UTF-8 sequence (U+FFFD), e.g.
    the first byte-level token of a Chinese character.
    """

    def put(self, value: torch.Tensor) -> None:
        if value.dim() > 1:
            if value.shape[0] > 1:
                raise ValueError("streaming supports one sequence at a time")
            value = value[0]
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.token_cache.extend(value.tolist())
        text = str(self.tokenizer.decode(self.token_cache, **self.decode_kwargs))
        if text.endswith("\ufffd"):
            return
        printable = text[self.print_len :]
        if text.endswith("\n"):  # start afresh, so that decoding stays cheap
            self.token_cache, self.print_len = [], 0
        else:
            self.print_len = len(text)
        self.on_finalized_text(printable)


class TransformersLLM(ZhikuLLM):
    """A causal LM loaded with `AutoModelForCausalLM` from a folder or a hub id."""

    backend: ClassVar[str] = "transformers"

    entry: TransformersEntry
    """The model's entry in LLM_MODEL_DICT (source, dtype, trust_remote_code...)."""

    device: str = "cpu"
    """Resolved torch device: `cpu`, `cuda` (weights placed by `device_map="auto"`) or
    `mps`."""

    _model: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)

    @classmethod
    def from_setup(cls, setup: LLMSetup) -> TransformersLLM:
        """The LLM of `setup`'s transformers entry, not loaded yet."""
        entry = setup.entry_as(TransformersEntry)
        return cls(
            model=setup.name,
            entry=entry,
            device=resolve_device(setup.device),
            system_prompt=setup.system_prompt,
            max_new_tokens=entry.max_new_tokens,
            temperature=entry.temperature,
            top_p=entry.top_p,
            repetition_penalty=entry.repetition_penalty,
        )

    def _model_params(self) -> dict[str, Any]:
        return {
            "model_source": self.entry.local_model_path or self.entry.pretrained_model_name,
            "context_window": self.entry.context_window,
            "device": self.device,
            "torch_dtype": self.entry.torch_dtype,
        }

    def _load(self) -> None:
        if self._model is not None:
            return
        source = self.entry.model_source()
        if self.entry.local_model_path and not Path(source).is_dir():
            raise ModelUnavailableError(
                f"LLM_MODEL_DICT[{self.model!r}].local_model_path="
                f"{self.entry.local_model_path!r}: no such model folder ({source})"
            )
        trust = self.entry.trust_remote_code
        options: dict[str, Any] = {
            "dtype": pick_dtype(self.entry.torch_dtype, self.device),
            "trust_remote_code": trust,
        }
        if self.device == "cuda":
            options["device_map"] = "auto"
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust)
            model: Any = AutoModelForCausalLM.from_pretrained(source, **options)
        except ImportError as exc:  # e.g. accelerate for device_map="auto"
            raise ModelUnavailableError(
                f"loading LLM {self.model!r} needs a package that is not installed ({exc}): "
                f"{pip_install_hint(['accelerate'])}"
            ) from exc
        except (OSError, ValueError) as exc:
            hint = (
                ""
                if self.entry.local_model_path
                else "; zhiku runs offline: download the model and set local_model_path"
            )
            raise ModelUnavailableError(
                f"cannot load LLM {self.model!r} from {source!r}: {exc}{hint}"
            ) from exc
        if self.device != "cuda":
            model.to(self.device)
        model.eval()
        if getattr(tokenizer, "chat_template", None) is None:
            logger.warning(
                "LLM %r has no chat template; prompts are sent as plain text", self.model
            )
        self._tokenizer, self._model = tokenizer, model

    def _end_of_turn_ids(self) -> list[int]:
        return end_of_turn_ids(self._model, self._tokenizer)

    def _encode(self, messages: list[Message]) -> torch.Tensor:
        tokenizer = self._tokenizer
        if getattr(tokenizer, "chat_template", None) is not None:
            text = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        else:
            text = "\n\n".join(m["content"] for m in messages)
        encoded = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        input_ids: torch.Tensor = encoded["input_ids"]
        return input_ids.to(self._model.device)

    def _max_new_tokens(self, prompt_tokens: int, gen: GenerationSettings) -> int:
        """The answer's token budget: what the context window leaves after the prompt."""
        window = self.entry.context_window
        if prompt_tokens >= window:
            raise ContextWindowExceededError(
                f"the prompt has {prompt_tokens} tokens, more than the context window of LLM "
                f"{self.model!r} ({window}); shorten the question or the retrieved context"
            )
        return min(gen.max_new_tokens, window - prompt_tokens)

    def _generate_arguments(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int,
        gen: GenerationSettings,
        end_ids: list[int],
        streamer: _TokenStreamer,
        cancel: threading.Event,
    ) -> dict[str, Any]:
        """Keyword arguments of `generate`: sampling, end tokens, streamer, cancellation."""
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": gen.temperature, "top_p": gen.top_p}
            if gen.temperature > 0
            else {"do_sample": False}
        )
        return {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": max_new_tokens,
            "repetition_penalty": gen.repetition_penalty,
            "eos_token_id": end_ids or None,
            "pad_token_id": self._tokenizer.pad_token_id
            if self._tokenizer.pad_token_id is not None
            else (end_ids[0] if end_ids else None),
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([_Cancelled(cancel)]),
            **sampling,
        }

    def _stream_text(
        self,
        messages: list[Message],
        stop: list[str] | None,
        gen: GenerationSettings,
        info: dict[str, Any],
    ) -> Iterator[str]:
        input_ids = self._encode(messages)
        prompt_tokens = int(input_ids.shape[-1])
        max_new_tokens = self._max_new_tokens(prompt_tokens, gen)
        end_ids = self._end_of_turn_ids()
        streamer = _TokenStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()
        arguments = self._generate_arguments(
            input_ids, max_new_tokens, gen, end_ids, streamer, cancel
        )
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                with torch.inference_mode():
                    outcome["sequences"] = self._model.generate(**arguments)
            except BaseException as exc:  # handed to the reading thread, raised there
                outcome["error"] = exc
                streamer.end()

        worker = threading.Thread(target=work, name=f"zhiku-generate-{self.model}", daemon=True)
        worker.start()
        try:
            for text in streamer:
                if text:
                    yield text
        finally:
            cancel.set()
            worker.join()
        if "error" in outcome:
            raise outcome["error"]
        _record_finish(info, outcome["sequences"][0], prompt_tokens, end_ids)


def _record_finish(
    info: dict[str, Any], sequence: torch.Tensor, prompt_tokens: int, end_ids: list[int]
) -> None:
    """Why generation stopped (`stop`: an end-of-turn token; `length`: the budget ran out)
    and the token usage, into `info`."""
    completion_tokens = int(sequence.shape[-1]) - prompt_tokens
    ended = completion_tokens > 0 and int(sequence[-1]) in end_ids
    if ended:
        completion_tokens -= 1  # the end-of-turn token is not part of the answer
    info["finish_reason"] = "stop" if ended else "length"
    info["usage"] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
