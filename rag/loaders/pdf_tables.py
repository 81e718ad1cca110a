"""PDF tables (pdfplumber): rows with their header, in reading order with the page's text.

pypdf reads a table as loose words, one cell after another, so "what is the price of X"
finds a chunk where X and its price are no longer tied together. Here each ruled table
becomes header-carrying row groups ("Product: Widget; Price: 12"), as XLSX and DOCX tables
do, and the table's words are left out of the page's loose text.

- Cost: pdfplumber (pdfminer's layout analysis) is much slower than pypdf, so only pages
  whose content draws ruling lines or rectangles (`has_ruling`, a scan of the raw content
  bytes for the `l` and `re` path operators) go through it; every other page keeps
  pypdf's text, unchanged. Pages with more path operators than `MAX_RULING_OPS` (maps,
  drawings) are skipped as well. scripts/bench_pdf_tables.py measures the cost; PDF_TABLES
  = False (`LoadLimits.pdf_tables`) turns it all off.
- Tables are found with pdfplumber's "lines" strategy: ruled tables only. A table aligned
  by spaces alone stays loose text, because the text strategy takes ordinary paragraphs
  for tables. A ruled box of one row or one column (a framed note) is not a table.
- A page with tables gets its loose text from pdfplumber too, cut at each table's top:
  the text above a table, the table, the text below it, in that order. Text beside a
  table (at its height) comes after it.
- A table continued on the next page (best effort): when a page's first table has the
  same column edges as the previous page's last table, nothing but page margins lies
  between them, and its first row differs from that table's header, the header is
  repeated for its rows.
- Any pdfplumber failure on a page leaves that page to pypdf: tables never cost text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pdfplumber
from pdfplumber.page import Page
from pypdf import PageObject
from pypdf.errors import PyPdfError

from rag.loaders._common import Section
from rag.loaders._structure import table_row_groups

Join = Callable[[str], str]
"""Re-joins a block of printed lines into paragraphs (`pdf.join_pdf_lines`)."""

_RULING_OPERATOR = re.compile(rb"[\d.]\s+(?:re|l)\s")
MIN_RULING_OPS = 3
"""Fewer line/rectangle operators cannot make a table: the smallest ruled 2x2 table is a
frame and two lines; a running header's and footer's rules are two."""
MAX_RULING_OPS = 20_000
"""More than this is a drawing or a map, whose layout analysis would take seconds."""
_TABLE_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}
_MARGIN = 0.1
"""Top and bottom share of a page taken as running headers and footers (continuations)."""
_EDGE_TOLERANCE = 2.0
"""Points two column edges may differ by and still be the same table's."""


@dataclass(frozen=True)
class FoundTable:
    """One ruled table of a page: its rows (the first is the header) and where it is."""

    rows: list[list[str]]
    bbox: tuple[float, float, float, float]
    """x0, top, x1, bottom in points from the page's top left."""
    edges: tuple[float, ...]
    """The x positions of its column borders."""


def has_ruling(page: PageObject) -> bool:
    """Does the page (or a form it draws) hold enough lines or rectangles for a table?"""
    count = 0
    for data in _content_streams(page):
        count += sum(1 for _ in _RULING_OPERATOR.finditer(data))
        if count > MAX_RULING_OPS:
            return False
    return count >= MIN_RULING_OPS


def _content_streams(page: PageObject) -> Iterator[bytes]:
    try:
        contents = page.get_contents()
        if contents is not None:
            yield contents.get_data()
        xobjects = page.get("/Resources", {}).get_object().get("/XObject", {}).get_object()
        for reference in xobjects.values():
            xobject = reference.get_object()
            if xobject.get("/Subtype") == "/Form":
                yield xobject.get_data()
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError):
        return


def table_page_sections(
    path: Path, pages: Sequence[PageObject], join: Join
) -> dict[int, list[Section]]:
    """The Sections of each page (1-based number) that holds a ruled table: loose text and
    table row groups in reading order. Pages without a table are not in the result."""
    candidates = [number for number, page in enumerate(pages, start=1) if has_ruling(page)]
    if not candidates:
        return {}
    try:
        with pdfplumber.open(path) as pdf:
            return _read_pages(pdf.pages, candidates, join)
    except Exception:  # pdfminer failed on the file: pypdf's text stays, as without tables
        return {}


