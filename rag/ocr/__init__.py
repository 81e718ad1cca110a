"""OCR of scans and images with RapidOCR (PP-OCR detection, direction and recognition
models, Chinese and English, shipped inside the `rapidocr-onnxruntime` wheel: no download).

    pool.py     `OcrPool`: worker processes built by the app factory, pages read a few at a
                time with a progress line each; `OcrOptions` (workers and limits)
    worker.py   what runs in a worker: the engine (one per process), page rendering
    layout.py   boxes -> text in reading order (lines top to bottom, runs left to right)
    script.py   Traditional pages read partly in Simplified written back in Traditional
    latin.py    English words' dropped spaces and zeros read as "o" put back
    accuracy.py character accuracy against the printed text (tests, scripts/bench_ocr.py)

The loaders decide what to read (rag/loaders/image.py, rag/loaders/pdf_ocr.py).
"""

from rag.ocr.pool import OCR_INSTALL_HINT, OcrOptions, OcrPool, Progress, check_installed
from rag.ocr.worker import OcrJob

__all__ = ["OCR_INSTALL_HINT", "OcrJob", "OcrOptions", "OcrPool", "Progress", "check_installed"]
