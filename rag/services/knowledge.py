"""The knowledge-base service: what the UI, the API and the CLI call to change or search
knowledge bases, by name.

It only puts the components together: the registry of knowledge bases and their stores
(rag/kb/registry.py), adding files to a store (rag/ingestion/files.py) and the retriever
over a store (rag/retrieval/hybrid.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import BinaryIO

from langchain_core.embeddings import Embeddings

from rag.documents import DocumentText, document_text
from rag.errors import RebuildFailedError
from rag.ingestion import FileIngestor, FileResult, check_file_type
from rag.ingestion.progress import OnEvent
from rag.kb.quality_runs import QualityRuns
from rag.kb.registry import KnowledgeBaseRegistry, KnowledgeBaseSummary
from rag.kb.store import CheckReport, ChunkRecord, FileRecord, KnowledgeBaseStore
from rag.retrieval import (
    AnswerabilityCheck,
    HybridRetriever,
    Relevance,
    Reranker,
    SearchHit,
    SearchOptions,
)
from rag.retrieval.store import StoredChunk
from rag.services.dashboard import KbStats, kb_stats
from rag.services.jobs import IngestJobs, JobState


class KnowledgeBaseService:
    """Create, fill, search and delete knowledge bases under one root folder."""

    def __init__(
        self,
        registry: KnowledgeBaseRegistry,
        ingestor: FileIngestor,
        embeddings: Embeddings,
        search_options: SearchOptions | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.registry = registry
        """The knowledge bases, their stores and locks."""
        self.ingestor = ingestor
        """Adds files to a store."""
        self.embeddings = embeddings
        """The embedding model (the ingestor's too): it embeds queries."""
        self.search_options = search_options or SearchOptions()
        self.reranker = reranker
        self.jobs = IngestJobs()
        """Uploads and rebuilds running in the background (`start_add`, `start_rebuild`)."""
        self.quality_runs = QualityRuns(registry.root)
        """Every quality run of each knowledge base (`Services.evaluate` records them)."""

    @property
    def root(self) -> Path:
        return self.registry.root

    # ---- knowledge bases ------------------------------------------------------------

    def list_kbs(self) -> list[KnowledgeBaseSummary]:
        return self.registry.summaries()

    def summary(self, name: str) -> KnowledgeBaseSummary:
        return self.registry.describe(name)

    def exists(self, name: str) -> bool:
        return self.registry.exists(name)

    def create_kb(self, name: str, description: str = "") -> KnowledgeBaseSummary:
        return self.registry.create(name, description)

    def delete_kb(self, name: str) -> None:
        """A running rebuild or upload of it is cancelled (it gets 404); its quality runs
        are forgotten."""
        self.registry.delete(name)
        self.quality_runs.drop(name)
        self.jobs.forget(name)

    def stats(self, name: str) -> KbStats:
        """What the dashboard shows of knowledge base `name` (404 when there is none)."""
        with self.registry.reading(name) as store:
            return kb_stats(store)

    def migrate_kb(self, name: str, vs_type: str) -> bool:
        """Move a knowledge base's dense index to vector store `vs_type` ("faiss", "milvus")
        without embedding again; False when it is there already."""
        return self.registry.migrate(name, vs_type)

    def store(self, name: str) -> KnowledgeBaseStore:
        """The open store of KB `name` (404 when there is none)."""
        return self.registry.open(name)

    def check(self, kb: str, repair: bool = True) -> CheckReport:
        """Consistency check of one knowledge base (`KnowledgeBaseRegistry.check`)."""
        return self.registry.check(kb, self._add_into, repair)

    def check_all(self, repair: bool = True) -> list[CheckReport]:
        return self.registry.check_all(self._add_into, repair)

    def close(self) -> None:
        """Close the stores and stop the OCR worker processes."""
        self.registry.close()
        self.ingestor.pipeline.close()

    # ---- documents ------------------------------------------------------------------

    def add_files(
        self,
        kb: str,
        files: Iterable[tuple[str, Path]],
        on_progress: Callable[[FileResult], None] | None = None,
        on_event: OnEvent | None = None,
    ) -> list[FileResult]:
        """Add (or update) each `(display name, path)`; one bad file never stops the others.

        Results come back in the order of `files`; `on_progress` gets each file's result as
        soon as it is known, `on_event` each file's stages (rag/ingestion/progress.py:
        a scan's pages read by OCR too, "OCR page 3/10" as the event's note). 409
        while the knowledge base is being rebuilt; 404 when it is deleted meanwhile (the
        files stored so far go with it).
        """
        with self.registry.writing(kb) as turn:
            return self.ingestor.add(turn.store, files, on_progress, turn.stop, on_event)

    def start_add(
        self, kb: str, files: Sequence[tuple[str, Path]], after: Callable[[], None] | None = None
    ) -> JobState:
        """`add_files` as a background job (`IngestJobs`): it goes on when the page that
        started it is closed; `job(kb)` tells how far it is. `after` runs once it ends
        (removing the uploaded copies). 404 now for a missing knowledge base, 409 while
        another job of it runs."""
        self.store(kb)
        return self.jobs.start(
            kb, "upload", lambda on_event: self.add_files(kb, files, None, on_event), after
        )

    def start_rebuild(self, kb: str) -> JobState:
        """`rebuild_kb` as a background job (see `start_add`)."""
        self.store(kb)
        return self.jobs.start(kb, "rebuild", lambda on_event: self.rebuild_kb(kb, on_event))

    def job(self, kb: str) -> JobState | None:
        """The last upload or rebuild job of `kb`, running or finished."""
        return self.jobs.state(kb)

    @staticmethod
    def check_file_type(name: str) -> None:
        check_file_type(name)

    def list_docs(self, kb: str) -> list[dict[str, object]]:
        with self.registry.reading(kb) as store:
            return [
                {"name": f.name, "chunks": f.chunks, "bytes": f.bytes, "updated_at": f.updated_at}
                for f in store.files()
            ]

    def doc_chunks(self, kb: str, name: str) -> list[ChunkRecord]:
        """Document `name`'s chunks in order (none when there is no such document)."""
        with self.registry.reading(kb) as store:
            return store.chunks_of_file(name)

    def doc(self, kb: str, name: str) -> FileRecord | None:
        """Document `name` of `kb`, or None."""
        with self.registry.reading(kb) as store:
            return store.file(name)

    def page_url(self, kb: str, name: str) -> str | None:
        """The URL document `name` of `kb` was fetched from; None for an uploaded file (or
        no such document)."""
        with self.registry.reading(kb) as store:
            chunks = store.chunks_of_file(name)
        url = chunks[0].metadata.get("url") if chunks else None
        return url if isinstance(url, str) else None

    def open_original(self, kb: str, name: str) -> tuple[FileRecord, BinaryIO]:
        """Document `name`'s record and its original, opened for reading (the caller closes
        it): an update or removal of the document meanwhile does not cut a download short.
        404 when `kb` has no such document; found through the store's records, never the
        name taken as a path."""
        with self.registry.reading(kb) as store:
            record, path = store.original(name)
            return record, path.open("rb")

    @contextmanager
    def original(self, kb: str, name: str) -> Iterator[tuple[FileRecord, Path]]:
        """Document `name`'s record and original, not removed or replaced before the block
        ends (404 as `open_original`)."""
        with self.registry.reading(kb) as store:
            yield store.original(name)

    def document_text(self, kb: str, name: str) -> DocumentText:
        """Document `name` as its loader reads it (the text that was indexed, before it was
        cut into chunks), to show it."""
        with self.original(kb, name) as (record, path):
            return document_text(self.ingestor.pipeline.load(path, record.name))

    def delete_doc(self, kb: str, name: str) -> None:
        """Remove one document; 409 while the knowledge base is being rebuilt."""
        with self.registry.writing(kb) as turn:
            turn.store.remove_file(name)

    def rebuild_kb(self, kb: str, on_event: OnEvent | None = None) -> list[FileResult]:
        """Re-embed every original with the current embedding model, aside, then swap it in
        (`KnowledgeBaseRegistry.rebuild`): searches use the old index until then. When an
        original cannot be indexed again, nothing is swapped (RebuildFailedError names it).
        `on_event`: each original's stages, as for `add_files`."""
        return self.registry.rebuild(kb, partial(self._rebuild_into, on_event=on_event))

    def _add_into(
        self,
        store: KnowledgeBaseStore,
        files: Sequence[tuple[str, Path]],
        stop: Callable[[], None],
        on_event: OnEvent | None = None,
    ) -> list[FileResult]:
        return self.ingestor.add(store, files, None, stop, on_event)

    def _rebuild_into(
        self,
        store: KnowledgeBaseStore,
        files: Sequence[tuple[str, Path]],
        stop: Callable[[], None],
        on_event: OnEvent | None = None,
    ) -> list[FileResult]:
        """Fill a rebuild's new store; raise when an original cannot be indexed again."""
        results = self._add_into(store, files, stop, on_event)
        stop()
        failed = [r for r in results if r.status == "error"]
        if failed:
            raise RebuildFailedError(_rebuild_failure(store.name, failed, len(results)))
        return results

    # ---- search ---------------------------------------------------------------------

    def retriever(
        self,
        kb: str,
        top_k: int = 5,
        score_threshold: float = 0.0,
        answerability: AnswerabilityCheck | None = None,
    ) -> HybridRetriever:
        """The retriever over knowledge base `kb` (opened at each search)."""
        return HybridRetriever(
            kb=kb,
            open_store=partial(self.registry.reading, kb),
            embeddings=self.embeddings,
            options=self.search_options,
            reranker=self.reranker,
            top_k=top_k,
            score_threshold=score_threshold,
            answerability=answerability,
        )

    def search(
        self, kb: str, query: str, top_k: int, score_threshold: float = 0.0
    ) -> list[SearchHit]:
        """The `top_k` chunks most relevant to `query`, best first, scores in [0, 1]
        (`HybridRetriever.search`)."""
        return self.retriever(kb).search(query, top_k, score_threshold)

    def query_terms(self, text: str) -> list[str]:
        """`text`'s search tokens: the words lexical search matches on (the UI marks them)."""
        return self.registry.tokenizer.tokenize(text)

    def relevance(self, kb: str, query: str, hits: list[SearchHit]) -> Relevance:
        """How well `hits` match `query` (`HybridRetriever.relevance`)."""
        return self.retriever(kb).relevance(query, hits)

    def neighbours(self, kb: str, chunk_id: int, radius: int = 1) -> list[StoredChunk]:
        """Chunk `chunk_id` and its file's chunks within `radius` of it, in file order."""
        return self.retriever(kb).neighbours(chunk_id, radius)


def _rebuild_failure(name: str, failed: list[FileResult], total: int) -> str:
    shown = "; ".join(f"{r.name}: {r.error}" for r in failed[:3])
    more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    return (
        f"rebuild of {name!r} stopped: {len(failed)} of {total} originals could not be indexed "
        f"again ({shown}{more}). The knowledge base is unchanged: remove or replace those "
        "documents, then rebuild again"
    )


__all__ = ["KnowledgeBaseService"]
