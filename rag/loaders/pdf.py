"""PDF: pypdf, one Section per page (1-based `page`), lines re-joined into paragraphs.

A page with ruled tables is read by `pdf_tables.py` instead: its tables as rows with their
header, its other text around them, in reading order.

pypdf gives one line per printed line. Keeping those breaks cut sentences into fragments
(an ancestor app lost answers that way), so lines are joined back: between two CJK
characters with nothing, between Latin words with a space, hyphenated words re-joined.
A line is kept as a break when it is clearly shorter than the page's full lines (end of a
paragraph, heading, list item) or the next one starts a list item; blank lines stay
paragraph breaks.

Encrypted PDFs that open with an empty user password (owner password only, e.g. "no
printing") are read; AES-encrypted ones need the `cryptography` package for that. PDFs that
need a password are refused with a clear message. Pages without a text layer (scans), and
large images the text layer does not cover, are read by OCR (rag/loaders/pdf_ocr.py).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from pypdf import PageObject, PdfReader
from pypdf.errors import DependencyError, PyPdfError

from rag.errors import DocumentLoadError
from rag.loaders._common import LoadLimits, Section
from rag.loaders.pdf_tables import table_page_sections

_PDF_MAGIC = b"%PDF-"
_MAGIC_WINDOW = 1024
_SHORT_LINE = 0.7
_FEW_LINES = 5
_LIST_ITEM = re.compile(
    r"^(?:[•●○■□◆◇▪‣∙·\-*–—]\s|\(?\d{1,3}[.)]\s|\d{1,3}、|[（(][一二三四五六七八九十\d]+[)）]|"
    r"[一二三四五六七八九十百]+、|第[一二三四五六七八九十百千\d]+(?:[章节条款篇]|部分)(?:\s|$)|"
    r"[A-Za-z][.)]\s)"
)
_CORRUPT = "corrupt or truncated PDF — open it in a PDF reader, save or print it to a new PDF"


def load_pdf(path: Path, limits: LoadLimits) -> list[Section]:
    """One Section per page that has text, scanned pages read by OCR (rag/loaders/pdf_ocr.py);
    raise for encrypted or broken PDFs, and scanned ones when OCR is off."""
    from rag.loaders.pdf_ocr import add_ocr_text, no_text_message  # it imports join_pdf_lines

    pages = _open_pages(path)
    tables = table_page_sections(path, pages, join_pdf_lines) if limits.pdf_tables else {}
    sections: list[Section] = []
    failed_pages = 0
    for number, page in enumerate(pages, start=1):
        if number in tables:  # ruled tables as rows, the rest of the page's text around them
            sections.extend(tables[number])
            continue
        try:
            raw = page.extract_text() or ""
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError):
            failed_pages += 1
            continue
        text = join_pdf_lines(raw)
        if text:
            sections.append(Section(text, page=number))
    sections = add_ocr_text(path, sections, len(pages), limits)
    if not sections:
        if failed_pages:
            raise DocumentLoadError(_CORRUPT)
        raise DocumentLoadError(no_text_message(limits))
    return sections


def _open_pages(path: Path) -> list[PageObject]:
    try:
        with path.open("rb") as handle:
            head = handle.read(_MAGIC_WINDOW)
    except OSError as exc:
        raise DocumentLoadError(f"cannot read the file ({exc.strerror})") from exc
    if _PDF_MAGIC not in head:
        raise DocumentLoadError(
            "not a PDF (no %PDF header: another file type renamed .pdf, or corrupt) — "
            "upload the original document"
        )
    try:
        reader = PdfReader(path)
        _decrypt(reader)
        pages = list(reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise DocumentLoadError(_CORRUPT) from exc
    if not pages:
        raise DocumentLoadError("the PDF has no pages — check the file and upload it again")
    return pages


def _decrypt(reader: PdfReader) -> None:
    """Open PDFs protected by an owner password only; refuse those that need a password."""
    if not reader.is_encrypted:
        return
    message = "encrypted PDF — remove the password and upload again"
    try:
        opened = reader.decrypt("")
    except (PyPdfError, DependencyError, NotImplementedError, ValueError) as exc:
        raise DocumentLoadError(message) from exc
    if not opened:
        raise DocumentLoadError(message)


def join_pdf_lines(text: str) -> str:
    """Re-join the printed lines of one page into paragraphs (see the module docstring)."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    full_width = _full_line_width([line for line in lines if line])
    parts: list[str] = []
    previous: str | None = None
    for line in lines:
        if not line:
            if previous is not None:
                parts.append("\n\n")
            previous = None
            continue
        if previous is not None:
            separator = _separator(previous, line, full_width)
            if separator == "" and _is_hyphenated(previous, line):
                parts[-1] = parts[-1][:-1]
            parts.append(separator)
        parts.append(line)
        previous = line
    return re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip()


def _full_line_width(lines: list[str]) -> float:
    """Width of a full printed line: the longest for few lines, else the 90th percentile."""
    if not lines:
        return 0.0
    widths = sorted(display_width(line) for line in lines)
    if len(widths) < _FEW_LINES:
        return float(widths[-1])
    return float(widths[round(0.9 * (len(widths) - 1))])


def _separator(previous: str, line: str, full_width: float) -> str:
    if _LIST_ITEM.match(line) or display_width(previous) < _SHORT_LINE * full_width:
        return "\n"
    if _is_hyphenated(previous, line):
        return ""
    if is_cjk(previous[-1]) or is_cjk(line[0]):
        return ""
    return " "


def _is_hyphenated(previous: str, line: str) -> bool:
    return (
        len(previous) >= 2
        and previous[-1] == "-"
        and previous[-2].isalpha()
        and not is_cjk(previous[-2])
        and line[0].islower()
    )


def display_width(text: str) -> int:
    """Columns the text takes: wide (CJK) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def is_cjk(char: str) -> bool:
    """A CJK ideograph, kana, hangul, or CJK/full-width punctuation."""
    return unicodedata.east_asian_width(char) in "WF"
