"""Retrieval over a knowledge base's store: `HybridRetriever` (hybrid.py), a LangChain
retriever that fuses dense and BM25 rankings (fusion.py), optionally reranks them with a
cross-encoder (rerank.py), and refuses questions the knowledge base cannot answer
(answerable.py). It reads the store through the `ChunkStore` protocol only (store.py)."""

from rag.retrieval.answerable import AnswerabilityCheck, Relevance
from rag.retrieval.fusion import FusionConfig, fuse
from rag.retrieval.hybrid import (
    HybridRetriever,
    SearchHit,
    SearchMode,
    SearchOptions,
    hit_to_document,
)
from rag.retrieval.rerank import Reranker, build_reranker
from rag.retrieval.store import ChunkStore, OpenStore

__all__ = [
    "AnswerabilityCheck",
    "ChunkStore",
    "FusionConfig",
    "HybridRetriever",
    "OpenStore",
    "Relevance",
    "Reranker",
    "SearchHit",
    "SearchMode",
    "SearchOptions",
    "build_reranker",
    "fuse",
    "hit_to_document",
]
