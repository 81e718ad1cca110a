"""Adding files to a knowledge base's store, in batches.

A file's name and type are checked, its content hash compared with the stored copy's (an
unchanged file is skipped), then it is loaded and split (the slow part, along with
embedding: outside any store lock). The chunks of a few files are embedded in one call (the
embedder sorts a call's texts by length, so its batches are fuller and less padded than one
small file's), each file is then stored in its own SQLite transaction
(`KnowledgeBaseStore.put_file`), and the dense index is saved once per batch. A file that
fails to load, split, embed or store gets its own "error" and never fails the others of its
batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.errors import UnsupportedFileTypeError, ZhikuError
from rag.ingestion.pipeline import Embedded, IngestionPipeline, IngestOptions
from rag.ingestion.progress import IngestEvent, OnEvent, Stage, reading_event
from rag.kb.names import safe_file_name
from rag.kb.store import KnowledgeBaseStore, NewChunk, sha256_of
from rag.loaders import SUPPORTED_EXTENSIONS
from rag.ocr import Progress

FileStatus = Literal["ok", "unchanged", "error"]


@dataclass(frozen=True)
class FileResult:
    """What happened to one uploaded file."""

    name: str
    status: FileStatus
    chunks: int = 0
    error: str | None = None
    error_type: type[ZhikuError] | None = None
    """The class of the error (the kind of failure): the API maps it to a status."""


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


class _Report:
    """Where an add tells what happens: each file's result as soon as it is known (kept,
    and passed to `on_progress`), and its stages (`on_event`, rag/ingestion/progress.py)."""

    def __init__(
        self, on_progress: Callable[[FileResult], None] | None, on_event: OnEvent | None
    ) -> None:
        self.done: dict[int, FileResult] = {}
        self._on_progress = on_progress
        self._on_event = on_event

    def finish(self, position: int, result: FileResult) -> None:
        self.done[position] = result
        if self._on_progress:
            self._on_progress(result)
        stage: Stage = "done" if result.status == "ok" else result.status
        error = {"error": result.error or "", "error_type": result.error_type}
        self.event(position, result.name, stage, result.chunks, **error)

    def event(self, position: int, name: str, stage: Stage, done: int = 0, **more: Any) -> None:
        if self._on_event:
            self._on_event(IngestEvent(position, name, stage, done, **more))

    def reading(self, position: int, name: str) -> Progress | None:
        """Turns the status lines of a file being read ("OCR page 3/10") into its
        "parsing" events (`reading_event`; None: not asked)."""
        if not self._on_event:
            return None
        on_event = self._on_event
        return lambda line: on_event(reading_event(position, name, line))

    def embedded(self, batch: list[_Staged]) -> Embedded | None:
        """Turns a batch's count of embedded chunks into each file's (None: not asked)."""
        if not self._on_event:
            return None
        starts = np.cumsum([0, *(len(staged.chunks) for staged in batch)])
        shown = [0] * len(batch)

        def embedded(count: int) -> None:
            for i, staged in enumerate(batch):
                done = int(min(max(count - starts[i], 0), len(staged.chunks)))
                if done != shown[i]:
                    shown[i] = done
                    self.event(
                        staged.position, staged.name, "embedding", done, total=len(staged.chunks)
                    )

        for staged in batch:
            self.event(staged.position, staged.name, "embedding", 0, total=len(staged.chunks))
        return embedded


class FileIngestor:
    """Adds (or updates) files in a knowledge base's store; one bad file never stops the
    others (module doc)."""

    def __init__(self, pipeline: IngestionPipeline, options: IngestOptions | None = None):
        self.pipeline = pipeline
        """load -> split -> embed."""
        self.options = options or IngestOptions()
        """How files are batched."""

    def add(
        self,
        store: KnowledgeBaseStore,
        files: Iterable[tuple[str, Path]],
        on_progress: Callable[[FileResult], None] | None = None,
        stop: Callable[[], None] | None = None,
        on_event: OnEvent | None = None,
    ) -> list[FileResult]:
        """Add each `(display name, path)` to `store`; results in the order of `files`.

        `on_progress` gets each file's result as soon as it is known (a stored file's when
        its batch is stored); `stop` is called before each batch is stored (it raises to
        cancel the rest); `on_event` gets each file's stages (rag/ingestion/progress.py),
        every file "queued" first."""
        report = _Report(on_progress, on_event)
        files = list(files)
        for position, (name, path) in enumerate(files):
            report.event(position, name, "queued", bytes=_size(path))
        batch: list[_Staged] = []
        for position, (name, path) in enumerate(files):
            staged = self._stage(store, position, name, path, batch, report)
            if staged is None:
                continue
            if batch and not self.options.fits(_sizes(batch), len(staged.chunks)):
                self._store_batch(store, batch, report, stop)
            batch.append(staged)
            if self.options.full(_sizes(batch)):
                self._store_batch(store, batch, report, stop)  # no need to wait for the next
        self._store_batch(store, batch, report, stop)
        return [report.done[position] for position in sorted(report.done)]

    def _stage(
        self,
        store: KnowledgeBaseStore,
        position: int,
        name: str,
        path: Path,
        batch: list[_Staged],
        report: _Report,
    ) -> _Staged | None:
        """Check, hash, load and split one file; None when it is done already (unchanged or
        an error, both reported)."""
        try:
            safe_name = safe_file_name(name)
            check_file_type(safe_name)
        except ZhikuError as exc:
            report.finish(position, _error(name, exc))
            return None
        if any(staged.name == safe_name for staged in batch):
            # the same name again: the earlier file is stored first, as without batches
            self._store_batch(store, batch, report)
        try:
            with self.pipeline.timings.timed("hash"):
                digest = sha256_of(path)
            existing = store.file(safe_name)
            if existing and existing.sha256 == digest:
                report.finish(position, FileResult(safe_name, "unchanged", existing.chunks))
                return None
            report.event(position, name, "parsing")
            chunks = self.pipeline.chunk_file(path, safe_name, report.reading(position, name))
        except ZhikuError as exc:
            report.finish(position, _error(name, exc))
            return None
        return _Staged(position, name, safe_name, digest, path, chunks)

    def _store_batch(
        self,
        store: KnowledgeBaseStore,
        batch: list[_Staged],
        report: _Report,
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
        all_vectors = self.pipeline.embed_files(
            [staged.chunks for staged in staged_files], report.embedded(staged_files)
        )
        try:
            for staged, vectors in zip(staged_files, all_vectors, strict=True):
                report.event(staged.position, staged.name, "indexing")
                result = self._put(store, staged, vectors)
                stored += result.status == "ok"
                report.finish(staged.position, result)
        finally:
            if stored:
                with self.pipeline.timings.timed("index_save"):
                    store.save_index()

    def _put(
        self, store: KnowledgeBaseStore, staged: _Staged, vectors: np.ndarray | ZhikuError
    ) -> FileResult:
        """Store one file of a batch (its own transaction; the index is saved by the batch)."""
        if isinstance(vectors, ZhikuError):
            return _error(staged.given, vectors)
        try:
            with self.pipeline.timings.timed("store"):
                store.put_file(
                    staged.name, staged.sha256, staged.path, staged.chunks, vectors, False
                )
        except ZhikuError as exc:
            return _error(staged.given, exc)
        return FileResult(staged.name, "ok", len(staged.chunks))


def check_file_type(name: str) -> None:
    """Refuse a file whose type no loader reads (UnsupportedFileTypeError, 415)."""
    extension = Path(name).suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFileTypeError(
            f"{name!r}: file type {extension or '(none)'} is not supported; "
            f"allowed: {', '.join(SUPPORTED_EXTENSIONS)}"
        )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reported when the file is read


def _sizes(batch: list[_Staged]) -> list[int]:
    return [len(staged.chunks) for staged in batch]


def _error(name: str, exc: ZhikuError) -> FileResult:
    return FileResult(name, "error", error=str(exc), error_type=type(exc))


__all__ = ["FileIngestor", "FileResult", "FileStatus", "check_file_type"]
