"""HTML (BeautifulSoup + lxml) and EPUB (ebooklib for the package, the same HTML walker).

script, style, nav, noscript, template, svg, iframe and the head are dropped; h1-h6 build the
title path; tables become header-carrying row groups. An EPUB gives one set of sections per
spine chapter, with the chapter's table-of-contents title as the root of `title_path`.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from posixpath import basename
from typing import Any

import ebooklib
from bs4 import BeautifulSoup, NavigableString, Tag, XMLParsedAsHTMLWarning
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction
from ebooklib import epub
from lxml import etree

from rag.errors import DocumentLoadError
from rag.loaders._common import LoadLimits, Section, collapse_spaces
from rag.loaders._encoding import decode_text
from rag.loaders._structure import SectionBuilder
from rag.loaders._zipcheck import check_zip

_DROP = frozenset(
    {"script", "style", "nav", "noscript", "template", "svg", "iframe", "head", "canvas", "object"}
)
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "div",
        "dl", "dt", "figcaption", "figure", "footer", "header", "hr", "li", "main", "ol", "p",
        "pre", "section", "summary", "ul",
    }
)  # fmt: skip
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_MAX_COLSPAN = 50


def load_html(path: Path, limits: LoadLimits) -> list[Section]:
    """Sections split at h1-h6; tables as row groups."""
    del limits
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(f"cannot read the file ({exc.strerror})") from exc
    return html_sections(decode_html(data))


def html_sections(markup: str | bytes, root: Sequence[str] = ()) -> list[Section]:
    """Sections of one HTML document; `root` prefixes every title path."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)  # XHTML from EPUBs
        soup = BeautifulSoup(markup, "lxml")
    builder = SectionBuilder(root=root)
    walker = _Walker(builder)
    walker.walk(soup.body if soup.body is not None else soup)
    walker.flush()
    return builder.finish()


def decode_html(data: bytes) -> str:
    """The declared <meta charset> if it decodes cleanly, else the text-file detection."""
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data)


class _Walker:
    """Walks the tree in reading order, feeding paragraphs, headings and tables."""

    def __init__(self, builder: SectionBuilder) -> None:
        self._builder = builder
        self._buffer: list[str] = []

    def walk(self, node: Tag, preformatted: bool = False) -> None:
        for child in node.children:
            if isinstance(child, _SKIPPED_STRINGS):
                continue
            if isinstance(child, NavigableString):
                text = str(child)
                self._buffer.append(text if preformatted else re.sub(r"\s+", " ", text))
            elif isinstance(child, Tag):
                self._walk_tag(child, preformatted)

    def flush(self) -> None:
        text = "".join(self._buffer)
        self._buffer = []
        self._builder.text(text)

    def _walk_tag(self, tag: Tag, preformatted: bool) -> None:
        name = tag.name.lower()
        if name in _DROP:
            return
        if name in _HEADINGS:
            self.flush()
            self._builder.heading(_HEADINGS[name], tag.get_text(" ", strip=True))
        elif name == "table":
            self.flush()
            self._builder.table(table_rows(tag))
        elif name == "br":
            self._buffer.append("\n")
        elif name in _BLOCK:
            self.flush()
            self.walk(tag, preformatted or name == "pre")
            self.flush()
        else:
            self.walk(tag, preformatted)


def table_rows(table: Tag) -> list[list[str]]:
    """Cell texts of the table's own rows (not nested tables'), colspans repeated."""
    rows: list[list[str]] = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue
        cells: list[str] = []
        for cell in row.find_all(["th", "td"], recursive=False):
            text = collapse_spaces(cell.get_text(" ", strip=True))
            cells.extend([text] * _colspan(cell))
        rows.append(cells)
    return rows


def _colspan(cell: Tag) -> int:
    value = cell.get("colspan")
    try:
        span = int(str(value)) if value is not None else 1
    except ValueError:
        span = 1
    return max(1, min(span, _MAX_COLSPAN))


def load_epub(path: Path, limits: LoadLimits) -> list[Section]:
    """Sections per spine chapter, `title_path` rooted at the chapter title."""
    check_zip(path, ".epub", limits.max_unzipped_bytes)
    book = _read_book(path)
    titles = _toc_titles(book.toc)
    sections: list[Section] = []
    for item in _chapters(book):
        title = _chapter_title(titles, item.get_name())
        sections.extend(html_sections(item.get_content(), root=(title,) if title else ()))
    return sections


def _read_book(path: Path) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return epub.read_epub(str(path), options={"ignore_ncx": False})
    except (epub.EpubException, zipfile.BadZipFile, KeyError, ValueError, etree.LxmlError) as exc:
        raise DocumentLoadError(
            "not a valid .epub (corrupt or missing its package file) — export it again "
            "from its program and upload it again"
        ) from exc


def _chapters(book: Any) -> Iterable[Any]:
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        if isinstance(item, epub.EpubHtml) and not item.is_chapter():
            continue
        yield item


def _toc_titles(toc: Iterable[Any]) -> dict[str, str]:
    """href (without #fragment, and its base name) → first table-of-contents title for it."""
    titles: dict[str, str] = {}
    for entry in toc:
        node, children = (entry[0], entry[1]) if isinstance(entry, tuple) else (entry, ())
        href, title = _toc_entry(node)
        if href and title:
            titles.setdefault(_strip_fragment(href), title)
            titles.setdefault(basename(_strip_fragment(href)), title)
        for key, value in _toc_titles(children).items():
            titles.setdefault(key, value)
    return titles


def _toc_entry(node: Any) -> tuple[str, str]:
    if isinstance(node, epub.Link | epub.Section):
        return str(node.href or ""), collapse_spaces(str(node.title or ""))
    if isinstance(node, epub.EpubHtml):
        return str(node.file_name or ""), collapse_spaces(str(node.title or ""))
    return "", ""


def _chapter_title(titles: dict[str, str], name: str) -> str:
    name = _strip_fragment(name)
    return titles.get(name) or titles.get(basename(name), "")


def _strip_fragment(href: str) -> str:
    return href.split("#", 1)[0]
