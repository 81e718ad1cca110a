"""One knowledge base on disk: SQLite metadata (the source of truth) + a dense index.

Layout under `<kb-root>/<name>/`:
    kb.sqlite                  files, chunks (text, page, title path, vector), KB info
    content/<file>             the uploaded originals
    vector_store/index.faiss   the dense index, keyed by chunk id (FAISS; with Milvus the
                               KB's own collection, named in its info: rag/vectorstores/)

Chunk vectors are kept in SQLite too, so the index is a rebuildable cache: when it is
missing, torn, or disagrees with the metadata (a crash between the two writes), it is rebuilt
from SQLite without re-embedding anything. Chunk ids come from AUTOINCREMENT and are never
reused, so a deleted chunk can never come back under an old id.

Which index type the knowledge base uses follows its size (VECTOR_INDEX, an `IndexPolicy`):
after each write the store asks the policy whether the index still fits, and rebuilds it
from SQLite as the other type when it does not (rag/vectorstores/sizing.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.atomic import atomic_copy, atomic_move
from rag.errors import DocumentNotFoundError, EmbeddingMismatchError
from rag.lexical.index import DEFAULT_K1, LexicalIndex, LexicalResult
from rag.lexical.tokenize import Tokenizer
from rag.vectorstores import (
    IndexPolicy,
    LexicalVectorIndex,
    VectorIndex,
    VectorStores,
    as_vector_stores,
    store_of,
)
from rag.vectorstores.backends import STORE_KEYS
from rag.vectorstores.base import CountedIndex
from rag.vectorstores.milvus_bm25 import REFERENCE_MODE

DB_NAME = "kb.sqlite"
_BLOCK = 4096
"""Vectors read from SQLite at a time when the index is rebuilt."""
_IDS_PER_QUERY = 500
_NEWEST = 256
"""Newest chunk ids looked up in an index whose ids are slow to list (`CountedIndex`)."""
INDEX_PATH = Path("vector_store") / "index.faiss"
CONTENT_DIR = "content"
STAGED_PREFIX = ".staged."
"""content/.staged.<name>: a new original, copied before its metadata is committed and
renamed into place right after (stored names never start with a dot)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    added_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_name TEXT NOT NULL REFERENCES files(name) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    page INTEGER,
    title_path TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(file_name, seq);
