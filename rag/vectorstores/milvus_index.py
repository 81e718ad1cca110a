"""The dense index in Milvus: one collection per knowledge base (DEFAULT_VS_TYPE = "milvus").

`kbs_config["milvus"]["uri"]` picks the server: a local file path ending in `.db` runs Milvus
Lite inside the app's process (pymilvus + milvus-lite; one process may open the file at a
time), `http://host:19530` (or https, tcp, unix) a Milvus standalone or Zilliz Cloud server
with the same code. Only Milvus Lite was run here (pymilvus 3.0.2, milvus-lite 3.2.2).

Each row is a chunk: its id (the chunk id of the knowledge base's SQLite, the primary key),
its normalized vector (a FLAT index, inner product: the score is a cosine, as with FAISS),
and its text, file name, sequence number, page and title path, so that other tools can read
the collection. The knowledge base's SQLite stays the source of truth: it keeps the vectors
too, and a collection that disagrees with it is synced from it (`MilvusPolicy.build`).
With kbs_config["milvus"]["lexical"] = "milvus_bm25" the collection also computes BM25 from
`text` and answers the lexical leg of hybrid search (milvus_bm25.py, `lexical_search`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError
from rag.vectorstores import milvus_bm25
from rag.vectorstores.faiss_index import IndexKind
from rag.vectorstores.sizing import VectorSource

INSTALL_HINT = "pip install pymilvus==3.0.2 milvus-lite==3.2.2"
REMOTE_SCHEMES = ("http://", "https://", "tcp://", "unix:")
COLLECTION_PREFIX = "zhiku_"
"""Every collection zhiku makes starts with this; nothing else is ever dropped."""
_BATCH = 1000
_MAX_LIMIT = 16_384
"""The most hits one Milvus search returns."""
_MAX_TEXT_BYTES = 65_535
_MAX_NAME_BYTES = 2_048
_OPEN_LOGS = ("milvus_lite.server_manager",)
"""Milvus Lite logs a traceback when another process holds its file."""
_ITERATOR_LOGS = ("pymilvus.client.iterator.query_iterator", "grpc._server")
"""Milvus Lite has no server timestamp for an iterator: its gRPC stub logs an error and
pymilvus a warning on every call, and the iterator works without it."""

logger = logging.getLogger(__name__)

RowsOf = Callable[[list[int]], Mapping[int, Mapping[str, object]]]
"""Chunk id -> the fields stored beside its vector (text, file_name, seq, page, title_path)."""


def is_remote(uri: str) -> bool:
    """A server URI (standalone, Zilliz), not a Milvus Lite file."""
    return uri.startswith(REMOTE_SCHEMES)


class MilvusConnection:
    """One `MilvusClient` for one database, opened on first use and shared by every knowledge
    base of a KB root (Milvus Lite allows one client per file). Calls are serialized."""

    def __init__(self, uri: str, token: str = "", db_name: str = "") -> None:
        self.uri = uri
        self.token = token
        self.db_name = db_name
        self.lock = threading.RLock()
        self._client: Any = None
        self._bm25: bool | None = None

    @property
    def is_lite(self) -> bool:
        return not is_remote(self.uri)

    @property
    def opened(self) -> bool:
        return self._client is not None

    @contextmanager
    def client(self) -> Iterator[Any]:
        """The client, held for one call (or a few) at a time."""
        with self.lock:
            if self._client is None:
                self._client = self._open()
            yield self._client

    def _open(self) -> Any:
        try:
            from pymilvus import MilvusClient
            from pymilvus.exceptions import MilvusException
        except ImportError:
            raise ConfigError(
                f"DEFAULT_VS_TYPE / a knowledge base uses Milvus, and pymilvus is not "
                f"installed: {INSTALL_HINT}"
            ) from None
        options = {"token": self.token, "db_name": self.db_name}
        try:
            if self.is_lite:
                Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
            with _quiet(_OPEN_LOGS):  # the error below says it in one line
                return MilvusClient(uri=self.uri, timeout=10, **options)
        except (MilvusException, OSError) as exc:
            raise ConfigError(self._failure(exc)) from None

    def _failure(self, exc: Exception) -> str:
        message = getattr(exc, "message", None) or str(exc)
        text = f"cannot open Milvus at {self.uri!r} (kbs_config['milvus']['uri']): {message}"
        if self.is_lite:
            return (
                f"{text}; a Milvus Lite file is opened by one process at a time: stop the app "
                "(or the other `rag` command) using it, or use a Milvus server (http://...)"
            )
        return f"{text}; is the server running, and are token and db_name right?"

    def supports_bm25(self) -> bool:
        """Does the server have the BM25 function (milvus_bm25.py)? Asked once; a warning
        when it has not."""
        with self.client() as client:
            if self._bm25 is None:
                version = str(client.get_server_version())
                self._bm25 = milvus_bm25.supports_bm25(version)
                if not self._bm25:
                    logger.warning(
                        "Milvus at %r is version %s, which has no BM25 function (Milvus 2.5 "
                        "has): kbs_config['milvus']['lexical'] = 'milvus_bm25' is ignored, the "
                        "lexical search stays zhiku's",
                        self.uri,
                        version,
                    )
            return self._bm25

    def collections(self) -> list[str]:
        with self.client() as client:
            return [str(name) for name in client.list_collections()]

    def drop(self, collection: str) -> None:
        """Drop `collection` if it exists (only zhiku's own: `COLLECTION_PREFIX`)."""
        if not collection.startswith(COLLECTION_PREFIX):
            raise ValueError(f"not a zhiku collection: {collection!r}")
        with self.client() as client:
            if client.has_collection(collection):
                client.drop_collection(collection)

    def close(self) -> None:
        with self.lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class MilvusIndex:
    """A `VectorIndex` over one Milvus collection (module doc); ids are chunk ids.

    `bm25`: the collection computes BM25 from `text` (kbs_config["milvus"]["lexical"] =
    "milvus_bm25"); one made without it is made anew by `ensure` and refused by `load`."""

    kind: IndexKind = "flat"

    def __init__(
        self,
        connection: MilvusConnection,
        collection: str,
        dimension: int,
        rows: RowsOf | None = None,
        bm25: bool = False,
    ) -> None:
        self.connection = connection
        self.collection = collection
        self.dimension = dimension
        self._rows = rows
        self.bm25 = bm25

    # ---- the collection -------------------------------------------------------------

    def saved_schema(self) -> tuple[int, bool] | None:
        """The existing collection's vector dimension and whether it computes BM25 (None:
        there is no collection)."""
        with self.connection.client() as client:
            if not client.has_collection(self.collection):
                return None
            description = client.describe_collection(self.collection)
        vector = next(f for f in description["fields"] if f["name"] == "vector")
        return int(vector["params"]["dim"]), milvus_bm25.has_bm25(description)

    def _fits(self, saved: tuple[int, bool]) -> bool:
        """Can the existing collection serve this index? (A BM25 field not asked for is
        left: the dense search ignores it.)"""
        dimension, bm25 = saved
        return dimension == self.dimension and (bm25 or not self.bm25)

    def ensure(self) -> None:
        """Make the collection (dropped first when its dimension is another, or it lacks
        the BM25 field asked for) and load it."""
        saved = self.saved_schema()
        if saved is not None and not self._fits(saved):
            if saved[0] == self.dimension:
                logger.warning(
                    "Milvus collection %r has no BM25 field, and kbs_config['milvus']"
                    "['lexical'] is 'milvus_bm25': it is made anew, and filled from the "
                    "knowledge base's SQLite (nothing is embedded again)",
                    self.collection,
                )
            self.connection.drop(self.collection)
            saved = None
        with self.connection.client() as client:
            if saved is None:
                self._create(client)
            if not self._loaded(client):
                logger.warning(
                    "Milvus Lite collection %r cannot be read (its files were cut short, a "
                    "process killed while writing): it is made anew, and filled from the "
                    "knowledge base's SQLite (nothing is embedded again)",
                    self.collection,
                )
                client.drop_collection(self.collection)
                self._create(client)
                client.load_collection(self.collection)

    def _create(self, client: Any) -> None:
        client.create_collection(
            self.collection,
            schema=self._schema(client),
            index_params=self._params(client),
            # a search right after a write sees it (a server's default is "Bounded")
            consistency_level="Strong",
        )

    def _loaded(self, client: Any) -> bool:
        """Load the collection; False when Milvus Lite cannot read its files (a server's
        error is raised: its data is not ours to drop)."""
        from pymilvus.exceptions import MilvusException

        try:
            client.load_collection(self.collection)
        except MilvusException:
            if not self.connection.is_lite:
                raise
            return False
        return True

    def _schema(self, client: Any) -> Any:
        from pymilvus import DataType

        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        text_options = milvus_bm25.text_field_options() if self.bm25 else {}
        schema.add_field("text", DataType.VARCHAR, max_length=_MAX_TEXT_BYTES, **text_options)
        schema.add_field("file_name", DataType.VARCHAR, max_length=_MAX_NAME_BYTES)
        schema.add_field("seq", DataType.INT64)
        schema.add_field("page", DataType.INT64, nullable=True)
        schema.add_field("title_path", DataType.VARCHAR, max_length=_MAX_NAME_BYTES)
        if self.bm25:
            milvus_bm25.add_bm25_fields(schema)
        return schema

    def _params(self, client: Any) -> Any:
        params = client.prepare_index_params()
        params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        if self.bm25:
            milvus_bm25.add_bm25_index(params)
        return params

    def drop(self) -> None:
        self.connection.drop(self.collection)

    # ---- VectorIndex ----------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        for start in range(0, len(ids), _BATCH):
            batch = [int(i) for i in ids[start : start + _BATCH]]
            fields = self._rows(batch) if self._rows else {}
            data = [
                {"id": i, "vector": vector.tolist(), **_fields(fields.get(i, {}))}
                for i, vector in zip(batch, vectors[start : start + _BATCH], strict=True)
            ]
            with self.connection.client() as client:
                # an id held already is replaced, never doubled (Lite: as fast as insert)
                client.upsert(self.collection, data)

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        for start in range(0, len(ids), _BATCH):
            listed = ", ".join(str(int(i)) for i in ids[start : start + _BATCH])
            with self.connection.client() as client:
                client.delete(self.collection, filter=f"id in [{listed}]")

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        vector = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        with self.connection.client() as client:
            found = client.search(
                self.collection,
                data=[vector],
                anns_field="vector",
                limit=min(k, _MAX_LIMIT),
                output_fields=["id"],
                search_params={"metric_type": "IP"},
            )
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0]]

    def lexical_search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Up to k (id, BM25) pairs, best first, by Milvus's BM25 function: chunks sharing
        at least one token with `query` (milvus_bm25.py); only with `bm25`."""
        if not self.bm25:
            raise ValueError(f"Milvus collection {self.collection!r} is searched without BM25")
        if k <= 0 or not query.strip():
            return []
        with self.connection.client() as client:
            found = client.search(
                self.collection,
                data=[query],
                anns_field=milvus_bm25.SPARSE_FIELD,
                limit=min(k, _MAX_LIMIT),
                output_fields=["id"],
                search_params={"metric_type": "BM25"},
            )
        scored = [(int(hit["id"]), milvus_bm25.bm25_score(hit["distance"])) for hit in found[0]]
        return [(chunk_id, score) for chunk_id, score in scored if score > 0]

    def ids(self) -> np.ndarray:
        found: list[int] = []
        with self.connection.client() as client, _quiet(_ITERATOR_LOGS):
            pages = client.query_iterator(
                self.collection, filter="", output_fields=["id"], batch_size=_BATCH * 8
            )
            while page := pages.next():
                found.extend(int(row["id"]) for row in page)
            pages.close()
        return np.array(sorted(found), dtype=np.int64)

    def agrees_with(self, count: int, newest: np.ndarray) -> bool:
        """`count` rows, `newest` among them (`CountedIndex`): listing every id takes Milvus
        Lite 8 s at 100k rows, this 0.5 s."""
        if len(self) != count:
            return False
        if len(newest) == 0:
            return True
        listed = ", ".join(str(int(i)) for i in newest)
        with self.connection.client() as client:
            rows = client.query(
                self.collection, filter=f"id in [{listed}]", output_fields=["count(*)"]
            )
        return int(rows[0]["count(*)"]) == len(newest)

    def __len__(self) -> int:
        with self.connection.client() as client:
            rows = client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def save(self, path: Path) -> None:
        """Flush the collection. Milvus keeps every insert and delete without it (Milvus
        Lite: rows inserted before a kill -9 are there after it), but searches unflushed
        rows more slowly (Milvus Lite, 100k vectors inserted 1,000 at a time: 768 ms a
        search before the flush, 179 ms after; the flush took 0.8 s)."""
        with self.connection.client() as client:
            client.flush(self.collection)

    def load(self, path: Path) -> None:
        """Open the collection (ValueError when there is none, of another dimension, or
        without the BM25 field asked for: the store then makes it anew from SQLite)."""
        saved = self.saved_schema()
        if saved is None:
            raise ValueError(f"no Milvus collection {self.collection!r}")
        dimension, bm25 = saved
        if dimension != self.dimension:
            raise ValueError(
                f"Milvus collection {self.collection!r}: dimension {dimension}, expected "
                f"{self.dimension}"
            )
        if self.bm25 and not bm25:
            raise ValueError(f"Milvus collection {self.collection!r} has no BM25 field")
        with self.connection.client() as client:
            if not self._loaded(client):
                raise ValueError(f"Milvus collection {self.collection!r} cannot be read")


@contextmanager
def _quiet(names: tuple[str, ...]) -> Iterator[None]:
    """The loggers `names` silenced for one call (the caller holds the connection's lock)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _fields(row: Mapping[str, object]) -> dict[str, object]:
    """The stored fields of one chunk, cut to what the schema holds."""
    page = row.get("page")
    return {
        "text": _cut(str(row.get("text", "")), _MAX_TEXT_BYTES),
        "file_name": _cut(str(row.get("file_name", "")), _MAX_NAME_BYTES),
        "seq": int(row.get("seq", 0)),  # type: ignore[call-overload]
        "page": int(page) if isinstance(page, int) else None,
        "title_path": _cut(str(row.get("title_path", "")), _MAX_NAME_BYTES),
    }


def _cut(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


class MilvusPolicy:
    """The `IndexPolicy` of one knowledge base's collection: always a FLAT index (Milvus
    picks nothing by size here); `build` syncs the collection with SQLite."""

    def __init__(
        self, connection: MilvusConnection, collection: str, rows: RowsOf, bm25: bool = False
    ) -> None:
        """`bm25`: the collection computes BM25 (kbs_config["milvus"]["lexical"])."""
        self.connection = connection
        self.collection = collection
        self.rows = rows
        self.bm25 = bm25

    def _index(self, dimension: int) -> MilvusIndex:
        return MilvusIndex(self.connection, self.collection, dimension, self.rows, self.bm25)

    def empty(self, dimension: int) -> MilvusIndex:
        index = self._index(dimension)
        index.ensure()
        return index

    def load(self, path: Path, dimension: int) -> MilvusIndex:
        index = self._index(dimension)
        index.load(path)
        return index

    def fits(self, index: object) -> bool:
        return True

    def build(self, dimension: int, source: VectorSource, current: IndexKind) -> MilvusIndex:
        """The collection made to hold exactly the vectors of `source`: the missing ones
        inserted, the others deleted (a chunk id's vector never changes: ids are never
        reused); searches keep working meanwhile. When it still holds another number of
        rows, it is made anew: Milvus Lite killed mid-write was seen to come back with a
        file's rows twice (count 160, 140 ids)."""
        index = self.empty(dimension)
        self._sync(index, source)
        if len(index) != source.count():
            index.drop()
            index = self.empty(dimension)
            for ids, vectors in source.blocks():
                index.add(ids, vectors)
        return index

    def _sync(self, index: MilvusIndex, source: VectorSource) -> None:
        """Insert the vectors of `source` the collection lacks, delete the ids it lacks."""
        held = set(index.ids().tolist())
        seen: set[int] = set()
        for ids, vectors in source.blocks():
            seen.update(ids.tolist())
            missing = np.array([i not in held for i in ids.tolist()], dtype=bool)
            if missing.any():
                index.add(ids[missing], vectors[missing])
        extra = sorted(held - seen)
        if extra:
            index.remove(np.array(extra, dtype=np.int64))
