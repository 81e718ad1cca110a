"""Uploads and rebuilds run as background jobs of the service, not of a page.

A page starts a job and polls its state (`IngestJobs.state`): closing the page does not stop
it, and the page shows it again when it comes back. One job per knowledge base at a time
(an upload or a rebuild); the last job of each knowledge base is kept, finished or not.

A job's state is built from the ingestion's events (rag/ingestion/progress.py): each file's
stage and counts, the work done so far weighted by file size, and an ETA from the time spent
on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from rag.errors import KnowledgeBaseBusyError, ZhikuError
from rag.ingestion import FileResult
from rag.ingestion.progress import FINAL_STAGES, IngestEvent, OnEvent, Stage

logger = logging.getLogger(__name__)

JobKind = Literal["upload", "rebuild"]
Run = Callable[[OnEvent], list[FileResult]]
"""What a job does (an add or a rebuild), given where to send its events."""

# how far a file is at each stage (embedding: from the first to the second, by its count)
_STAGE_SHARE: dict[str, float] = {"queued": 0.0, "parsing": 0.05, "embedding": 0.1}
_EMBEDDING_SHARE = 0.8
_OCR_SHARE = 0.6
"""A file read by OCR: the part of its work its pages take (taken from embedding's, as
reading a page takes longer than embedding its chunks)."""
_INDEXING_SHARE = 0.95
_MIN_FRACTION_FOR_ETA = 0.03


@dataclass(frozen=True)
class FileProgress:
    """One file of a job."""

    name: str
    bytes: int = 0
    stage: Stage = "queued"
    chunks: int = 0
    """The file's chunks, once it is split."""
    embedded: int = 0
    pages: int = 0
    """The pages OCR reads in this file (0: none)."""
    pages_read: int = 0
    note: str = ""
    """While it is read: its loader's last status line ("OCR page 3/10")."""
    error: str = ""
    error_type: type | None = None

    @property
    def fraction(self) -> float:
        """How much of this file's work is done, 0..1 (its OCR pages, when it has any,
        count for `_OCR_SHARE` of it)."""
        if self.stage in FINAL_STAGES:
            return 1.0
        if self.stage == "indexing":
            return _INDEXING_SHARE
        ocr = _OCR_SHARE if self.pages else 0.0
        share = _STAGE_SHARE[self.stage]
        if self.stage == "parsing" and self.pages:
            share += ocr * self.pages_read / self.pages
        if self.stage == "embedding":
            share += ocr
            if self.chunks:
                share += (_EMBEDDING_SHARE - ocr) * self.embedded / self.chunks
        return share


@dataclass(frozen=True)
class JobState:
    """A job as a page shows it: a snapshot, safe to read while the job goes on."""

    kb: str
    kind: JobKind
    started: float
    files: tuple[FileProgress, ...] = ()
    finished: float | None = None
    error: str = ""
    """Why the job as a whole failed (the knowledge base deleted, a rebuild refused)."""
    error_type: type | None = None
    results: tuple[FileResult, ...] = ()
    now: float = field(default_factory=time.time)

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def elapsed(self) -> float:
        return (self.finished or self.now) - self.started

    @property
    def fraction(self) -> float:
        """The work done, 0..1, each file weighted by its size."""
        if not self.running:
            return 1.0
        weights = [max(f.bytes, 1) for f in self.files]
        total = sum(weights)
        return (
            sum(w * f.fraction for w, f in zip(weights, self.files, strict=True)) / total
            if total
            else 0.0
        )

    @property
    def eta(self) -> float | None:
        """Seconds left, from the pace so far; None until there is enough to tell."""
        fraction = self.fraction
        if not self.running or fraction < _MIN_FRACTION_FOR_ETA:
            return None
        return self.elapsed * (1 - fraction) / fraction

    def count(self, *stages: str) -> int:
        return sum(f.stage in stages for f in self.files)


class _Job:
    """A running job's state, changed by its events (from the job's thread)."""

    def __init__(self, kb: str, kind: JobKind) -> None:
        self._lock = threading.Lock()
        self._state = JobState(kb, kind, time.time())
        self._files: dict[int, FileProgress] = {}
        self.done = threading.Event()

    def event(self, event: IngestEvent) -> None:
        with self._lock:
            known = self._files.get(event.position) or FileProgress(event.name, event.bytes)
            changes: dict[str, object] = {"stage": event.stage}
            if event.stage == "parsing" and event.note:
                changes.update(note=event.note, pages=event.total, pages_read=event.done)
            elif event.stage == "embedding":
                changes.update(chunks=event.total, embedded=event.done)
            elif event.stage in FINAL_STAGES:
                changes.update(chunks=event.done, embedded=event.done)
                changes.update(error=event.error, error_type=event.error_type)
            self._files[event.position] = replace(known, **changes)  # type: ignore[arg-type]

    def finish(self, results: list[FileResult], error: ZhikuError | None = None) -> None:
        with self._lock:
            self._state = replace(
                self._state,
                finished=time.time(),
                results=tuple(results),
                error=str(error) if error else "",
                error_type=type(error) if error else None,
            )
        self.done.set()

    def state(self) -> JobState:
        with self._lock:
            files = tuple(self._files[p] for p in sorted(self._files))
            return replace(self._state, files=files, now=time.time())


class IngestJobs:
    """The jobs of one service: at most one running per knowledge base (module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}

    def start(
        self, kb: str, kind: JobKind, run: Run, after: Callable[[], None] | None = None
    ) -> JobState:
        """Run `run` in a thread of its own as knowledge base `kb`'s job, then `after` (the
        caller's clean-up, e.g. removing uploaded copies), whatever happens; 409 while
        another job of `kb` runs."""
        with self._lock:
            running = self._jobs.get(kb)
            if running is not None and not running.done.is_set():
                raise KnowledgeBaseBusyError(
                    f"an upload or rebuild of {kb!r} is already running; wait for it to finish"
                )
            job = self._jobs[kb] = _Job(kb, kind)
        thread = threading.Thread(
            target=_run, args=(job, run, after), name=f"zhiku-{kind}-{kb}", daemon=True
        )
        thread.start()
        return job.state()

    def state(self, kb: str) -> JobState | None:
        """The last job of `kb` (running or finished), None when it had none."""
        with self._lock:
            job = self._jobs.get(kb)
        return job.state() if job else None

    def wait(self, kb: str, timeout: float | None = None) -> JobState | None:
        """`kb`'s last job once it is finished (or `timeout` seconds have passed)."""
        with self._lock:
            job = self._jobs.get(kb)
        if job is None:
            return None
        job.done.wait(timeout)
        return job.state()

    def forget(self, kb: str) -> None:
        """Drop `kb`'s finished job (its knowledge base is deleted)."""
        with self._lock:
            job = self._jobs.get(kb)
            if job is not None and job.done.is_set():
                del self._jobs[kb]


def _run(job: _Job, run: Run, after: Callable[[], None] | None) -> None:
    results: list[FileResult] = []
    error: ZhikuError | None = None
    try:
        results = run(job.event)
    except ZhikuError as exc:
        error = exc
    except Exception as exc:  # a job's thread has no caller to raise to: logged and shown
        logger.exception("%s of %r failed", job.state().kind, job.state().kb)
        error = ZhikuError(f"{type(exc).__name__}: {exc}; see the server log")
    finally:
        try:
            if after is not None:
                after()
        finally:
            job.finish(results, error)


__all__ = ["FileProgress", "IngestJobs", "JobKind", "JobState"]
