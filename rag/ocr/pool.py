"""`OcrPool`: OCR in worker processes, so that reading scans never holds up the app.

One `OcrPool` is built by the app factory and shared by every upload. Its processes start
on the first page to read (an app that is never given a scan starts none) with the spawn
method (forking a process that runs threads — the web server's, the models' — can deadlock
the child), each loading RapidOCR once (rag/ocr/worker.py). A caller's pages are submitted a
few at a time (`IN_FLIGHT_PER_WORKER`), so two uploads share the workers instead of the
second waiting behind every page of the first. A worker that dies (killed for memory) fails
only the file being read; the next file gets a fresh pool.

PDFium, which the PDF loader also calls in this process to find the pages that need OCR, is
not thread-safe (no two calls at a time, even on different documents): `pdfium_lock` is held
around those calls.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from rag.errors import DocumentLoadError
from rag.ocr.worker import OcrJob, read_page, start_worker

OCR_PACKAGE = "rapidocr_onnxruntime"
OCR_INSTALL_HINT = "pip install rapidocr-onnxruntime==1.4.4"
IN_FLIGHT_PER_WORKER = 2
"""Pages of one caller queued per worker: enough to keep the workers busy, few enough that
another caller's pages are taken in between."""

MAX_THREADS = 4
Progress = Callable[[str], None]
"""Receives a status line about the file being read, e.g. "OCR page 3/10"."""


@dataclass(frozen=True)
class OcrOptions:
    """What OCR reads and how (settings' ocr section, built by the factory)."""

    workers: int = 1
    """Worker processes (each with its own models: ~150 MB)."""
    pdf_threshold: tuple[float, float] = (0.6, 0.6)
    """A PDF image at least this share of the page's width and height is read (when the
    text layer does not already cover it)."""
    max_pages: int = 500
    """Most pages (or image frames) read by OCR in one file."""
    max_pixels: int = 50_000_000
    """Largest image (width x height) read; a PDF page is rendered within it."""
    max_side: int = 3600
    """Longest side of the image read: larger images are scaled down to it, PDF pages are
    rendered within it (an A4 page at 300 dpi is 3508 pixels high)."""
    threads: int | None = None
    """ONNX Runtime threads per worker; None: `worker_threads` (scripts/bench_ocr.py
    compares)."""


class OcrPool:
    """Reads pages in worker processes (module doc)."""

    def __init__(
        self, options: OcrOptions | None = None, pdfium_lock: threading.Lock | None = None
    ) -> None:
        self.options = options or OcrOptions()
        self.pdfium_lock = pdfium_lock or threading.Lock()
        """Held around PDFium calls in this process (module doc); the app passes the one
        its source viewer's page renderer holds too."""
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    def read(self, jobs: Sequence[OcrJob], progress: Progress | None = None) -> list[str]:
        """The text of each job's page, in the order of `jobs`; `progress` gets a line as
        each page is done. Raises DocumentLoadError (rapidocr missing, a page that fails)."""
        check_installed()
        if not jobs:
            return []
        executor = self._executor_now()
        try:
            return self._run(executor, list(jobs), progress)
        except BrokenProcessPool as exc:
            self._discard(executor)
            raise DocumentLoadError(
                "the OCR worker process stopped (out of memory?) — try again; lower "
                "OCR_WORKERS or OCR_MAX_PIXELS if it happens again"
            ) from exc

    def _run(
        self, executor: ProcessPoolExecutor, jobs: list[OcrJob], progress: Progress | None
    ) -> list[str]:
        window = IN_FLIGHT_PER_WORKER * self.options.workers
        pending: dict[Future[str], int] = {}
        texts: list[str] = [""] * len(jobs)
        following = iter(enumerate(jobs))
        done = 0
        try:
            while True:
                for position, job in following:
                    pending[executor.submit(read_page, job)] = position
                    if len(pending) >= window:
                        break
                if not pending:
                    return texts
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    position = pending.pop(future)
                    texts[position] = _result(future, jobs[position])
                    done += 1
                    if progress:
                        progress(f"OCR page {done}/{len(jobs)}")
        finally:
            for future in pending:
                future.cancel()

    def _executor_now(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                workers = self.options.workers
                self._executor = ProcessPoolExecutor(
                    max_workers=workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=start_worker,
                    initargs=(
                        self.options.threads or worker_threads(workers),
                        self.options.max_side,
                    ),
                )
            return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker processes (pages still queued are cancelled)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def worker_threads(workers: int, cores: int | None = None) -> int:
    """ONNX Runtime threads per worker: the cores but one (left to the chat's model and the
    web server) shared among the workers, at least 1 and at most `MAX_THREADS` (the OCR
    models gain little from more)."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(MAX_THREADS, (cores - 1) // workers))


def check_installed() -> None:
    """DocumentLoadError with the install command when rapidocr is not installed."""
    if importlib.util.find_spec(OCR_PACKAGE) is None:
        raise DocumentLoadError(
            f"OCR needs the rapidocr-onnxruntime package, which is not installed — "
            f"{OCR_INSTALL_HINT}, then upload again"
        )


def _result(future: Future[str], job: OcrJob) -> str:
    try:
        return future.result()
    except BrokenProcessPool:
        raise
    except Exception as exc:  # the worker's error on this page, sent back by the pool
        where = f"page {job.index + 1}" if job.pdf else f"frame {job.index + 1}"
        raise DocumentLoadError(
            f"OCR failed on {where} ({type(exc).__name__}: {exc}) — the file may be "
            "corrupt; save it again and re-upload"
        ) from exc


__all__ = ["OCR_INSTALL_HINT", "OcrOptions", "OcrPool", "Progress", "check_installed"]
