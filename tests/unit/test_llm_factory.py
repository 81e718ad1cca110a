"""build_llm: backend choice, unknown backends, missing optional packages (no model loads)."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from rag.errors import ConfigError, ModelUnavailableError
from rag.factory import llm_setup
from rag.llms import BACKENDS, LLMSetup, ZhikuLLM, build_llm
from rag.settings import (
    LLM_BACKENDS,
    AnyLLMEntry,
    GGUFEntry,
    Settings,
    TransformersEntry,
    load_settings,
)


@pytest.fixture
def settings() -> Settings:
    return load_settings(env={}, llm_model="fast", llm_device="cpu")


def with_entry(settings: Settings, entry: AnyLLMEntry) -> LLMSetup:
    """`settings` with its LLM replaced by `entry` (no validation: any backend name)."""
    return dataclasses.replace(llm_setup(settings), name="x", entry=entry)


def test_unknown_backend_lists_the_valid_ones(settings: Settings) -> None:
    entry = GGUFEntry.model_construct(backend="vllm", pretrained_model_name="m")
    with pytest.raises(ConfigError) as info:
        build_llm(with_entry(settings, entry))
    message = str(info.value)
    assert "'vllm'" in message
    assert "gguf" in message
    assert "transformers" in message


def test_backend_names_match_the_settings_choices() -> None:
    assert set(BACKENDS) == set(LLM_BACKENDS)


def test_gguf_entry_builds_without_loading(settings: Settings) -> None:
    llm = build_llm(llm_setup(settings))
    assert isinstance(llm, ZhikuLLM)
    assert llm._llm_type == "zhiku-gguf"
    assert llm.model == "fast"
    assert llm.system_prompt == settings.system_prompts["en"]  # the chain sends per language
    assert llm.max_new_tokens == settings.models.llm.max_new_tokens
    assert llm._identifying_params["n_gpu_layers"] == 0  # cpu
    assert llm.model_path is None  # type: ignore[attr-defined]  # lazy


def test_explicit_gpu_layers_win(settings: Settings) -> None:
    entry = settings.models.llm.model_copy(update={"n_gpu_layers": 7})
    llm = build_llm(with_entry(settings, entry))
    assert llm._identifying_params["n_gpu_layers"] == 7


def test_missing_llama_cpp_gives_pip_hint(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(ModelUnavailableError, match=r"pip install llama-cpp-python==0\.3\.36"):
        build_llm(llm_setup(settings))


def test_missing_transformers_gives_pip_hint(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rag.llms.transformers_backend", None)
    entry = TransformersEntry(backend="transformers", pretrained_model_name="some/model")
    with pytest.raises(ModelUnavailableError, match=r"pip install .*transformers==5\.23\.0"):
        build_llm(with_entry(settings, entry))


def test_transformers_missing_folder_names_the_key(settings: Settings) -> None:
    entry = TransformersEntry(backend="transformers", local_model_path="/nonexistent/model-dir")
    llm = build_llm(with_entry(settings, entry))
    with pytest.raises(ModelUnavailableError, match=r"LLM_MODEL_DICT\['x'\]\.local_model_path"):
        llm.invoke("hi")