def _read_pages(
    pages: Sequence[Page], candidates: list[int], join: Join
) -> dict[int, list[Section]]:
    result: dict[int, list[Section]] = {}
    carried: FoundTable | None = None  # the previous page's last table, if it ends that page
    carried_from = 0
    for number in (n for n in candidates if n <= len(pages)):
        page = pages[number - 1]
        try:
            tables = find_tables(page)
            if tables and carried is not None and carried_from == number - 1:
                tables[0] = continue_table(page, tables, carried)
            if tables:
                result[number] = page_sections(page, tables, number, join)
            ends_page = bool(tables) and not _loose_chars(page, tables, below=tables[-1].bbox[3])
            carried = tables[-1] if ends_page else None
        except Exception:  # pdfminer failed on this page: pypdf reads it as before
            carried = None
        finally:
            page.close()  # drop the page's parsed objects: memory stays one page's
        carried_from = number
    return result


def find_tables(page: Page) -> list[FoundTable]:
    """The page's ruled tables of at least two rows and two columns, top to bottom."""
    found = []
    for table in page.find_tables(table_settings=_TABLE_SETTINGS):
        rows = [[_cell_text(cell) for cell in row] for row in table.extract()]
        filled = [row for row in rows if any(row)]
        if len(filled) < 2 or max(len(row) for row in filled) < 2:
            continue
        edges = sorted({round(x, 1) for cell in table.cells for x in (cell[0], cell[2])})
        x0, top, x1, bottom = (float(value) for value in table.bbox)
        found.append(FoundTable(filled, (x0, top, x1, bottom), tuple(edges)))
    return sorted(found, key=lambda table: (table.bbox[1], table.bbox[0]))


def _cell_text(cell: str | None) -> str:
    """A cell's printed lines joined: CJK with nothing, other text with a space."""
    lines = [line.strip() for line in (cell or "").splitlines() if line.strip()]
    text = lines[0] if lines else ""
    for line in lines[1:]:
        text += ("" if _wide(text[-1]) and _wide(line[0]) else " ") + line
    return text


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def continue_table(page: Page, tables: list[FoundTable], previous: FoundTable) -> FoundTable:
    """The page's first table with `previous`'s header in front, when it continues that
    table: same column edges, no text above it, and a first row that is not the header."""
    table = tables[0]
    same_columns = len(table.edges) == len(previous.edges) and all(
        abs(a - b) <= _EDGE_TOLERANCE for a, b in zip(table.edges, previous.edges, strict=True)
    )
    header = previous.rows[0]
    if not same_columns or table.rows[0] == header:
        return table
    if _loose_chars(page, tables, above=table.bbox[1]):
        return table
    return replace(table, rows=[header, *table.rows])


def page_sections(page: Page, tables: list[FoundTable], number: int, join: Join) -> list[Section]:
    """Loose text cut at each table's top, and the tables' row groups, in reading order."""
    sections: list[Section] = []
    bounds = [float("-inf"), *(table.bbox[1] for table in tables), float("inf")]
    for index in range(len(tables) + 1):
        text = join(_band_text(page, tables, bounds[index], bounds[index + 1]))
        if text:
            sections.append(Section(text, page=number))
        if index < len(tables):
            groups = table_row_groups(tables[index].rows)
            sections.extend(Section(group, page=number, table=True) for group in groups)
    return sections


def _band_text(page: Page, tables: list[FoundTable], low: float, high: float) -> str:
    """The text of the characters outside all tables whose middle is in [low, high)."""

    def keep(obj: dict[str, Any]) -> bool:
        return (
            obj.get("object_type") == "char"
            and low <= _middle(obj)[1] < high
            and not _in_tables(obj, tables)
        )

    return str(page.filter(keep).extract_text() or "")


def _loose_chars(
    page: Page,
    tables: list[FoundTable],
    *,
    above: float = float("-inf"),
    below: float = float("inf"),
) -> bool:
    """Are there characters outside the tables, between the page margins, above `above`
    or below `below`? (Running headers and footers in the margins do not count.)"""
    top, bottom = page.height * _MARGIN, page.height * (1 - _MARGIN)
    for char in page.chars:
        y = _middle(char)[1]
        if top <= y <= bottom and (y < above or y > below) and not _in_tables(char, tables):
            return True
    return False


def _middle(obj: dict[str, Any]) -> tuple[float, float]:
    return (float(obj["x0"]) + float(obj["x1"])) / 2, (float(obj["top"]) + float(obj["bottom"])) / 2


def _in_tables(obj: dict[str, Any], tables: list[FoundTable]) -> bool:
    x, y = _middle(obj)
    return any(
        x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in (t.bbox for t in tables)
    )
