"""Settings in sections, read from the flat config names; one validated class per LLM backend."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from rag.errors import ConfigError
from rag.settings import (
    FLAT_KEYS,
    LLM_BACKENDS,
    SECTIONS,
    GGUFEntry,
    HFPipelineEntry,
    OpenAIEntry,
    Settings,
    TransformersEntry,
    load_settings,
    parse_llm_entry,
)


def _leaves(model: type[BaseModel], path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Fields, nested sections walked into unless they have a config name of their own
    (KBS_CONFIG: a dict per vector store, as Langchain-Chatchat's kbs_config)."""
    found = []
    named = set(FLAT_KEYS.values())
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel) and (*path, name) not in named:
            found += _leaves(kind, (*path, name))
        else:
            found.append((*path, name))
    return found


def test_every_section_field_has_one_config_name_and_a_description():
    leaves = [leaf for name, model in SECTIONS.items() for leaf in _leaves(model, (name,))]
    assert sorted(FLAT_KEYS.values()) == sorted(leaves)
    for model in (*SECTIONS.values(), Settings):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_every_llm_entry_field_has_a_description():
    for model in (GGUFEntry, TransformersEntry, OpenAIEntry, HFPipelineEntry):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_config_names_land_in_their_sections():
    settings = load_settings(
        env={"ZHIKU_CHUNK_SIZE": "400", "ZHIKU_USE_RERANKER": "true"},
        overlap_size=40,
        llm_history_len=1,
        api_token="t",
        llm_model="fast",
    )
    assert (settings.chunking.size, settings.chunking.overlap) == (400, 40)
    assert settings.retrieval.reranker.enabled is True
    assert settings.answer.history_len == 1
    assert settings.server.api_token is not None
    assert settings.models.llm_model == "fast"
    assert isinstance(settings.models.llm, GGUFEntry)
    # the flat names are config names only: they are read from the sections
    assert not hasattr(settings, "chunk_size") and not hasattr(settings, "llm")


def test_sections_and_flat_names_build_the_same_settings():
    flat = load_settings(env={}, chunk_size=300, search_mode="dense")
    assert Settings.model_validate({**dict(flat), "overlap_size": 20}).chunking.size == 300
    changed = flat.updated(chunk_size=500, reranker_top_n=3)
    assert (changed.chunking.size, changed.chunking.overlap) == (500, flat.chunking.overlap)
    assert changed.retrieval.reranker.top_n == 3 and changed.retrieval.mode == "dense"
    with pytest.raises(ValueError, match="OVERLAP_SIZE"):
        flat.updated(chunk_size=30)


def test_each_backend_has_its_class():
    settings = load_settings(env={})
    kinds = {name: type(entry) for name, entry in settings.models.llm_model_dict.items()}
    assert kinds["fast"] is GGUFEntry
    assert kinds["chatglm3-6b"] is TransformersEntry
    assert kinds["ollama-qwen2.5-7b"] is OpenAIEntry
    assert kinds["hf-pipeline-qwen2.5-coder-0.5b"] is HFPipelineEntry
    assert set(LLM_BACKENDS) == {"gguf", "transformers", "openai", "hf_pipeline"}
    assert isinstance(parse_llm_entry({"backend": "gguf", "local_model_path": "/m"}), GGUFEntry)


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"backend": "vllm", "pretrained_model_name": "m"}, "backend: 'vllm' is not an LLM"),
        ({"pretrained_model_name": "m"}, "backend: missing"),
        (
            {"backend": "transformers", "pretrained_model_name": "m", "n_batch": 8},
            "llm_model_dict.mine.n_batch: not a key of a 'transformers' entry",
        ),
        ({"backend": "gguf", "local_model_path": "/m", "api_key": "k"}, "mine.api_key"),
        ({"backend": "openai", "api_base_url": "http://h/v1", "seed": 1}, "mine.seed"),
        ({"backend": "gguf", "context_window": 1}, "llm_model_dict.mine.context_window"),
    ],
)
def test_a_wrong_entry_is_one_line_naming_the_key(entry, named):
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, llm_model_dict={"mine": entry}, llm_model="mine")
    message = str(info.value)
    assert named in message and "\n" not in message
    if "backend" in named:
        assert all(repr(backend) in message for backend in LLM_BACKENDS)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"reranker_top_n": 0}, "config RERANKER_TOP_N:"),
        ({"search_mode": "fuzzy"}, "config SEARCH_MODE:"),
        ({"llm_history_len": -1}, "config LLM_HISTORY_LEN:"),
        ({"max_upload_mb": 0}, "config MAX_UPLOAD_MB:"),
        ({"cache_dir": 3}, "config CACHE_DIR:"),
    ],
)
def test_section_errors_name_the_config_key(overrides, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(env={}, **overrides)
