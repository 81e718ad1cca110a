"""Vector indexes: one interface (`VectorIndex`). Where a knowledge base keeps its index is
its vector store (`VectorStores`, backends.py: a FAISS file, or a Milvus collection,
milvus_index.py; DEFAULT_VS_TYPE for new ones); which FAISS index it uses is picked by
VECTOR_INDEX (`SizedIndex`, rag/vectorstores/sizing.py).

Indexes hold vectors under stable int64 ids (the chunk ids of the knowledge base's SQLite
metadata), never positions, so a delete removes exactly the chunks it names. Vectors are
normalized and compared by inner product, so a score is a cosine similarity. A Milvus
collection may also answer the lexical leg of hybrid search with Milvus's BM25
(`LexicalVectorIndex`, milvus_bm25.py: kbs_config["milvus"]["lexical"] = "milvus_bm25").
"""

from __future__ import annotations

from collections.abc import Callable

from rag.errors import ConfigError
from rag.vectorstores.backends import VS_TYPES, VectorStores, as_vector_stores, store_of
from rag.vectorstores.base import LexicalVectorIndex, VectorIndex
from rag.vectorstores.faiss_index import FaissFlatIndex, IndexKind
from rag.vectorstores.faiss_ivf import FaissIVFIndex
from rag.vectorstores.milvus_bm25 import MILVUS_LEXICAL
from rag.vectorstores.milvus_index import MilvusConnection, MilvusIndex
from rag.vectorstores.sizing import (
    VECTOR_INDEX_MODES,
    FixedIndex,
    IndexPolicy,
    SizedIndex,
    VectorIndexMode,
    as_policy,
)

INDEXES: dict[str, Callable[[int], VectorIndex]] = {
    "faiss_flat_ip": FaissFlatIndex,
    "faiss_ivf_ip": FaissIVFIndex,  # exact below 200k vectors, IVF (measured nprobe) above
}


def build_index(name: str, dimension: int) -> VectorIndex:
    """An empty index of class `name` (a key of INDEXES)."""
    try:
        make = INDEXES[name]
    except KeyError:
        raise ConfigError(
            f"vector index {name!r} unknown; valid: {', '.join(sorted(INDEXES))}"
        ) from None
    return make(dimension)


__all__ = [
    "INDEXES",
    "MILVUS_LEXICAL",
    "VECTOR_INDEX_MODES",
    "VS_TYPES",
    "FaissFlatIndex",
    "FaissIVFIndex",
    "FixedIndex",
    "IndexKind",
    "IndexPolicy",
    "LexicalVectorIndex",
    "MilvusConnection",
    "MilvusIndex",
    "SizedIndex",
    "VectorIndex",
    "VectorIndexMode",
    "VectorStores",
    "as_policy",
    "as_vector_stores",
    "build_index",
    "store_of",
]
