"""The plain `HuggingFacePipeline` route (langchain-huggingface), as an alternative backend.

`build_hf_pipeline(setup)` loads a model folder (or hub id) with transformers, wraps it
in a `text-generation` pipeline and returns a `HuggingFacePipeline` — usable wherever one
is, e.g. `PromptTemplate.from_template("...{question}") | llm | StrOutputParser()`.
Choose it with `"backend": "hf_pipeline"` in an LLM_MODEL_DICT entry.

Compared with the upstream class, `ZhikuHFPipeline` only fixes what zhiku relies on:

- the prompt is sent as the user message through the tokenizer's chat template (with the
  configured system prompt), as the other backends do; `chat_template=False` sends it raw;
- the answer never repeats the prompt (`return_full_text=False`), and the templated
  prompt gets no second bos token (upstream's pipeline call adds one for Llama-3);
- generation ends at the end-of-turn token named by the generation config or the
  tokenizer (upstream only knows the generation config's);
- `stop` strings are cut in `invoke` / `batch` too (upstream ignores them there), and in
  streams even when split over tokens (upstream only stops on single whole tokens);
- streaming stops generating when the reader stops, and callbacks see exactly what is
  yielded;
- per-call `max_new_tokens` / `temperature` / `top_p` / `repetition_penalty` work like on
  the other backends; `load()` exists (the model is loaded when built).

It reports no token usage and has no lock (transformers models can generate from several
threads at once). For the whole contract and usage, prefer the `transformers` backend.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Self

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from langchain_huggingface import HuggingFacePipeline
from pydantic import Field
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteriaList, pipeline

from rag.devices import resolve_device
from rag.errors import ModelUnavailableError
from rag.llms.assets import pip_install_hint
from rag.llms.base import GENERATION_KEYS, GenerationSettings, StopCutter
from rag.llms.setup import LLMSetup
from rag.llms.transformers_backend import (
    _Cancelled,
    _TokenStreamer,
    end_of_turn_ids,
    pick_dtype,
)
from rag.settings import HFPipelineEntry


class ZhikuHFPipeline(HuggingFacePipeline):
    """A `HuggingFacePipeline` that applies the chat template and cuts stop strings."""

    model: str = ""
    """Name of the entry in LLM_MODEL_DICT (`model_id` is the model's folder or hub id)."""

    system_prompt: str | None = None
    """System message sent before every prompt (with `chat_template`)."""

    chat_template: bool = True
    """Format the prompt with the tokenizer's chat template, when it has one."""

    generation: dict[str, Any] = Field(default_factory=dict)
    """The default generation settings (`max_new_tokens`, `temperature`, `top_p`,
    `repetition_penalty`), overridable per call like on the other backends."""

    def load(self) -> Self:
        """For symmetry with the other backends: the model is loaded when built."""
        return self

    @property
    def _identifying_params(self) -> Mapping[str, Any]:
        return {
            "backend": "hf_pipeline",
            "model": self.model,
            "model_id": self.model_id,
            "system_prompt": self.system_prompt,
            "chat_template": self.chat_template,
            **self.generation,
        }

    def format_prompt(self, prompt: str) -> str:
        """The text the model is given for `prompt`."""
        tokenizer = self.pipeline.tokenizer
        if not self.chat_template or getattr(tokenizer, "chat_template", None) is None:
            return prompt
        messages = [{"role": "user", "content": prompt}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        return str(
            tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )

    def _generate_kwargs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """`generate` arguments: the defaults, our per-call overrides, then upstream's
        `pipeline_kwargs`."""
        ours = {k: v for k, v in kwargs.items() if k in GENERATION_KEYS}
        unknown = set(kwargs) - set(GENERATION_KEYS) - {"pipeline_kwargs"}
        if unknown:
            raise ValueError(
                f"unknown generation argument(s) {', '.join(sorted(unknown))}; "
                f"valid: {', '.join(GENERATION_KEYS)}, pipeline_kwargs"
            )
        merged = {**self.generation, **ours}
        gen = GenerationSettings(
            max_new_tokens=int(merged["max_new_tokens"]),
            temperature=float(merged["temperature"]),
            top_p=float(merged["top_p"]),
            repetition_penalty=float(merged["repetition_penalty"]),
        ).checked()
        end_ids = end_of_turn_ids(self.pipeline.model, self.pipeline.tokenizer)
        arguments: dict[str, Any] = {
            "max_new_tokens": gen.max_new_tokens,
            "repetition_penalty": gen.repetition_penalty,
            "return_full_text": False,
            "eos_token_id": end_ids or None,
            # the chat template already holds the special tokens (a second bos otherwise)
            "add_special_tokens": False,
        }
        if self.pipeline.tokenizer.pad_token_id is None and end_ids:
            arguments["pad_token_id"] = end_ids[0]
        if gen.temperature > 0:
            arguments.update(do_sample=True, temperature=gen.temperature, top_p=gen.top_p)
        else:
            arguments["do_sample"] = False
        arguments.update(kwargs.get("pipeline_kwargs") or {})
        return arguments

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        arguments = self._generate_kwargs(kwargs)
        generations: list[list[Generation]] = []
        for prompt in prompts:
            output = self.pipeline(self.format_prompt(prompt), **arguments)
            first = output[0] if isinstance(output, list) else output
            if isinstance(first, list):
                first = first[0]
            cutter = StopCutter(stop)
            text = cutter.feed(str(first["generated_text"])) + cutter.flush()
            generations.append([Generation(text=text)])
        return LLMResult(generations=generations)

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        arguments = self._generate_kwargs(kwargs)
        arguments.pop("return_full_text", None)
        streamer = _TokenStreamer(
            self.pipeline.tokenizer, skip_prompt=True, skip_special_tokens=True
        )
        cancel = threading.Event()
        outcome: dict[str, BaseException] = {}

        def work() -> None:
            try:
                self.pipeline(
                    self.format_prompt(prompt),
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
                    **arguments,
                )
            except BaseException as exc:  # raised in the reading thread
                outcome["error"] = exc
                streamer.end()

        worker = threading.Thread(target=work, name=f"zhiku-pipeline-{self.model}", daemon=True)
        worker.start()
        cutter = StopCutter(stop)
        try:
            for piece in streamer:
                text = cutter.feed(piece)
                if text:
                    yield self._announce(text, run_manager)
                if cutter.stopped:
                    break
        finally:
            cancel.set()
            worker.join()
        if "error" in outcome:
            raise outcome["error"]
        yield self._announce(cutter.flush(), run_manager)  # at least one chunk per run

    @staticmethod
    def _announce(text: str, run_manager: CallbackManagerForLLMRun | None) -> GenerationChunk:
        chunk = GenerationChunk(text=text)
        if run_manager is not None:
            run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk


def build_hf_pipeline(setup: LLMSetup) -> ZhikuHFPipeline:
    """The model of `setup`'s hf_pipeline entry as a loaded `HuggingFacePipeline`."""
    entry = setup.entry_as(HFPipelineEntry)
    name = setup.name
    device = resolve_device(setup.device)
    source = entry.model_source()
    if entry.local_model_path and not Path(source).is_dir():
        raise ModelUnavailableError(
            f"LLM_MODEL_DICT[{name!r}].local_model_path={entry.local_model_path!r}: no such "
            f"model folder ({source})"
        )
    trust = entry.trust_remote_code
    options: dict[str, Any] = {
        "dtype": pick_dtype(entry.torch_dtype, device),
        "trust_remote_code": trust,
    }
    if device == "cuda":
        options["device_map"] = "auto"
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust)
        model: Any = AutoModelForCausalLM.from_pretrained(source, **options)
    except ImportError as exc:
        raise ModelUnavailableError(
            f"loading LLM {name!r} needs a package that is not installed ({exc}): "
            f"{pip_install_hint(['accelerate'])}"
        ) from exc
    except (OSError, ValueError) as exc:
        hint = "" if entry.local_model_path else "; zhiku runs offline: set local_model_path"
        raise ModelUnavailableError(
            f"cannot load LLM {name!r} from {source!r}: {exc}{hint}"
        ) from exc
    if device != "cuda":
        model.to(device)
    model.eval()
    text_generation = pipeline("text-generation", model=model, tokenizer=tokenizer)
    return ZhikuHFPipeline(
        pipeline=text_generation,
        model_id=source,
        model=name,
        batch_size=1,
        system_prompt=setup.system_prompt,
        generation={
            "max_new_tokens": entry.max_new_tokens,
            "temperature": entry.temperature,
            "top_p": entry.top_p,
            "repetition_penalty": entry.repetition_penalty,
        },
    )