"""


@dataclass(frozen=True)
class ChunkRecord:
    """A stored chunk."""

    id: int
    file_name: str
    seq: int
    text: str
    page: int | None
    title_path: str
    metadata: dict[str, object]

    @property
    def source(self) -> str:
        """The name a citation shows: the file's, or "mail.eml/report.pdf" for the text of a
        file inside it (an e-mail attachment: metadata "part", rag/loaders/_parts.py)."""
        part = self.metadata.get("part")
        return f"{self.file_name}/{part}" if isinstance(part, str) and part else self.file_name


@dataclass(frozen=True)
class NewChunk:
    """A chunk about to be stored, with its vector."""

    text: str
    page: int | None
    title_path: str
    metadata: dict[str, object]


@dataclass(frozen=True)
class FileRecord:
    name: str
    sha256: str
    bytes: int
    chunks: int
    added_at: float
    updated_at: float


@dataclass(frozen=True)
class CheckReport:
    """What a consistency check repaired, and what is still wrong."""

    kb: str
    repaired: list[str]
    unresolved: list[str]

    @property
    def ok(self) -> bool:
        return not self.unresolved


@dataclass(frozen=True)
class EmbeddingIdentity:
    """Which embedding model built a knowledge base; another model cannot search it.

    `equivalents`: other model names whose vectors this model reproduces (the config's
    `same_vectors_as`, measured): their knowledge bases open as if built with this one.
    """

    name: str
    dimension: int
    equivalents: frozenset[str] = frozenset()

    def accepts(self, name: str, dimension: int) -> bool:
        """May a knowledge base built with model `name` of `dimension` be searched?"""
        return dimension == self.dimension and (name == self.name or name in self.equivalents)


class KnowledgeBaseStore:
    """Metadata, originals and the dense index of one knowledge base."""

    def __init__(
        self,
        path: Path,
        embedding: EmbeddingIdentity,
        make_index: VectorStores | IndexPolicy | Callable[[int], VectorIndex],
        tokenizer: Tokenizer | None = None,
        name: str | None = None,
        bm25_k1: float = DEFAULT_K1,
    ) -> None:
        """`make_index`: the vector stores (`VectorStores`: FAISS and Milvus; the KB's info
        says which it uses), or FAISS alone with an `IndexPolicy` (e.g. `SizedIndex`,
        VECTOR_INDEX) or an index class / factory used whatever the size. `name`: the
        knowledge base's name, when the folder is not named after it (a rebuild's copy).
        `bm25_k1`: BM25's term-frequency saturation (BM25_K1; read at search time, so a
        change needs no re-indexing)."""
        self.path = path
        self.name = name or path.name
        self.embedding = embedding
        self._write_lock = threading.RLock()
        self._db_lock = threading.Lock()
        self._db = sqlite3.connect(path / DB_NAME, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._check_embedding()
        self._stores = as_vector_stores(make_index)
        self._policy = self._stores.policy(self.info(), self._index_rows)
        self._index = self._policy.empty(embedding.dimension)
        self._load_index()
        tokenizer = tokenizer or Tokenizer()
        self._lexical = LexicalIndex(
            self._db, tokenizer=tokenizer, k1=bm25_k1, db_lock=self._db_lock
        )
        self._sync_lexical()
        # the query's tokens as Milvus's BM25 analyzer cuts them (for its reference score)
        self._bm25_tokenizer = tokenizer.with_mode(REFERENCE_MODE)

    # ---- creation -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        embedding: EmbeddingIdentity,
        make_index: VectorStores | IndexPolicy | Callable[[int], VectorIndex],
        description: str = "",
        tokenizer: Tokenizer | None = None,
        name: str | None = None,
        vs_type: str | None = None,
        bm25_k1: float = DEFAULT_K1,
    ) -> KnowledgeBaseStore:
        """`vs_type`: the vector store ("faiss", "milvus"; default: DEFAULT_VS_TYPE)."""
        stores = as_vector_stores(make_index)
        placed = stores.new_info(vs_type)
        (path / CONTENT_DIR).mkdir(parents=True, exist_ok=False)
        db = sqlite3.connect(path / DB_NAME)
        with db:
            db.executescript(_SCHEMA)
            db.executemany(
                "INSERT INTO info(key, value) VALUES (?, ?)",
                [
                    ("embedding_model", embedding.name),
                    ("embedding_dimension", str(embedding.dimension)),
                    ("description", description),
                    ("created_at", str(time.time())),
                    *placed.items(),
                ],
            )
        db.close()
        return cls(path, embedding, stores, tokenizer, name, bm25_k1)

    def _check_embedding(self) -> None:
        info = self.info()
        built_with = info.get("embedding_model")
        dimension = int(info.get("embedding_dimension", "0"))
        if built_with and not self.embedding.accepts(built_with, dimension):
            raise EmbeddingMismatchError(
                f"knowledge base {self.name!r} was built with embedding model {built_with!r} "
                f"({dimension} dims), but EMBEDDING_MODEL is {self.embedding.name!r} "
                f"({self.embedding.dimension} dims); set EMBEDDING_MODEL back, or rebuild it "
                f"with the current model: rag kb rebuild {self.name}"
            )

    # ---- index persistence ----------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.path / INDEX_PATH

    @property
    def index_kind(self) -> str:
        """The dense index's type: "flat" (exact) or "ivf"."""
        return self._index.kind

    @property
    def vector_store(self) -> str:
        """Where the dense index is kept: "faiss" or "milvus"."""
        return store_of(self.info())

    def _load_index(self) -> None:
        """Load the saved index; rebuild it from SQLite when it disagrees with the metadata
        or is not the type its size calls for."""
        loaded = False
        # a missing, torn or foreign index is ignored: it is rebuilt from SQLite below
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            self._index = self._policy.load(self.index_path, self.embedding.dimension)
            loaded = True
        if not loaded or not self.index_matches_metadata() or not self._policy.fits(self._index):
            self.rebuild_index()

    def _index_rows(self, ids: list[int]) -> dict[int, dict[str, object]]:
        """The fields a vector store may keep beside each chunk's vector (Milvus does)."""
        return {
            chunk_id: {
                "text": chunk.text,
                "file_name": chunk.file_name,
                "seq": chunk.seq,
                "page": chunk.page,
                "title_path": chunk.title_path,
            }
            for chunk_id, chunk in self.chunks_by_id(ids).items()
        }

    def migrate(self, vs_type: str) -> bool:
        """Move the dense index to vector store `vs_type` (False: it is there already).

        The vectors are copied from SQLite (nothing is embedded again) into a new index,
        which the KB's info then records; the old index is removed last. A crash before the
        info is written leaves the KB on its old store (the copy is dropped as garbage, or
        overwritten); after, on the new one.
        """
        with self._write_lock:
            old = self.info()
            if store_of(old) == vs_type:
                return False
            placed = self._stores.new_info(vs_type)
            policy = self._stores.policy(placed, self._index_rows)
            source = _StoredVectors(self._query, self.embedding.dimension)
            fresh = policy.build(self.embedding.dimension, source, "flat")
            fresh.save(self.index_path)
            with self._db_lock, self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("DELETE FROM info WHERE key = ?", [(k,) for k in STORE_KEYS])
                self._db.executemany("INSERT INTO info(key, value) VALUES (?, ?)", placed.items())
            self._policy, self._index = policy, fresh
            self._stores.drop(old, self.index_path)
            return True

    def index_matches_metadata(self) -> bool:
        """Does the dense index hold exactly the chunks of SQLite? An index whose ids are
        slow to list (a Milvus collection, `CountedIndex`) is asked for its size and the
        `_NEWEST` newest ids: every state a crash of a write leaves changes one of them
        (new chunks are added in id order, after the old ones are removed)."""
        if isinstance(self._index, CountedIndex):
            newest = self._query("SELECT id FROM chunks ORDER BY id DESC LIMIT ?", (_NEWEST,))
            ids = np.array([row[0] for row in newest], dtype=np.int64)
            return self._index.agrees_with(self.chunk_count(), ids)
        stored = {row[0] for row in self._query("SELECT id FROM chunks")}
        return stored == set(self._index.ids().tolist())

    def rebuild_index(self) -> None:
        """Rebuild the dense index from the vectors kept in SQLite, then save it.

        The type is the one the size calls for. Searches use the old index until the new
        one replaces it; writes wait.
        """
        with self._write_lock:
            source = _StoredVectors(self._query, self.embedding.dimension)
            fresh = self._policy.build(self.embedding.dimension, source, self._index.kind)
            self._index = fresh
            self._index.save(self.index_path)

    def _sync_lexical(self) -> bool:
        """Make the BM25 index hold exactly the stored chunks; True if it had to change."""
        current = [row[0] for row in self._query("SELECT id FROM chunks")]
        added, removed = self._lexical.sync(current, self._texts_of)
        return bool(added or removed)

    def _texts_of(self, ids: list[int]) -> dict[int, str]:
        return {chunk_id: record.text for chunk_id, record in self.chunks_by_id(ids).items()}

    def lexical_matches_metadata(self) -> bool:
        stored = {row[0] for row in self._query("SELECT id FROM chunks")}
        return stored == self._lexical.ids()

    def save_index(self) -> None:
        """Persist the dense index, rebuilt first as another type when its size calls for it
        (`IndexPolicy.fits`)."""
        with self._write_lock:
            if self._policy.fits(self._index):
                self._index.save(self.index_path)
            else:
                self.rebuild_index()

    # ---- reads ----------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._db_lock:
            return self._db.execute(sql, params).fetchall()

    def info(self) -> dict[str, str]:
        return dict(self._query("SELECT key, value FROM info"))

    def files(self) -> list[FileRecord]:
        rows = self._query(
            "SELECT name, sha256, bytes, chunks, added_at, updated_at FROM files ORDER BY name"
        )
        return [FileRecord(*row) for row in rows]

    def file(self, name: str) -> FileRecord | None:
        rows = self._query(
            "SELECT name, sha256, bytes, chunks, added_at, updated_at FROM files WHERE name = ?",
            (name,),
        )
        return FileRecord(*rows[0]) if rows else None

    def original(self, name: str) -> tuple[FileRecord, Path]:
        """Document `name`'s record and where its original is kept, looked up in the files
        table: the name is a key there, never taken as a path. 404 when there is no such
        document, or its original is missing (or is not a plain file inside content/)."""
        record = self.file(name)
        if record is None:
            raise DocumentNotFoundError(f"no document {name!r} in knowledge base {self.name!r}")
        content = (self.path / CONTENT_DIR).resolve()
        path = content / record.name
        if path.resolve().parent != content or not path.is_file():
            raise DocumentNotFoundError(
                f"the original of {name!r} is missing from knowledge base {self.name!r}; "
                "upload it again"
            )
        return record, path

    def chunk_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM chunks")[0][0])

    def chunks_by_id(self, ids: Iterable[int]) -> dict[int, ChunkRecord]:
        id_list = list(ids)
        if not id_list:
            return {}
        marks = ",".join("?" * len(id_list))
        rows = self._query(
            "SELECT id, file_name, seq, text, page, title_path, metadata FROM chunks "
            f"WHERE id IN ({marks})",
            id_list,
        )
        return {row[0]: _chunk(row) for row in rows}

    def chunks_of_file(self, name: str) -> list[ChunkRecord]:
        rows = self._query(
            "SELECT id, file_name, seq, text, page, title_path, metadata FROM chunks "
            "WHERE file_name = ? ORDER BY seq",
            (name,),
        )
        return [_chunk(row) for row in rows]

    def search(self, query_vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Dense search: (chunk id, cosine) pairs, best first."""
        return self._index.search(query_vector, k)

    @property
    def lexical_backend(self) -> str:
        """Who answers `lexical_search`: "milvus_bm25" (the collection's BM25 function,
        kbs_config["milvus"]["lexical"]) or "zhiku" (the BM25 index in SQLite)."""
        index = self._index
        return "milvus_bm25" if isinstance(index, LexicalVectorIndex) and index.bm25 else "zhiku"

    def lexical_search(self, query: str, k: int) -> LexicalResult:
        """BM25 search: (chunk id, BM25) pairs best first, and the query's reference score.

        With Milvus's BM25 (`lexical_backend`), the hits are Milvus's, and the reference is
        computed from the SQLite index's statistics for the query's tokens as Milvus cuts
        them (Milvus reports no idf): the fusion's bm25 / reference keeps its meaning."""
        index = self._index
        if isinstance(index, LexicalVectorIndex) and index.bm25:
            hits = index.lexical_search(query, k)
            tokens = self._bm25_tokenizer.tokenize(query)
            return LexicalResult(hits, self._lexical.reference(tokens))
        return self._lexical.search_with_reference(query, k)

    def coverage(self, query: str, text: str, ignore: frozenset[str] = frozenset()) -> float:
        """The idf-weighted share of the query's words in `text` (`LexicalIndex.coverage`)."""
        return self._lexical.coverage(query, text, ignore)

    # ---- writes ---------------------------------------------------------------------

    def put_file(
        self,
        name: str,
        sha256: str,
        original: Path,
        chunks: Sequence[NewChunk],
        vectors: np.ndarray,
        save_index: bool = True,
    ) -> None:
        """Store a new or changed file: its old chunks go before the new ones are added.

        The original is first copied next to its place (content/.staged.<name>, fsynced), the
        metadata changes in one SQLite transaction, then the copy is renamed into place and
        the index follows. A crash in between leaves SQLite right, and `check` finishes or
        drops the staged copy (by its sha256) and rebuilds the index from SQLite. With
        `save_index=False` the index changes in memory only: call `save_index` after a batch
        of files (until then a crash costs an index rebuild).
        """
        now = time.time()
        with self._write_lock:
            old_ids = [row[0] for row in self._query(
                "SELECT id FROM chunks WHERE file_name = ?", (name,)
            )]  # fmt: skip
            staged = self.path / CONTENT_DIR / f"{STAGED_PREFIX}{name}"
            atomic_copy(original, staged)
            try:
                new_ids = self._commit_file(name, sha256, original, chunks, vectors, now)
            except BaseException:
                staged.unlink(missing_ok=True)
                raise
            atomic_move(staged, self.path / CONTENT_DIR / name)
            if old_ids:
                self._index.remove(np.array(old_ids))
            self._index.add(np.array(new_ids, dtype=np.int64), vectors)
            self._lexical.add(
                [int(i) for i in new_ids if i is not None],
                [chunk.text for chunk in chunks],
                remove=old_ids,
            )
            if save_index:
                self.save_index()

    def _commit_file(
        self,
        name: str,
        sha256: str,
        original: Path,
        chunks: Sequence[NewChunk],
        vectors: np.ndarray,
        now: float,
    ) -> list[int | None]:
        """Replace file `name`'s row and chunks in one transaction; the new chunk ids."""
        with self._db_lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            added = self._db.execute("SELECT added_at FROM files WHERE name = ?", (name,))
            first_added = (added.fetchone() or (now,))[0]
            self._db.execute("DELETE FROM chunks WHERE file_name = ?", (name,))
            self._db.execute(
                "INSERT OR REPLACE INTO files(name, sha256, bytes, chunks, added_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, sha256, original.stat().st_size, len(chunks), first_added, now),
            )
            new_ids = [
                self._db.execute(
                    "INSERT INTO chunks(file_name, seq, text, page, title_path, metadata, "
                    "vector) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        seq,
                        chunk.text,
                        chunk.page,
                        chunk.title_path,
                        json.dumps(chunk.metadata, ensure_ascii=False),
                        np.asarray(vector, dtype=np.float32).tobytes(),
                    ),
                ).lastrowid
                for seq, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True))
            ]
        return new_ids

    def remove_file(self, name: str) -> None:
        """Remove a file's chunks from metadata and index, and its original from content/."""
        with self._write_lock:
            ids = [row[0] for row in self._query(
                "SELECT id FROM chunks WHERE file_name = ?", (name,)
            )]  # fmt: skip
            with self._db_lock, self._db:
                self._db.execute("BEGIN IMMEDIATE")
                deleted = self._db.execute("DELETE FROM files WHERE name = ?", (name,)).rowcount
                self._db.execute("DELETE FROM chunks WHERE file_name = ?", (name,))
            if not deleted:
                raise DocumentNotFoundError(f"no document {name!r} in knowledge base {self.name!r}")
            if ids:
                self._index.remove(np.array(ids))
                self._lexical.remove(ids)
            self.save_index()
            (self.path / CONTENT_DIR / name).unlink(missing_ok=True)

    def check(self, repair: bool = True) -> CheckReport:
        """Do metadata, originals and index agree? With `repair`, make them agree.

        SQLite is the source of truth (its writes are transactions): a stale index is rebuilt
        from it, leftover temp files and originals with no metadata row (a remove cut short)
        are deleted, a staged original (a `put_file` cut short) is moved into place when its
        metadata was committed, else deleted. A row whose original is missing cannot be
        repaired here: it is reported, and the file stays searchable until it is re-added or
        removed.
        """
        with self._write_lock:
            repaired: list[str] = []
            unresolved: list[str] = []

            def found(problem: str, fix: Callable[[], object] | None) -> None:
                if repair and fix is not None:
                    fix()
                    repaired.append(problem)
                else:
                    unresolved.append(problem)

            if not self.index_matches_metadata():
                found("dense index disagreed with the metadata: rebuilt", self.rebuild_index)
            elif not self._policy.fits(self._index):
                found(
                    f"dense index is {self._index.kind} at {len(self._index)} chunks, not the "
                    "type VECTOR_INDEX asks for: rebuilt",
                    self.rebuild_index,
                )
            if not self.lexical_matches_metadata():
                found("lexical index disagreed with the metadata: synced", self._sync_lexical)
            content = self.path / CONTENT_DIR
            files = {f.name: f for f in self.files()}
            pending = {  # committed, the original not yet renamed into place
                path.name.removeprefix(STAGED_PREFIX)
                for path in sorted(content.glob(f"{STAGED_PREFIX}*"))
                if self._check_staged(path, files, found)
            }
            for path in sorted(content.iterdir()):
                if path.name not in files and not path.name.startswith(STAGED_PREFIX):
                    found(f"{path.name}: in content/ but not indexed: deleted", path.unlink)
            for name in sorted(set(files) - pending):
                if not (content / name).exists():
                    found(f"{name}: indexed, but its original is missing: re-add it", None)
            miscounted = self._query(
                "SELECT f.name FROM files f LEFT JOIN chunks c ON c.file_name = f.name "
                "GROUP BY f.name HAVING COUNT(c.id) != MAX(f.chunks)"
            )
            for (name,) in miscounted:
                found(f"{name}: chunk count disagrees: remove and re-add it", None)
            return CheckReport(self.name, repaired, unresolved)

    def _check_staged(
        self,
        path: Path,
        files: dict[str, FileRecord],
        found: Callable[[str, Callable[[], object] | None], None],
    ) -> bool:
        """A staged original left by a crash: its metadata was committed (same sha256) and
        it is renamed into place (True), or it was not and the copy is deleted (False)."""
        name = path.name.removeprefix(STAGED_PREFIX)
        record = files.get(name)
        if record is not None and sha256_of(path) == record.sha256:
            target = path.with_name(name)
            found(
                f"{name}: stored, original not yet in place: moved",
                lambda: atomic_move(path, target),
            )
            return True
        found(f"{name}: staged original never stored: deleted", path.unlink)
        return False

    def close(self) -> None:
        with self._db_lock:
            self._db.close()


