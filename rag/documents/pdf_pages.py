"""One PDF page as a PNG with a passage's area highlighted (pypdfium2, which ships PDFium).

The passage is found in the page's own characters (pdfium's text page, one character per
index, `locate`), and PDFium gives the rectangles those characters cover, one per line; they
are drawn semi-transparent over the rendered page, with a bar in the margin so the eye finds
them. PDFium is not thread-safe: one renderer per app, and its lock serializes every call.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageDraw

from rag.documents.passages import locate
from rag.errors import DocumentLoadError, DocumentNotFoundError

Box = tuple[int, int, int, int]
"""left, top, right, bottom in pixels of the rendered page."""

HIGHLIGHT_FILL = (255, 214, 0, 110)
"""Yellow at ~43 % over the page: the text under it stays readable."""
HIGHLIGHT_BAR = (232, 130, 0, 255)
_PAD = 2
_BAR_WIDTH = 5
_BAR_GAP = 8


@dataclass(frozen=True)
class PageImage:
    png: bytes
    page: int
    pages: int
    """How many pages the PDF has."""
    width: int
    height: int
    boxes: tuple[Box, ...]
    """The highlighted areas (none when there was no passage, or it is not on the page)."""


class PdfPageRenderer:
    """Renders PDF pages; `max_side_px` caps the image whatever the scale asked (a poster
    page at scale 3 would be tens of thousands of pixels). `lock`: the one every PDFium call
    in the process holds (pass the one other PDFium users hold: no two calls at a time, even
    on different documents)."""

    def __init__(self, max_side_px: int = 2400, lock: threading.Lock | None = None) -> None:
        self.max_side_px = max_side_px
        self._lock = lock or threading.Lock()

    def render(
        self,
        source: Path | BinaryIO,
        page: int,
        highlight: str | None = None,
        scale: float = 1.5,
    ) -> PageImage:
        """Page `page` (1-based) of the PDF `source` at `scale` pixels per point, with
        `highlight`'s area drawn. DocumentNotFoundError for a page the PDF does not have,
        DocumentLoadError for a file PDFium cannot open."""
        with self._lock:
            pdf = _open(source)
            try:
                pages = len(pdf)
                if not 1 <= page <= pages:
                    raise DocumentNotFoundError(
                        f"page {page} is not in the document: it has {pages} page(s)"
                    )
                pdf_page = pdf[page - 1]
                bitmap = pdf_page.render(scale=self._fitted(pdf_page, scale))
                image = bitmap.to_pil().convert("RGB")
                boxes = _boxes(pdf_page, bitmap, highlight) if highlight else ()
            finally:
                pdf.close()
        if boxes:
            image = _highlighted(image, boxes)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return PageImage(out.getvalue(), page, pages, image.width, image.height, boxes)

    def page_count(self, source: Path | BinaryIO) -> int:
        """How many pages the PDF has (DocumentLoadError when PDFium cannot open it)."""
        with self._lock:
            pdf = _open(source)
            try:
                return len(pdf)
            finally:
                pdf.close()

    def _fitted(self, pdf_page: pdfium.PdfPage, scale: float) -> float:
        longest = max(pdf_page.get_width(), pdf_page.get_height(), 1.0)
        return min(scale, self.max_side_px / longest)


def _open(source: Path | BinaryIO) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        raise DocumentLoadError(
            f"the PDF cannot be opened for viewing ({exc}); download the original instead"
        ) from exc


def _boxes(pdf_page: pdfium.PdfPage, bitmap: pdfium.PdfBitmap, passage: str) -> tuple[Box, ...]:
    """The pixel rectangles of `passage`'s characters on the page, one per line."""
    textpage = pdf_page.get_textpage()
    try:
        count = textpage.count_chars()
        text = "".join(_char(textpage, index) for index in range(count))
        span = locate(passage, text)
        if span is None:
            return ()
        start, end = span
        to_bitmap = bitmap.get_posconv(pdf_page).to_bitmap
        boxes = []
        # the rectangles of the last count_rects call, one per line of the range
        for index in range(textpage.count_rects(start, end - start)):
            left, bottom, right, top = textpage.get_rect(index)
            x0, y0 = to_bitmap(left, top)
            x1, y1 = to_bitmap(right, bottom)
            boxes.append((int(min(x0, x1)), int(min(y0, y1)), int(max(x0, x1)), int(max(y0, y1))))
        return tuple(boxes)
    finally:
        textpage.close()


def _char(textpage: pdfium.PdfTextPage, index: int) -> str:
    """Character `index` of the page; one that has no code point counts as a space."""
    code = pdfium_c.FPDFText_GetUnicode(textpage.raw, index)
    return chr(code) if 0 < code < 0x110000 else " "


def _highlighted(image: Image.Image, boxes: tuple[Box, ...]) -> Image.Image:
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for left, top, right, bottom in boxes:
        draw.rectangle((left - _PAD, top - _PAD, right + _PAD, bottom + _PAD), fill=HIGHLIGHT_FILL)
    left = max(0, min(box[0] for box in boxes) - _BAR_GAP - _BAR_WIDTH)
    top, bottom = min(box[1] for box in boxes) - _PAD, max(box[3] for box in boxes) + _PAD
    draw.rectangle((left, top, left + _BAR_WIDTH, bottom), fill=HIGHLIGHT_BAR)
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
