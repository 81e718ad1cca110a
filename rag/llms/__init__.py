"""Local LLMs as LangChain LLMs: `build_llm(settings)` returns the configured one.

Backends live in their own modules and are imported only when chosen, so that a missing
optional package (llama-cpp-python, transformers) matters only to the backend needing it.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.errors import ConfigError, ModelUnavailableError
from rag.llms.assets import pip_install_hint
from rag.llms.base import ContextWindowExceededError, StopCutter, ZhikuLLM
from rag.settings import Settings

__all__ = ["BACKENDS", "ContextWindowExceededError", "StopCutter", "ZhikuLLM", "build_llm"]


def _missing(backend: str, exc: ImportError, distributions: list[str]) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"the {backend!r} LLM backend needs a package that is not installed "
        f"({exc.name or exc}): {pip_install_hint(distributions)}"
    )


def _build_gguf(settings: Settings) -> ZhikuLLM:
    try:
        import llama_cpp  # noqa: F401  (checked here so the error names the package)

        from rag.llms.gguf import GGUFLLM
    except ImportError as exc:
        raise _missing("gguf", exc, ["llama-cpp-python"]) from exc
    return GGUFLLM.from_settings(settings)


def _build_transformers(settings: Settings) -> ZhikuLLM:
    try:
        from rag.llms.transformers_backend import TransformersLLM
    except ImportError as exc:
        raise _missing("transformers", exc, ["torch", "transformers", "accelerate"]) from exc
    return TransformersLLM.from_settings(settings)


BACKENDS: dict[str, Callable[[Settings], ZhikuLLM]] = {
    "gguf": _build_gguf,
    "transformers": _build_transformers,
}
"""Backend name (an entry's `backend`) -> builder of the LLM for those settings."""


def build_llm(settings: Settings) -> ZhikuLLM:
    """The LLM `settings.llm_model` names, ready to use; the model loads on first use
    (call `.load()` to load it now)."""
    entry = settings.llm
    builder = BACKENDS.get(entry.backend)
    if builder is None:
        raise ConfigError(
            f"LLM_MODEL_DICT[{settings.llm_model!r}].backend={entry.backend!r} is not a known "
            f"LLM backend; valid: {', '.join(sorted(BACKENDS))}"
        )
    return builder(settings)
