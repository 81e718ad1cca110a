"""Local LLMs as LangChain LLMs: `build_llm(setup)` returns the one an `LLMSetup` names
(`rag.factory.llm_setup(settings)` makes it from the settings).

Backends live in their own modules and are imported only when chosen, so that a missing
optional package (llama-cpp-python, transformers, httpx) matters only to the backend
needing it:

- `gguf`: llama-cpp-python in this process (the shipped default models);
- `transformers`: a model folder or hub id through Hugging Face transformers;
- `openai`: an OpenAI-compatible server (FastChat, vLLM, Ollama, llama_cpp.server,
  `transformers serve`) over HTTP;
- `hf_pipeline`: langchain-huggingface's `HuggingFacePipeline`, the plain alternative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from rag.errors import ConfigError, ModelUnavailableError
from rag.llms.assets import pip_install_hint
from rag.llms.base import ContextWindowExceededError, StopCutter, ZhikuLLM
from rag.llms.setup import LLMSetup

if TYPE_CHECKING:
    from rag.llms.hf_pipeline import ZhikuHFPipeline

    AnyLLM: TypeAlias = ZhikuLLM | ZhikuHFPipeline
else:
    AnyLLM = ZhikuLLM

__all__ = [
    "BACKENDS",
    "AnyLLM",
    "ContextWindowExceededError",
    "LLMSetup",
    "StopCutter",
    "ZhikuLLM",
    "build_llm",
]


def _missing(backend: str, exc: ImportError, distributions: list[str]) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"the {backend!r} LLM backend needs a package that is not installed "
        f"({exc.name or exc}): {pip_install_hint(distributions)}"
    )


def _build_gguf(setup: LLMSetup) -> AnyLLM:
    try:
        import llama_cpp  # noqa: F401  (checked here so the error names the package)

        from rag.llms.gguf import GGUFLLM
    except ImportError as exc:
        raise _missing("gguf", exc, ["llama-cpp-python"]) from exc
    return GGUFLLM.from_setup(setup)


def _build_transformers(setup: LLMSetup) -> AnyLLM:
    try:
        from rag.llms.transformers_backend import TransformersLLM
    except ImportError as exc:
        raise _missing("transformers", exc, ["torch", "transformers", "accelerate"]) from exc
    return TransformersLLM.from_setup(setup)


def _build_openai(setup: LLMSetup) -> AnyLLM:
    try:
        from rag.llms.openai_compat import OpenAICompatLLM
    except ImportError as exc:
        raise _missing("openai", exc, ["httpx"]) from exc
    return OpenAICompatLLM.from_setup(setup)


def _build_hf_pipeline(setup: LLMSetup) -> AnyLLM:
    try:
        from rag.llms.hf_pipeline import build_hf_pipeline
    except ImportError as exc:
        raise _missing(
            "hf_pipeline", exc, ["langchain-huggingface", "torch", "transformers"]
        ) from exc
    return build_hf_pipeline(setup)


BACKENDS: dict[str, Callable[[LLMSetup], AnyLLM]] = {
    "gguf": _build_gguf,
    "transformers": _build_transformers,
    "openai": _build_openai,
    "hf_pipeline": _build_hf_pipeline,
}
"""Backend name (an entry's `backend`, one of rag.settings.LLM_BACKENDS) -> builder of its LLM."""


def build_llm(setup: LLMSetup) -> AnyLLM:
    """The LLM of `setup.entry`, ready to use.

    A `ZhikuLLM` loads its model on first use (call `.load()` to load it now; for `openai`
    it checks that the server answers). `hf_pipeline` loads the model here.
    """
    entry = setup.entry
    builder = BACKENDS.get(entry.backend)
    if builder is None:
        raise ConfigError(
            f"LLM_MODEL_DICT[{setup.name!r}].backend={entry.backend!r} is not a known "
            f"LLM backend; valid: {', '.join(sorted(BACKENDS))}"
        )
    return builder(setup)
