"""Images (.png .jpg .jpeg .bmp .tif .tiff .webp): their text read by OCR.

One Section per image, `page` 1; a multi-page TIFF (a fax, a scanner's batch) gives one per
frame, `page` = the frame's number. The image's size is read from its header before any
pixel is decoded, so a huge image (a decompression bomb, or a poster scanned at 1200 dpi) is
refused with a clear message instead of exhausting memory (OCR_MAX_PIXELS).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from rag.errors import DocumentLoadError
from rag.loaders._common import LoadLimits, Section
from rag.loaders.pdf import join_pdf_lines
from rag.ocr import OcrJob, OcrPool

IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
MULTI_PAGE_FORMATS = frozenset({"TIFF"})
"""Formats whose frames are pages (an animated WebP's frames are not)."""


def load_image(path: Path, limits: LoadLimits) -> list[Section]:
    """One Section per image (per frame of a TIFF) that OCR finds text in."""
    ocr = require_ocr(limits, "an image")
    frames = count_frames(path, ocr)
    jobs = [OcrJob(str(path), index) for index in range(frames)]
    texts = ocr.read(jobs, limits.progress)
    sections = [
        Section(join_pdf_lines(text), page=number)
        for number, text in enumerate(texts, start=1)
        if text.strip()
    ]
    if not sections:
        raise DocumentLoadError(
            "OCR found no text in this image — if it holds text, upload a sharper or larger "
            "scan (at least ~20 pixels per line of text)"
        )
    return sections


def require_ocr(limits: LoadLimits, what: str) -> OcrPool:
    """The OCR of `limits`, or DocumentLoadError saying how to turn it on."""
    if limits.ocr is None:
        raise DocumentLoadError(
            f"reading text from {what} needs OCR, which is off — set OCR_ENABLED = True in "
            "configs/kb_config.py (or ZHIKU_OCR_ENABLED=true) and restart"
        )
    return limits.ocr


def count_frames(path: Path, ocr: OcrPool) -> int:
    """Pages to read: 1, or a TIFF's frames; each within OCR_MAX_PIXELS, at most
    OCR_MAX_PAGES of them. Only headers are read."""
    try:
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1) if image.format in MULTI_PAGE_FORMATS else 1
            if frames > ocr.options.max_pages:
                raise DocumentLoadError(
                    f"the image has {frames} pages, more than OCR_MAX_PAGES "
                    f"({ocr.options.max_pages}) — split it, or raise OCR_MAX_PAGES"
                )
            for index in range(frames):
                image.seek(index)
                check_pixels(image.size, ocr.options.max_pixels)
    except Image.DecompressionBombError as exc:  # Pillow's own limit, met before ours
        raise DocumentLoadError(_too_many_pixels_hint(ocr.options.max_pixels)) from exc
    except UnidentifiedImageError as exc:
        raise DocumentLoadError(
            "not an image this loader can read (another file type renamed, or corrupt) — "
            "open it in an image viewer, save it as PNG or JPEG and upload again"
        ) from exc
    return frames


def check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    """DocumentLoadError when an image of `size` (width, height) is over the limit."""
    width, height = size
    if width * height > max_pixels:
        raise DocumentLoadError(
            f"the image is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels), "
            f"more than OCR_MAX_PIXELS allows ({max_pixels / 1e6:.0f} megapixels) — "
            + _too_many_pixels_hint(max_pixels, short=True)
        )


def _too_many_pixels_hint(max_pixels: int, short: bool = False) -> str:
    hint = "scale it down (text stays readable at ~20 pixels per line) and upload again"
    if short:
        return hint
    return f"the image is larger than OCR_MAX_PIXELS ({max_pixels / 1e6:.0f} megapixels) — {hint}"
