"""OpenDocument (odfpy): .odt text, .ods spreadsheets, .odp presentations.

.odt: headings (text:h, by outline level) give the title path, paragraphs and lists are text,
tables become header-carrying row groups, as in .docx; tables of contents and indexes are
skipped (they repeat the headings). .ods: one set of row groups per sheet, `sheet` and
`title_path` = the sheet name, as .xlsx; the cell text is the displayed value. .odp: one
Section per slide (`page` = slide number, `title_path` = its title frame), speaker notes
after the slide's text, as .pptx.

Cells and rows repeated by `number-*-repeated`, and spaces by `text:s c=`, are expanded only
up to a cap: a few bytes of XML may otherwise ask for millions of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from odf.namespaces import DRAWNS, PRESENTATIONNS, TABLENS, TEXTNS
from odf.opendocument import load

from rag.loaders._common import LoadLimits, Section, collapse_spaces
from rag.loaders._structure import SectionBuilder, format_row, table_row_groups
from rag.loaders._zipcheck import check_zip

_MAX_REPEAT = 100
"""Most copies of a repeated cell, row or space run (more add no information; an empty
cell or row is not expanded at all)."""
_MAX_OUTLINE_LEVEL = 10
_NOTES_LABEL = "备注"
_SKIPPED_TEXT = frozenset(
    {
        "table-of-content", "illustration-index", "table-index", "object-index",
        "user-index", "alphabetical-index", "bibliography", "tracked-changes",
    }
)  # fmt: skip
_CELLS = frozenset({"table-cell", "covered-table-cell"})


def _name(node: Any) -> tuple[str, str]:
    qname = getattr(node, "qname", None)
    return qname if isinstance(qname, tuple) else ("", "")


def _children(node: Any) -> Iterator[Any]:
    return iter(getattr(node, "childNodes", ()))


def _repeat(node: Any, attribute: str) -> int:
    try:
        count = int(node.attributes.get((TABLENS, attribute)) or 1)
    except ValueError:
        count = 1
    return max(1, min(count, _MAX_REPEAT))


def node_text(node: Any) -> str:
    """The text of an element: spaces (text:s), tabs and line breaks as written, notes
    and annotations left out."""
    parts: list[str] = []
    for child in _children(node):
        if child.nodeType == child.TEXT_NODE:
            parts.append(child.data)
            continue
        namespace, local = _name(child)
        if namespace == TEXTNS and local == "s":
            count = child.attributes.get((TEXTNS, "c")) or "1"
            parts.append(" " * min(int(count) if count.isdigit() else 1, _MAX_REPEAT))
        elif namespace == TEXTNS and local == "tab":
            parts.append("\t")
        elif namespace == TEXTNS and local == "line-break":
            parts.append("\n")
        elif local not in ("note", "annotation"):
            parts.append(node_text(child))
    return "".join(parts)


def table_rows(table: Any) -> list[list[str]]:
    """A table:table's rows of cell texts, repeats expanded (capped), empty rows once."""
    rows: list[list[str]] = []
    for row in _table_row_elements(table):
        cells = _row_cells(row)
        copies = _repeat(row, "number-rows-repeated") if cells else 1
        rows.extend([list(cells) for _ in range(copies)])
    return rows


def _row_cells(row: Any) -> list[str]:
    """A row's cell texts; empty cells only where a filled one follows (the trailing run
    of empty cells that fills a sheet to its last column is never expanded)."""
    cells: list[str] = []
    empty = 0
    for cell in _children(row):
        if _name(cell)[1] not in _CELLS:
            continue
        text = collapse_spaces(" ".join(node_text(p) for p in _children(cell)))
        count = _repeat(cell, "number-columns-repeated")
        if not text:
            empty += count
            continue
        cells.extend([""] * empty + [text] * count)
        empty = 0
    return cells


def _table_row_elements(node: Any) -> Iterator[Any]:
    for child in _children(node):
        local = _name(child)[1]
        if local == "table-row":
            yield child
        elif local in ("table-header-rows", "table-rows", "table-row-group"):
            yield from _table_row_elements(child)


