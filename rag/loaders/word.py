"""DOCX: python-docx, body paragraphs and tables in reading order.

Headings are found by style ("Title", "Heading N", localised "标题 N") or by an outline
level set on the paragraph or its style; they split the document into sections with a
title path. Tables become header-carrying row groups under the current title path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from rag.errors import DocumentLoadError
from rag.loaders._common import LoadLimits, Section
from rag.loaders._structure import SectionBuilder
from rag.loaders._zipcheck import check_zip

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)\b", re.IGNORECASE)
_TITLE_STYLES = frozenset({"title", "标题"})
_BODY_OUTLINE_LEVEL = 9
_NOT_DOCX = (
    "not a valid .docx (corrupt, or an old .doc renamed) — open it in Word or WPS, "
    "save it as .docx and upload it again"
)


def load_docx(path: Path, limits: LoadLimits) -> list[Section]:
    """Sections split at headings; tables as row groups."""
    check_zip(path, ".docx", limits.max_unzipped_bytes)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, etree.LxmlError) as exc:
        raise DocumentLoadError(_NOT_DOCX) from exc
    builder = SectionBuilder()
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            builder.table(_table_rows(block))
            continue
        level = heading_level(block)
        if level is None:
            builder.text(block.text)
        else:
            builder.heading(level, block.text)
    return builder.finish()


def heading_level(paragraph: Paragraph) -> int | None:
    """0 for a Title, N for a heading of level N, None for body text."""
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name.strip().lower() in _TITLE_STYLES:
        return 0
    match = _HEADING_STYLE.match(name.strip())
    if match:
        return int(match.group(1))
    outline = _outline_level(paragraph._p)
    if outline is None and style is not None:
        outline = _outline_level(style.element)
    if outline is None or outline >= _BODY_OUTLINE_LEVEL:
        return None
    return outline + 1


def _outline_level(element: Any) -> int | None:
    values = element.xpath("./w:pPr/w:outlineLvl/@w:val")
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        return None


def _table_rows(table: Table) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in table.rows:
        rows.append([cell.text for cell in row.cells])
    return rows
