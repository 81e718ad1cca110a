"""The OCR worker process: one RapidOCR engine per process, one page or image frame a call.

Runs inside the processes of `OcrPool` (rag/ocr/pool.py), never in the app's own process:
the engine is made once per worker by `start_worker` (the pool's initializer) and kept in
this module for the life of that process, which is the whole of its state. A job names a
file and a page, not pixels: the worker renders the PDF page or decodes the image frame
itself, so a page's pixels never cross the process boundary (an A4 page at 300 dpi is
~26 MB) and PDFium, which is not thread-safe, runs single-threaded in each worker.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from rag.ocr.latin import LatinRepair
from rag.ocr.layout import boxes_from_rapidocr, page_text
from rag.ocr.script import TraditionalRestorer

_engine: Any = None
"""This worker process's RapidOCR engine (set once by `start_worker`)."""
_restore: TraditionalRestorer | None = None
"""Writes mostly-Traditional pages back in Traditional (rag/ocr/script.py)."""
_repair: LatinRepair | None = None
"""Puts English words' spaces back, zeros in numbers (rag/ocr/latin.py)."""
POOR_READING = 0.8
"""A page whose characters are read with less mean confidence than this is also read upside
down (upright text reads at 0.95-1.0)."""


@dataclass(frozen=True)
class OcrJob:
    """One page to read: frame `index` of an image file, or page `index` (0-based) of a PDF
    rendered at `scale` pixels per point with `crop` points cut off (left, bottom, right,
    top)."""

    path: str
    index: int = 0
    pdf: bool = False
    scale: float = 1.0
    crop: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


def start_worker(threads: int, max_side: int) -> None:
    """Pool initializer: load the models once for this process (~1.5 s), with `threads`
    ONNX Runtime threads; larger images are scaled down to `max_side`. Ctrl-C is left to
    the parent (which shuts the pool down), and the worker exits if the parent dies without
    shutting it down.

    RapidOCR's per-line direction classifier is off: on upright scanned pages it turned
    correct lines upside down (seen on the dev set's scans: 1 line in 6 of an English page
    classed "180" with 0.99 confidence, then read as "o"); whole pages scanned upside down
    are caught by `read_image` instead. Text lines are found on the image scaled down to
    2000 pixels (RapidOCR's "max" limit: small images are not scaled up, as its default
    did to a 736-pixel short side) and read from the full image, which keeps the spaces
    between English words: a dev-set page scanned at 200 dpi, rendered at 300 dpi, read
    99.6 % right this way (detection on the full page would take 3x the pixels)."""
    global _engine, _restore, _repair
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    from rapidocr_onnxruntime import RapidOCR

    _engine = RapidOCR(
        intra_op_num_threads=threads,
        inter_op_num_threads=1,
        use_cls=False,
        max_side_len=max_side,
        det_limit_type="max",  # text is found on at most 2000 pixels, read at full size
    )
    _restore = TraditionalRestorer()
    _repair = LatinRepair()


def _exit_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="ocr-parent-watch", daemon=True).start()


def read_page(job: OcrJob) -> str:
    """The text of one page or frame, in reading order (rag/ocr/layout.py)."""
    if _engine is None or _restore is None or _repair is None:
        raise RuntimeError("OCR worker not started (start_worker)")
    image = render_pdf_page(job) if job.pdf else image_frame(job.path, job.index)
    return _repair(_restore(page_text(boxes_from_rapidocr(read_image(image)))))


def read_image(image: Image.Image) -> list[Any]:
    """RapidOCR's rows for `image`; when they are poor (`POOR_READING`), the image turned
    upside down is read too and the better reading kept (a page fed into the scanner the
    wrong way round reads as little or nothing)."""
    result, _elapsed = _engine(image)
    rows = list(result or [])
    if reading_quality(rows) >= POOR_READING:
        return rows
    flipped, _elapsed = _engine(image.rotate(180))
    other = list(flipped or [])
    return other if reading_quality(other) > reading_quality(rows) else rows


def reading_quality(rows: list[Any]) -> float:
    """Mean confidence of the characters read (each line's score weighted by its length),
    0 when nothing is read: text read upside down scores low or is not read at all."""
    chars = sum(len(str(row[1])) for row in rows)
    if not chars:
        return 0.0
    return sum(len(str(row[1])) * float(row[2]) for row in rows) / chars


def render_pdf_page(job: OcrJob) -> Image.Image:
    """Page `job.index` of the PDF as an RGB image."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(job.path)
    try:
        page = pdf[job.index]
        try:
            bitmap = page.render(scale=job.scale, crop=job.crop)
            return bitmap.to_pil().convert("RGB")
        finally:
            page.close()
    finally:
        pdf.close()


def image_frame(path: str, index: int) -> Image.Image:
    """Frame `index` of an image file, turned upright (EXIF orientation), transparency
    laid on white, as 8-bit RGB."""
    with Image.open(path) as image:
        image.seek(index)
        frame = ImageOps.exif_transpose(image) if index == 0 else image.copy()
        return to_rgb(frame)


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: 16-bit and float greys stretched to 0-255, transparency on white."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        image = Image.fromarray(scaled.astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")