# ---- .odt -------------------------------------------------------------------------------


def load_odt(path: Path, limits: LoadLimits) -> list[Section]:
    """Sections split at headings; tables as row groups."""
    check_zip(path, ".odt", limits.max_unzipped_bytes)
    document = load(str(path))
    builder = SectionBuilder()
    _walk_text(document.text, builder)
    return builder.finish()


def _walk_text(node: Any, builder: SectionBuilder) -> None:
    for child in _children(node):
        namespace, local = _name(child)
        if namespace == TEXTNS and local == "h":
            builder.heading(_outline_level(child), node_text(child))
        elif namespace == TEXTNS and local == "p":
            builder.text(node_text(child))
        elif namespace == TABLENS and local == "table":
            builder.table(table_rows(child))
        elif local not in _SKIPPED_TEXT:  # lists, sections, frames: what they hold
            _walk_text(child, builder)


def _outline_level(heading: Any) -> int:
    level = heading.attributes.get((TEXTNS, "outline-level")) or "1"
    return max(1, min(int(level) if level.isdigit() else 1, _MAX_OUTLINE_LEVEL))


# ---- .ods -------------------------------------------------------------------------------


def load_ods(path: Path, limits: LoadLimits) -> list[Section]:
    """Row groups per sheet, with `sheet` and `title_path` = sheet name."""
    check_zip(path, ".ods", limits.max_unzipped_bytes)
    document = load(str(path))
    sections: list[Section] = []
    for sheet in _children(document.spreadsheet):
        if _name(sheet) != (TABLENS, "table"):
            continue
        name = str(sheet.attributes.get((TABLENS, "name")) or "")
        for group in table_row_groups(table_rows(sheet)):
            sections.append(Section(group, title_path=name, sheet=name or None))
    return sections


# ---- .odp -------------------------------------------------------------------------------


def load_odp(path: Path, limits: LoadLimits) -> list[Section]:
    """One Section per slide that has text; `page` = slide number."""
    check_zip(path, ".odp", limits.max_unzipped_bytes)
    document = load(str(path))
    slides = [s for s in _children(document.presentation) if _name(s) == (DRAWNS, "page")]
    sections: list[Section] = []
    for number, slide in enumerate(slides, start=1):
        lines = [line for line in _slide_lines(slide) if line.strip()]
        notes = [line for line in _notes_lines(slide) if line.strip()]
        if notes:
            lines.append(f"{_NOTES_LABEL}: " + "\n".join(notes))
        if lines:
            sections.append(Section("\n".join(lines), title_path=_title(slide), page=number))
    return sections


def _slide_lines(node: Any) -> Iterator[str]:
    """The text of a slide's frames and shapes in document order, tables as rows."""
    for child in _children(node):
        namespace, local = _name(child)
        if namespace == PRESENTATIONNS and local == "notes":
            continue
        if namespace == TEXTNS and local in ("p", "h"):
            yield node_text(child)
        elif namespace == TABLENS and local == "table":
            yield from _table_lines(table_rows(child))
        else:
            yield from _slide_lines(child)


def _notes_lines(slide: Any) -> Iterator[str]:
    for child in _children(slide):
        if _name(child) == (PRESENTATIONNS, "notes"):
            yield from _slide_lines(child)


def _table_lines(rows: list[list[str]]) -> Iterator[str]:
    rows = [row for row in rows if any(row)]
    if len(rows) == 1:
        yield "; ".join(cell for cell in rows[0] if cell)
    for row in rows[1:]:
        yield format_row(rows[0], row)


def _title(slide: Any) -> str:
    for child in _children(slide):
        if _name(child) == (DRAWNS, "frame"):
            kind = child.attributes.get((PRESENTATIONNS, "class"))
            if kind == "title":
                return collapse_spaces(" ".join(_slide_lines(child)))
    return ""
