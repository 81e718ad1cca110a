"""Shared pieces of the loaders: the `Section` they return, limits, text normalisation."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.ocr import OcrPool, Progress

DEFAULT_MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
"""Largest total uncompressed size accepted for a zip-based file (docx, xlsx, pptx, epub)."""

TABLE_GROUP_CHARS = 500
"""Upper size of one group of table rows (a single longer row is kept whole)."""


@dataclass(frozen=True)
class LoadLimits:
    """Resource limits and costly steps applied while loading one file, and the OCR that may
    read it."""

    max_unzipped_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES
    depth: int = 0
    """How deep in attachments this file is: 0 for an uploaded file, 1 for a mail's
    attachment, 2 for an attachment of a mail attached to a mail (`_parts.py` caps it)."""
    pdf_tables: bool = True
    """Read ruled PDF tables as rows (PDF_TABLES; pdf_tables.py): slower on such pages."""
    ocr: OcrPool | None = None
    """Reads images and scanned PDF pages (with its own limits); None: OCR is off."""
    progress: Progress | None = None
    """Gets status lines while the file loads ("OCR page 3/10")."""


@dataclass(frozen=True)
class Section:
    """One piece of a document before it becomes a LangChain `Document`.

    `verbatim` keeps leading indentation (source code); otherwise whitespace runs are
    collapsed by `normalize_text`. `table` marks a group of table rows, one row a line: it
    is never taken for a title, and the chunker cuts it between rows only.
    """

    text: str
    title_path: str = ""
    page: int | None = None
    sheet: str | None = None
    verbatim: bool = False
    part: str = ""
    """The file inside the uploaded one that this text comes from ("report.pdf" of a mail's
    attachment, "inner.eml/report.pdf" one level deeper); "" for the file's own text."""
    table: bool = False


Loader = Callable[[Path, LoadLimits], list[Section]]

PartLoader = Callable[[str, bytes, LoadLimits], list[Section]]
"""(file name, content, the container's limits) -> the sections of a file found inside
another (an e-mail attachment), each with its `part` set; `_parts.py`."""

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# C0/C1 control characters except tab and newline; zero-width characters and BOMs.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalize_text(text: str, *, keep_indent: bool = False) -> str:
    """Drop NUL/control characters, collapse whitespace runs, keep paragraph breaks.

    Lines are stripped and inner runs of spaces/tabs become one space; more than one blank
    line becomes exactly one ("\\n\\n"). With `keep_indent`, the leading whitespace of each
    line is kept as it is (source code, Markdown lists and code blocks).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ANSI_ESCAPE.sub("", text)
    text = _CONTROL.sub("", text)
    if keep_indent:
        lines = [_collapse_keeping_indent(line) for line in text.split("\n")]
    else:
        lines = [_HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def _collapse_keeping_indent(line: str) -> str:
    body = line.lstrip()
    indent = line[: len(line) - len(body)]
    return indent + _HORIZONTAL_SPACE.sub(" ", body).rstrip() if body else ""


def collapse_spaces(text: str) -> str:
    """All whitespace (newlines included) collapsed to single spaces, stripped."""
    return " ".join(text.split())
