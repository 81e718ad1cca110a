"""PPTX: python-pptx, one Section per slide (`page` = slide number, `title_path` = slide title).

Text frames (grouped shapes included), tables as header-carrying rows, and speaker notes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lxml import etree
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.exc import PackageNotFoundError

from rag.errors import DocumentLoadError
from rag.loaders._common import LoadLimits, Section
from rag.loaders._structure import format_row
from rag.loaders._zipcheck import check_zip

_NOTES_LABEL = "备注"


def load_pptx(path: Path, limits: LoadLimits) -> list[Section]:
    """One Section per slide that has text."""
    check_zip(path, ".pptx", limits.max_unzipped_bytes)
    try:
        presentation = Presentation(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, etree.LxmlError) as exc:
        raise DocumentLoadError(
            "not a valid .pptx (corrupt, or an old .ppt renamed) — open it in PowerPoint or "
            "WPS, save it as .pptx and upload it again"
        ) from exc
    sections: list[Section] = []
    for number, slide in enumerate(presentation.slides, start=1):
        text = "\n".join(_slide_lines(slide))
        if text.strip():
            sections.append(Section(text, title_path=_slide_title(slide), page=number))
    return sections


def _slide_title(slide: Any) -> str:
    title_shape = slide.shapes.title
    if title_shape is None or not title_shape.has_text_frame:
        return ""
    return " ".join(str(title_shape.text_frame.text).split())


def _slide_lines(slide: Any) -> Iterator[str]:
    yield from _shape_lines(slide.shapes)
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            yield f"{_NOTES_LABEL}: {notes.text.strip()}"


def _shape_lines(shapes: Iterable[Any]) -> Iterator[str]:
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_lines(shape.shapes)
        elif shape.has_text_frame:
            yield from (p.text for p in shape.text_frame.paragraphs if p.text.strip())
        elif shape.has_table:
            yield from _table_lines(shape.table)


def _table_lines(table: Any) -> Iterator[str]:
    rows = [[" ".join(cell.text.split()) for cell in row.cells] for row in table.rows]
    if not rows:
        return
    header = rows[0]
    if len(rows) == 1:
        yield "; ".join(cell for cell in header if cell)
        return
    for row in rows[1:]:
        line = format_row(header, row)
        if line:
            yield line
