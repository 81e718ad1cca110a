"""Which vector store a knowledge base keeps its dense index in: "faiss" or "milvus".

A knowledge base records its store in its SQLite info (`vector_store`; none recorded:
"faiss", as every knowledge base was before Milvus) and, for Milvus, the name of its own
collection (`milvus_collection`, `zhiku_<uuid>`): a new name for every KB folder, so that a
rebuild's copy, built aside while the live one keeps answering, never shares one.
DEFAULT_VS_TYPE is the store of new knowledge bases; `rag kb migrate` moves one.
kbs_config["milvus"]["lexical"] says whether Milvus collections also compute BM25
(milvus_bm25.py); it is not recorded per knowledge base: the collection's schema says it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from rag.errors import ConfigError
from rag.vectorstores.base import VectorIndex
from rag.vectorstores.milvus_bm25 import check_lexical
from rag.vectorstores.milvus_index import (
    COLLECTION_PREFIX,
    INSTALL_HINT,
    MilvusConnection,
    MilvusPolicy,
    RowsOf,
)
from rag.vectorstores.sizing import IndexPolicy, as_policy

VS_TYPES = ("faiss", "milvus")
STORE_KEY = "vector_store"
COLLECTION_KEY = "milvus_collection"
STORE_KEYS = (STORE_KEY, COLLECTION_KEY)
"""The info keys that say where a knowledge base's dense index is."""


def store_of(info: Mapping[str, str]) -> str:
    """The vector store a knowledge base's info records ("faiss" when none)."""
    return info.get(STORE_KEY, "faiss")


class VectorStores:
    """The vector stores knowledge bases may use: FAISS files (with its `IndexPolicy`) and,
    when configured, one Milvus database (`MilvusConnection`, opened on first use)."""

    def __init__(
        self,
        faiss: IndexPolicy | Callable[[int], VectorIndex],
        default: str = "faiss",
        milvus: MilvusConnection | None = None,
        milvus_lexical: str = "zhiku",
    ) -> None:
        """`faiss`: FAISS's `IndexPolicy` (VECTOR_INDEX's `SizedIndex`), or an index class.
        `milvus_lexical`: kbs_config["milvus"]["lexical"] ("milvus_bm25": collections
        compute BM25 and answer the lexical leg of hybrid search)."""
        check_vs_type(default)
        self.faiss = as_policy(faiss)
        self.default = default
        self.milvus = milvus
        self.milvus_lexical = check_lexical(milvus_lexical)

    def new_info(self, vs_type: str | None = None) -> dict[str, str]:
        """The info of a new knowledge base (folder) in `vs_type` (default: DEFAULT_VS_TYPE)."""
        vs_type = check_vs_type(vs_type or self.default)
        info = {STORE_KEY: vs_type}
        if vs_type == "milvus":
            self.connection().collections()  # a wrong URI is reported now, not on first use
            info[COLLECTION_KEY] = f"{COLLECTION_PREFIX}{uuid.uuid4().hex}"
        return info

    def connection(self) -> MilvusConnection:
        if self.milvus is None:
            raise ConfigError(
                "this knowledge base is stored in Milvus, and no Milvus is configured: set "
                f"kbs_config['milvus']['uri'] (and install it: {INSTALL_HINT})"
            )
        return self.milvus

    def policy(self, info: Mapping[str, str], rows: RowsOf) -> IndexPolicy:
        """How the knowledge base with `info` makes, loads and rebuilds its dense index."""
        if store_of(info) == "faiss":
            return self.faiss
        connection = self.connection()
        bm25 = self.milvus_lexical == "milvus_bm25" and connection.supports_bm25()
        return MilvusPolicy(connection, info[COLLECTION_KEY], rows, bm25)

    def drop(self, info: Mapping[str, str], index_path: Path) -> None:
        """Remove the dense index the knowledge base with `info` had (its FAISS file, or its
        collection) once nothing uses it."""
        if store_of(info) == "faiss":
            index_path.unlink(missing_ok=True)
        elif COLLECTION_KEY in info:
            self.connection().drop(info[COLLECTION_KEY])

    def collect_garbage(self, named: Callable[[], Iterable[str]]) -> list[str]:
        """Drop the zhiku collections that no knowledge base names (`named()`, read after
        the collections are listed: a KB records its collection before making it), left
        by a crash between a folder's removal and its collection's; the names dropped.
        Only for a Milvus Lite file, which belongs to one KB root: a server may be shared."""
        milvus = self.milvus
        if milvus is None or not milvus.is_lite or not (milvus.opened or self.default == "milvus"):
            return []
        listed = [name for name in milvus.collections() if name.startswith(COLLECTION_PREFIX)]
        keep = set(named())
        dropped = [name for name in listed if name not in keep]
        for name in dropped:
            milvus.drop(name)
        return dropped

    def close(self) -> None:
        if self.milvus is not None:
            self.milvus.close()


def check_vs_type(name: str) -> str:
    if name not in VS_TYPES:
        raise ConfigError(
            f"vector store {name!r} unknown; valid: {', '.join(VS_TYPES)} (milvus needs "
            f"pymilvus and milvus-lite: {INSTALL_HINT})"
        )
    return name


def as_vector_stores(
    value: VectorStores | IndexPolicy | Callable[[int], VectorIndex],
) -> VectorStores:
    """`value` itself, or FAISS alone with `value` as its policy (or index class)."""
    if isinstance(value, VectorStores):
        return value
    return VectorStores(value)
