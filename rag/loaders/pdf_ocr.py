"""Scanned PDF pages: which pages OCR reads, and their text merged with the text layer.

A page is read when

* it has no text layer (a scan; also a page pypdf could not read), or
* an image covers at least PDF_OCR_THRESHOLD of the page's width and height (Chatchat's
  rule for its RapidOCRPDFLoader) and less than `COVERED_IMAGE` of that image lies under
  text: a scan already run through OCR (ocrmypdf) carries an invisible text layer over its
  image and is not read twice, a page with a large photo of a notice and a caption is.

A page without text is rendered whole; for a page with text, only the image's area is read
and its text follows the page's own. Pages are rendered at `DPI`, whatever the scan's own
resolution, within OcrOptions.max_side and OCR_MAX_PIXELS: the recogniser drops the spaces
between English words in text under ~40 pixels high (10-point text of the dev set's 200 dpi
scans read "SouthernCaliforniaisdivided..." rendered at 170 dpi, with its spaces at 300 dpi,
the same scan scaled up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rag.errors import DocumentLoadError
from rag.loaders._common import LoadLimits, Section
from rag.loaders.pdf import join_pdf_lines
from rag.ocr import OcrJob, OcrOptions, OcrPool

COVERED_IMAGE = 0.05
"""Share of a large image under the text layer above which it counts as read already."""
DPI = 300
Box = tuple[float, float, float, float]
"""left, bottom, right, top in PDF points."""


@dataclass(frozen=True)
class PagePlan:
    """A page OCR reads: whole (no text layer), or only its large image (`has_text`)."""

    page: int
    """1-based."""
    job: OcrJob
    has_text: bool


def add_ocr_text(
    path: Path, sections: list[Section], page_count: int, limits: LoadLimits
) -> list[Section]:
    """`sections` (one per page with text) with the OCR'd text of the pages that need it
    (module doc), in page order. With OCR off, `sections` as they are."""
    if limits.ocr is None:
        return sections
    ocr = limits.ocr
    plans = plan_pages(path, {s.page for s in sections}, page_count, ocr)
    if not plans:
        return sections
    if len(plans) > ocr.options.max_pages:
        raise DocumentLoadError(
            f"{len(plans)} pages need OCR, more than OCR_MAX_PAGES ({ocr.options.max_pages}) — "
            "split the PDF, or raise OCR_MAX_PAGES"
        )
    texts = ocr.read([plan.job for plan in plans], limits.progress)
    by_page = {s.page: s for s in sections}
    for plan, raw in zip(plans, texts, strict=True):
        text = join_pdf_lines(raw)
        if not text:
            continue
        old = by_page.get(plan.page)
        by_page[plan.page] = (
            replace(old, text=f"{old.text}\n\n{text}") if old else Section(text, page=plan.page)
        )
    return [by_page[page] for page in sorted(by_page, key=lambda p: p or 0)]


def no_text_message(limits: LoadLimits) -> str:
    """Why a PDF gave no text at all, and what to do."""
    if limits.ocr is None:
        return (
            "no text layer (scanned PDF?) and OCR is off — set OCR_ENABLED = True in "
            "configs/kb_config.py (or ZHIKU_OCR_ENABLED=true), or run OCR first (e.g. "
            "ocrmypdf) and upload the result"
        )
    return (
        "no text found: the pages have no text layer and OCR read nothing on them (blank "
        "pages, or pictures without text?) — check the file, or scan it again more sharply"
    )


def plan_pages(
    path: Path, with_text: set[int | None], page_count: int, ocr: OcrPool
) -> list[PagePlan]:
    """The pages to read. PDFium is opened under the pool's lock (it is not thread-safe)."""
    import pypdfium2 as pdfium

    with ocr.pdfium_lock:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            if with_text:
                return []  # pypdf read it: keep its text, leave the images
            raise DocumentLoadError(
                "PDFium cannot open this PDF to read its scanned pages — open it in a PDF "
                "reader, save or print it to a new PDF"
            ) from exc
        try:
            plans = []
            for index in range(min(len(pdf), page_count)):
                plan = _plan_page(pdf, str(path), index, (index + 1) in with_text, ocr.options)
                if plan is not None:
                    plans.append(plan)
            return plans
        finally:
            pdf.close()


def _plan_page(
    pdf: Any, path: str, index: int, has_text: bool, options: OcrOptions
) -> PagePlan | None:
    """Page `index` read whole (no text), its large image only (text elsewhere), or None."""
    page = pdf[index]
    try:
        width, height = page.get_size()
        if not has_text:
            job = _job(path, index, (0.0, 0.0, width, height), options)
            return PagePlan(index + 1, job, has_text=False)
        image = _large_image(page, width, height, options.pdf_threshold)
        # a rotated page's crop would apply to the turned page: such pages keep their text
        if image is None or page.get_rotation() or _text_share(page, image) >= COVERED_IMAGE:
            return None
        crop = _outside(image, width, height)
        return PagePlan(index + 1, _job(path, index, image, options, crop), has_text=True)
    finally:
        page.close()


def _large_image(
    page: Any, width: float, height: float, threshold: tuple[float, float]
) -> Box | None:
    """The bounds (clipped to the page) of the images at least `threshold` of the page's
    width and height, united; None when there is none."""
    import pypdfium2.raw as pdfium_c

    found: Box | None = None
    for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
        left, bottom, right, top = image.get_bounds()
        box = (max(left, 0.0), max(bottom, 0.0), min(right, width), min(top, height))
        if box[2] - box[0] >= threshold[0] * width and box[3] - box[1] >= threshold[1] * height:
            found = box if found is None else _union(found, box)
    return found


def _text_share(page: Any, box: Box) -> float:
    """Share of `box`'s area under the text layer's character rectangles."""
    textpage = page.get_textpage()
    try:
        covered = sum(_overlap(textpage.get_rect(i), box) for i in range(textpage.count_rects()))
    finally:
        textpage.close()
    return covered / max(_area(box), 1.0)


def _job(
    path: str,
    index: int,
    box: Box,
    options: OcrOptions,
    crop: Box = (0.0, 0.0, 0.0, 0.0),
) -> OcrJob:
    """Render `box` of page `index` (`crop`: what lies outside it) at DPI, the longest side
    and the pixels within the options' limits."""
    width, height = box[2] - box[0], box[3] - box[1]
    scale = min(
        DPI / 72,
        options.max_side / max(width, height, 1.0),
        math.sqrt(options.max_pixels / max(width * height, 1.0)),
    )
    return OcrJob(path, index, pdf=True, scale=scale, crop=crop)


def _outside(box: Box, width: float, height: float) -> Box:
    """The render crop (left, bottom, right, top) that leaves only `box` of the page."""
    return (box[0], box[1], width - box[2], height - box[3])


def _area(box: Box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def _overlap(a: Box, b: Box) -> float:
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
