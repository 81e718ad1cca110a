"""Office 97-2003 files and RTF: .doc (antiword), .ppt (catppt), .xls (xlrd), .rtf (striprtf).

.doc: antiword writes the document as DocBook (`-x db`, UTF-8): Word's heading styles come out
as nested chapter/sect1.. titles, which give the title path, and tables as rows, which become
header-carrying row groups as in .docx. An RTF or HTML file named .doc is read as such.

.ppt: catppt (Debian package catdoc) prints the slides' text with a form feed between slides:
each becomes a Section with `page` = its number and its first line, when short, as its title.
catppt 0.95 reads the text PowerPoint keeps in its slide list (titles and body placeholders);
text boxes drawn on a slide, and every text of a .ppt saved by LibreOffice, are stored
elsewhere and not read (then "no text found": save it as .pptx). A slide without any text in
the slide list prints no separator, so the slides after it would be numbered one too low: the
numbers are right for decks whose every slide has a title or body text, as most do.

.xls: xlrd, one set of header-carrying row groups per sheet (`sheet` and `title_path` = the
sheet name), like .xlsx; dates as dates. .rtf: striprtf (the codepage the file declares).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import xlrd
from lxml import etree
from striprtf.striprtf import rtf_to_text

from rag.errors import DocumentLoadError
from rag.loaders._common import LoadLimits, Section, collapse_spaces
from rag.loaders._structure import SectionBuilder, table_row_groups
from rag.loaders._title import MAX_TITLE_WIDTH
from rag.loaders._tools import ANTIWORD, CATPPT, excerpt, run_tool
from rag.loaders.pdf import display_width
from rag.loaders.web import load_html

_SECTION_LEVELS = {"chapter": 1, **{f"sect{n}": n + 1 for n in range(1, 6)}}
_SKIPPED = frozenset({"title", "bookinfo", "info"})
_BLOCKS = frozenset(
    {"para", "simpara", "listitem", "itemizedlist", "orderedlist", "blockquote", "note"}
)
_TABLES = frozenset({"informaltable", "table"})
_SLIDE_BREAK = "\f"
_SNIFF_BYTES = 1024
_HTML_START = re.compile(rb"\s*(?:\xef\xbb\xbf)?\s*<(?:!doctype\s+html|html|head|meta)\b", re.I)


# ---- .doc -------------------------------------------------------------------------------


def load_doc(path: Path, limits: LoadLimits) -> list[Section]:
    """Sections split at Word's headings; tables as row groups. Many ".doc" files are RTF
    or HTML (Word's and web apps' "save as Word"): those are read as what they are."""
    head = _head(path)
    if head.lstrip().startswith(b"{\\rtf"):
        return load_rtf(path, limits)
    if _HTML_START.match(head):
        return load_html(path, limits)
    if head.startswith(b"PK\x03\x04"):
        raise DocumentLoadError(
            "this is a .docx file named .doc — rename it to .docx and upload it again"
        )
    # DocBook is UTF-8 XML: antiword takes no character mapping (-m) in this mode
    done = run_tool(ANTIWORD, ["-x", "db"], path)
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, load_dtd=False, no_network=True, huge_tree=True
    )
    root = etree.fromstring(done.stdout, parser) if done.stdout.strip() else None
    if root is None:
        raise DocumentLoadError(
            f"antiword gave no text ({excerpt(done.stderr) or 'no message'}) — open it in "
            "Word or WPS, save it as .docx and upload that"
        )
    builder = SectionBuilder()
    walker = _DocBookWalker(builder)
    walker.walk(root)
    walker.flush()
    return builder.finish()


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise DocumentLoadError(f"cannot read the file ({exc.strerror})") from exc


class _DocBookWalker:
    """antiword's DocBook in reading order: section titles to headings, paragraphs to text
    blocks, tables to rows."""

    def __init__(self, builder: SectionBuilder) -> None:
        self._builder = builder
        self._buffer: list[str] = []

    def walk(self, node: Any) -> None:
        if node.text:
            self._buffer.append(node.text)
        for child in node:
            if isinstance(child.tag, str):  # not a comment or processing instruction
                self._element(child)
            if child.tail:
                self._buffer.append(child.tail)

    def flush(self) -> None:
        self._builder.text(collapse_spaces("".join(self._buffer)))
        self._buffer = []

    def _element(self, element: Any) -> None:
        tag = etree.QName(element).localname
        if tag in _SKIPPED:
            return
        if tag in _SECTION_LEVELS:
            self.flush()
            title = element.find("title")
            text = "".join(title.itertext()) if title is not None else ""
            self._builder.heading(_SECTION_LEVELS[tag], text)
            self.walk(element)
            self.flush()
        elif tag in _TABLES:
            self.flush()
            self._builder.table(_docbook_rows(element))
        elif tag in _BLOCKS:
            self.flush()
            self.walk(element)
            self.flush()
        else:  # inline: emphasis, links, footnotes
            self.walk(element)


def _docbook_rows(table: Any) -> list[list[str]]:
    return [
        [collapse_spaces("".join(entry.itertext())) for entry in row.iter("entry")]
        for row in table.iter("row")
    ]


# ---- .ppt -------------------------------------------------------------------------------


def load_ppt(path: Path, limits: LoadLimits) -> list[Section]:
    """One Section per slide with text, `page` = slide number (module doc)."""
    del limits
    done = run_tool(CATPPT, ["-d", "utf-8"], path)
    text = done.stdout.decode("utf-8", errors="replace")
    if not text.strip() and done.stderr.strip():  # catppt exits 0 on a file it cannot read
        raise DocumentLoadError(
            f"catppt could not read it ({excerpt(done.stderr)}) — it may be corrupt, "
            "encrypted or another format renamed; save it as .pptx and upload that"
        )
    sections = []
    for number, slide in enumerate(text.split(_SLIDE_BREAK), start=1):
        if slide.strip():
            sections.append(Section(slide, title_path=_slide_title(slide), page=number))
    if not sections:
        raise DocumentLoadError(
            "catppt found no text in this .ppt (a .ppt saved by LibreOffice keeps its text "
            "where catppt does not read it) — open it, save it as .pptx and upload that"
        )
    return sections


def _slide_title(slide: str) -> str:
    first = collapse_spaces(slide.strip().split("\n", 1)[0])
    return first if display_width(first) <= MAX_TITLE_WIDTH else ""


# ---- .xls -------------------------------------------------------------------------------


def load_xls(path: Path, limits: LoadLimits) -> list[Section]:
    """Row groups per worksheet, with `sheet` and `title_path` = sheet name. An HTML table
    named .xls (what many web systems export as "Excel") is read as HTML."""
    if _HTML_START.match(_head(path)):
        return load_html(path, limits)
    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except xlrd.XLRDError as exc:
        raise DocumentLoadError(_xls_error(str(exc))) from exc
    try:
        sections: list[Section] = []
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)
            rows = (_xls_row(sheet.row(r), book.datemode) for r in range(sheet.nrows))
            for group in table_row_groups(rows):
                sections.append(Section(group, title_path=sheet.name, sheet=sheet.name))
            book.unload_sheet(index)
        return sections
    finally:
        book.release_resources()


def _xls_error(message: str) -> str:
    if "xlsx" in message.lower():
        return "this is an .xlsx file named .xls — rename it to .xlsx and upload it again"
    if "encrypted" in message.lower():
        return (
            "the workbook is password-protected — remove the password in Excel or WPS "
            "and upload it again"
        )
    return (
        f"not a valid .xls ({message}) — open it in Excel or WPS, save it as .xlsx and upload that"
    )


def _xls_row(cells: list[Any], datemode: int) -> list[object]:
    return [_xls_value(cell, datemode) for cell in cells]


def _xls_value(cell: Any, datemode: int) -> object:
    """A cell's value: dates as dates, booleans as booleans, error cells empty."""
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate_as_datetime(cell.value, datemode)
        except (xlrd.xldate.XLDateError, OverflowError, ValueError):
            return cell.value
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    if cell.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    return cell.value


# ---- .rtf -------------------------------------------------------------------------------


def load_rtf(path: Path, limits: LoadLimits) -> list[Section]:
    """The text of an RTF file as one Section (its first line may become the title)."""
    del limits
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(f"cannot read the file ({exc.strerror})") from exc
    if not data.lstrip().startswith(b"{\\rtf"):
        raise DocumentLoadError(
            "not an RTF file (it does not start with {\\rtf) — save it again as .rtf or "
            ".docx and upload that"
        )
    # RTF is 7-bit text; its \\'xx escapes are decoded with the codepage it declares
    return [Section(rtf_to_text(data.decode("latin-1"), errors="replace"))]
