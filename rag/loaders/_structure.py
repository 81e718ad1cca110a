"""Headings → sections with a title path; tables → row groups that repeat their header.

An ancestor app lost answers because bare heading chunks ranked first and the text under
them had no heading: here a heading is never emitted on its own. It becomes part of the
`title_path` of the text below it and the first line of that text.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from itertools import zip_longest

from rag.loaders._common import TABLE_GROUP_CHARS, Section, collapse_spaces

TITLE_SEPARATOR = " > "


class SectionBuilder:
    """Collects headings, text blocks and tables in reading order; `finish` gives Sections.

    `root` is a fixed path prefix (e.g. an epub chapter title); a heading whose text equals
    the last root entry is not repeated in the path.
    """

    def __init__(
        self, root: Sequence[str] = (), page: int | None = None, *, verbatim: bool = False
    ) -> None:
        self._root = [title for title in (collapse_spaces(t) for t in root) if title]
        self._page = page
        self._verbatim = verbatim
        self._stack: list[tuple[int, str]] = []
        self._heading: str | None = self._root[-1] if self._root else None
        self._blocks: list[str] = []
        self._sections: list[Section] = []
        self._headings_seen: list[str] = []

    @property
    def title_path(self) -> str:
        return TITLE_SEPARATOR.join([*self._root, *(title for _, title in self._stack)])

    def heading(self, level: int, text: str) -> None:
        title = collapse_spaces(text)
        if not title:
            return
        self._flush_text()
        self._headings_seen.append(title)
        if not self._stack and self._root and title == self._root[-1]:
            return
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        self._heading = title

    def text(self, text: str) -> None:
        if text.strip():
            self._blocks.append(text.strip("\n").rstrip())

    def table(self, rows: Sequence[Sequence[str]]) -> None:
        self._flush_text()
        for group in table_row_groups(rows):
            self._emit(group, table=True)

    def finish(self) -> list[Section]:
        self._flush_text()
        if not self._sections and self._headings_seen:
            # Only headings: keep them rather than lose the file's only text.
            text = "\n".join(self._headings_seen)
            self._sections.append(Section(text, page=self._page, verbatim=self._verbatim))
        return self._sections

    def _flush_text(self) -> None:
        if not self._blocks:
            return
        blocks = self._blocks
        if self._heading is not None:
            blocks = [self._heading, *blocks]
            self._heading = None
        self._blocks = []
        self._emit("\n\n".join(blocks))

    def _emit(self, text: str, *, table: bool = False) -> None:
        self._sections.append(
            Section(
                text,
                title_path=self.title_path,
                page=self._page,
                verbatim=self._verbatim,
                table=table,
            )
        )


def table_row_groups(
    rows: Iterable[Sequence[object]], max_chars: int = TABLE_GROUP_CHARS
) -> list[str]:
    """Rows as "header1: value1; header2: value2" lines, grouped up to `max_chars` each.

    The first non-empty row is the header. A table of one row gives that row alone.
    """
    cleaned = [cells for cells in (_clean_row(row) for row in rows) if any(cells)]
    if not cleaned:
        return []
    header, body = cleaned[0], cleaned[1:]
    if not body:
        return ["; ".join(cell for cell in header if cell)]
    lines = [line for line in (format_row(header, row) for row in body) if line]
    return group_lines(lines, max_chars)


def format_row(header: Sequence[str], row: Sequence[str]) -> str:
    """One row as "name: value; ..." (empty values skipped, unnamed columns "列N")."""
    pairs = []
    for index, (name, value) in enumerate(zip_longest(header, row, fillvalue=""), start=1):
        if value:
            pairs.append(f"{name or f'列{index}'}: {value}")
    return "; ".join(pairs)


def group_lines(lines: Iterable[str], max_chars: int = TABLE_GROUP_CHARS) -> list[str]:
    """Join lines with newlines into groups of at most `max_chars` (a longer line stays whole)."""
    groups: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + 1 + len(line) > max_chars:
            groups.append("\n".join(current))
            current, size = [], 0
        size += len(line) + (1 if current else 0)
        current.append(line)
    if current:
        groups.append("\n".join(current))
    return groups


def _clean_row(row: Sequence[object]) -> list[str]:
    cells = [collapse_spaces(format_cell(cell)) for cell in row]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def format_cell(value: object) -> str:
    """A cell value as text: None → "", 3.0 → "3", dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)