class _StoredVectors:
    """The chunk vectors kept in SQLite, as a `VectorSource` for rebuilding the index.

    Read in id order, `_BLOCK` rows per query (keyset pages), so neither the rows nor the
    vectors are all in memory at once; the caller holds the store's write lock, so nothing
    changes in between.
    """

    def __init__(self, query: Callable[[str, Sequence[object]], list[tuple]], dim: int) -> None:
        self._query = query
        self._dim = dim

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM chunks", ())[0][0])

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        last = -1
        while True:
            rows = self._query(
                "SELECT id, vector FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, _BLOCK)
            )
            if not rows:
                return
            last = rows[-1][0]
            yield self._arrays(rows)

    def sample(self, count: int, seed: int) -> np.ndarray:
        ids = np.array([row[0] for row in self._query("SELECT id FROM chunks", ())], np.int64)
        picks = np.random.default_rng(seed).choice(len(ids), min(count, len(ids)), replace=False)
        chosen = np.sort(ids[picks]).tolist()
        parts = [np.zeros((0, self._dim), np.float32)]
        for start in range(0, len(chosen), _IDS_PER_QUERY):
            group = chosen[start : start + _IDS_PER_QUERY]
            marks = ",".join("?" * len(group))
            rows = self._query(f"SELECT id, vector FROM chunks WHERE id IN ({marks})", group)
            parts.append(self._arrays(rows)[1])
        return np.vstack(parts)

    def _arrays(self, rows: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32)
        return ids, vectors.reshape(len(rows), self._dim)


def read_info(path: Path) -> dict[str, str]:
    """The info of the knowledge base in folder `path` (its model, description, ...) without
    opening it: a rebuild reads the description of one built with another embedding model."""
    db = sqlite3.connect(path / DB_NAME)
    try:
        return dict(db.execute("SELECT key, value FROM info").fetchall())
    finally:
        db.close()


def originals(path: Path) -> list[Path]:
    """The originals stored in the knowledge base in folder `path`, by name."""
    return sorted(
        p for p in (path / CONTENT_DIR).iterdir() if p.is_file() and not p.name.startswith(".")
    )


def sha256_of(path: Path) -> str:
    """A file's content hash, as the store keeps it: an unchanged file is not added again."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _chunk(row: tuple) -> ChunkRecord:
    chunk_id, file_name, seq, text, page, title_path, metadata = row
    return ChunkRecord(chunk_id, file_name, seq, text, page, title_path, json.loads(metadata))
