"""Milvus's own BM25 as the lexical leg (kbs_config["milvus"]["lexical"] = "milvus_bm25"), on
Milvus Lite: a Chinese and an English knowledge base find by the lexical leg a rare word
that dense search ranks last; a delete removes it from Milvus's BM25 results; a restart keeps
them; scores are positive, best first, on zhiku's BM25 scale; a collection made without the
BM25 field is made anew from SQLite; a wrong value is a clear error.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from rag.errors import ConfigError
from rag.factory import build_vector_stores
from rag.kb.store import EmbeddingIdentity, KnowledgeBaseStore, NewChunk
from rag.lexical.index import LexicalResult
from rag.retrieval import HybridRetriever, SearchOptions
from rag.settings import load_settings
from rag.vectorstores import FaissFlatIndex, MilvusConnection, VectorStores
from rag.vectorstores.milvus_bm25 import BM25_K1, supports_bm25

pytest.importorskip("pymilvus")
pytest.importorskip("jieba")

DIM = 8
IDENTITY = EmbeddingIdentity("fake", DIM)
QUERY_VECTOR = np.eye(DIM, dtype=np.float32)[0]

KBS = {
    "zh": {
        "target": ["龙骧将军在洛阳城外扎营。", "洛阳的牡丹很有名。"],
        "others": ["北京是中国的首都。", "上海是一个大城市。", "长江是中国最长的河流。"],
        "query": "龙骧",
        "later": ["杭州的西湖风景优美。"],
        "later_query": "西湖",
    },
    "en": {
        "target": ["Quetzalcoatl was worshipped in Teotihuacan.", "The city had pyramids."],
        "others": ["Paris is the capital of France.", "Rivers flow into the sea.", "Bread"],
        "query": "Quetzalcoatl",
        "later": ["Edinburgh hosts a festival every August."],
        "later_query": "Edinburgh",
    },
}


class FixedQuery(Embeddings):
    """Every query embeds to QUERY_VECTOR (documents are stored with their own vectors)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [QUERY_VECTOR.tolist() for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return QUERY_VECTOR.tolist()


def stores_at(path: Path, lexical: str) -> VectorStores:
    return VectorStores(FaissFlatIndex, "milvus", MilvusConnection(str(path)), lexical)


@pytest.fixture
def bm25_stores(tmp_path: Path) -> Iterator[VectorStores]:
    stores = stores_at(tmp_path / "m.db", "milvus_bm25")
    yield stores
    stores.close()


def put(
    store: KnowledgeBaseStore, tmp: Path, name: str, texts: list[str], far: bool, save: bool = True
) -> None:
    """Store `texts`; their vectors point away from the query (`far`) or near it."""
    original = tmp / f"src-{store.name}-{name}"
    original.write_text("\n".join(texts), encoding="utf-8")
    rng = np.random.default_rng(len(texts) + len(name))
    noise = rng.normal(scale=0.05, size=(len(texts), DIM)).astype(np.float32)
    vectors = (-QUERY_VECTOR if far else QUERY_VECTOR) + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [NewChunk(text, None, "", {}) for text in texts]
    store.put_file(name, f"sha-{store.name}-{name}", original, chunks, vectors, save)


def retriever(store: KnowledgeBaseStore, mode: str = "hybrid") -> HybridRetriever:
    return HybridRetriever(
        kb=store.name,
        open_store=lambda: contextlib.nullcontext(store),
        embeddings=FixedQuery(),
        options=SearchOptions(mode=mode),  # type: ignore[arg-type]
    )


def make_kb(root: Path, stores: VectorStores, lang: str) -> KnowledgeBaseStore:
    """Two files stored as one upload batch (one save: one Milvus Lite segment, whose BM25
    statistics are the whole KB's; the module doc of rag/vectorstores/milvus_bm25.py);
    zhiku's BM25 with Milvus's k1, so that their scores can be compared."""
    store = KnowledgeBaseStore.create(
        root / lang, IDENTITY, stores, vs_type="milvus", bm25_k1=BM25_K1
    )
    put(store, root, "target.txt", KBS[lang]["target"], far=True, save=False)
    put(store, root, "others.txt", KBS[lang]["others"], far=False, save=False)
    store.save_index()
    return store


def not_zhiku(*args: object) -> LexicalResult:
    raise AssertionError("the lexical leg ran in zhiku's SQLite index, not in Milvus")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_rare_word_dense_ranks_last_is_found_in_milvus_then_deleted_and_kept(
    tmp_path: Path, bm25_stores: VectorStores, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = KBS[lang]
    store = make_kb(tmp_path, bm25_stores, lang)
    assert store.lexical_backend == "milvus_bm25"
    monkeypatch.setattr(store._lexical, "search_with_reference", not_zhiku)
    target = store.chunks_of_file("target.txt")[0]
    dense = [hit.chunk_id for hit in retriever(store, "dense").search(kb["query"], 10)]
    assert len(dense) == 5 and dense.index(target.id) >= 3  # among the 2 far chunks, last
    [best, *_] = retriever(store).search(kb["query"], 3)
    assert best.chunk_id == target.id and best.score > 0.5

    result = store.lexical_search(kb["query"], 10)
    assert [chunk_id for chunk_id, _ in result.hits] == [target.id]
    assert result.reference > 0
    store.remove_file("target.txt")  # a delete is exact in Milvus's BM25 too
    assert store.lexical_search(kb["query"], 10).hits == []
    assert all(h.chunk_id != target.id for h in retriever(store).search(kb["query"], 10))

    put(store, tmp_path, "later.txt", kb["later"], far=True)
    found = store.lexical_search(kb["later_query"], 10).hits
    store.close()
    bm25_stores.close()  # a restart: the Milvus Lite client too
    again = KnowledgeBaseStore(tmp_path / lang, IDENTITY, bm25_stores)
    assert again.lexical_backend == "milvus_bm25"
    kept = again.lexical_search(kb["later_query"], 10).hits
    assert (
        [i for i, _ in kept] == [i for i, _ in found] == [again.chunks_of_file("later.txt")[0].id]
    )
    assert [s for _, s in kept] == pytest.approx([s for _, s in found])
    assert [h.text for h in retriever(again, "lexical").search(kb["later_query"], 1)] == kb["later"]
    assert again.check(repair=False).ok
    again.close()


def test_a_collection_without_bm25_is_made_anew_from_sqlite(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.db"
    stores = stores_at(path, "zhiku")
    store = make_kb(tmp_path, stores, "en")
    assert store.lexical_backend == "zhiku"
    zhiku = store.lexical_search("Quetzalcoatl pyramids city", 10)
    store.close()
    stores.close()
    stores = stores_at(path, "milvus_bm25")  # the setting changed, then a restart
    with caplog.at_level(logging.WARNING, logger="rag.vectorstores.milvus_index"):
        store = KnowledgeBaseStore(tmp_path / "en", IDENTITY, stores, bm25_k1=BM25_K1)
    assert "has no BM25 field" in caplog.text and "made anew" in caplog.text
    assert store.lexical_backend == "milvus_bm25" and store.check(repair=False).ok
    milvus = store.lexical_search("Quetzalcoatl pyramids city", 10)
    # one segment, the same tokens, k1 and b: Milvus's scores are zhiku's, best first
    assert [i for i, _ in milvus.hits] == [i for i, _ in zhiku.hits]
    assert [s for _, s in milvus.hits] == pytest.approx([s for _, s in zhiku.hits], rel=1e-4)
    assert milvus.reference == pytest.approx(zhiku.reference)
    assert all(s > 0 for _, s in milvus.hits) and len(milvus.hits) == 2
    assert milvus.hits[0][1] > milvus.hits[1][1]
    store.close()
    stores.close()
    stores = stores_at(path, "zhiku")  # and back: the BM25 field stays, unused
    store = KnowledgeBaseStore(tmp_path / "en", IDENTITY, stores)
    assert store.lexical_backend == "zhiku" and store.check(repair=False).ok
    store.close()
    stores.close()


def test_the_setting_is_checked_and_reaches_the_vector_stores(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, kbs_config={"milvus": {"lexical": "bm25"}})
    assert "kbs_config.milvus.lexical" in str(caught.value)
    assert "valid: zhiku, milvus_bm25" in str(caught.value)
    with pytest.raises(ConfigError, match="valid: zhiku, milvus_bm25"):
        VectorStores(FaissFlatIndex, "faiss", None, "sparse")
    settings = load_settings(env={}, kbs_config={"milvus": {"lexical": "milvus_bm25"}})
    assert build_vector_stores(settings.retrieval, tmp_path).milvus_lexical == "milvus_bm25"
    default = load_settings(env={})
    assert build_vector_stores(default.retrieval, tmp_path).milvus_lexical == "zhiku"


def test_a_server_without_bm25_keeps_zhikus_lexical_search(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert supports_bm25("milvus_lite-3.2.2") and supports_bm25("v2.5.4")
    assert supports_bm25("2.6.0") and supports_bm25("Zilliz Cloud")
    assert not supports_bm25("v2.4.17") and not supports_bm25("milvus_lite-2.4.12")
    stores = stores_at(tmp_path / "m.db", "milvus_bm25")
    with stores.connection().client() as client:  # as a Milvus 2.4 server answers
        monkeypatch.setattr(client, "get_server_version", lambda: "v2.4.17")
    with caplog.at_level(logging.WARNING, logger="rag.vectorstores.milvus_index"):
        store = make_kb(tmp_path, stores, "en")
    assert "no BM25 function" in caplog.text
    assert store.lexical_backend == "zhiku"
    assert [i for i, _ in store.lexical_search("Quetzalcoatl", 5).hits] == [1]
    store.close()
    stores.close()
