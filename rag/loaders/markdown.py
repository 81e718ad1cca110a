"""Markdown: a small line scanner (ATX and setext headings, fenced code, pipe tables).

No Markdown library is needed to find headings and tables; the scanner skips headings
inside fenced code and YAML front matter, and keeps the rest of the Markdown as written
(an LLM reads it well).
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.loaders._common import LoadLimits, Section
from rag.loaders._encoding import read_text_file
from rag.loaders._structure import SectionBuilder

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_TABLE_SEPARATOR = re.compile(r"^ *\|? *:?-+:? *(?:\| *:?-+:? *)*\|? *$")
_INLINE_MARKS = re.compile(r"\*\*|__|`")
_BLOCK_START = re.compile(r"^ {0,3}(?:[-*+>]|\d+[.)])\s")


def load_markdown(path: Path, limits: LoadLimits) -> list[Section]:
    """Sections split at headings; pipe tables as header-carrying row groups."""
    del limits
    return parse_markdown(read_text_file(path))


def parse_markdown(text: str) -> list[Section]:
    """Sections of a Markdown text (see the module docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return _Scanner(lines).run()


class _Scanner:
    """One pass over the lines, feeding a SectionBuilder."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self._builder = SectionBuilder(verbatim=True)
        self._paragraph: list[str] = []
        self._fence: str | None = None

    def run(self) -> list[Section]:
        index = _skip_front_matter(self._lines, self._paragraph)
        while index < len(self._lines):
            index = self._step(index)
        self._flush()
        return self._builder.finish()

    def _step(self, index: int) -> int:
        """Handle the line at `index`; return the index of the next unread line."""
        line = self._lines[index]
        if self._fence is not None or _FENCE.match(line):
            self._code_line(line)
        elif atx := _ATX.match(line):
            self._flush()
            self._builder.heading(len(atx.group(1)), _heading_text(atx.group(2) or ""))
        elif _is_setext(line, self._paragraph):
            title = self._paragraph.pop()
            self._flush()
            self._builder.heading(1 if line.strip().startswith("=") else 2, _heading_text(title))
        elif _starts_table(self._lines, index):
            self._flush()
            return _read_table(self._lines, index, self._builder)
        elif not line.strip():
            self._flush()
        else:
            self._paragraph.append(line)
        return index + 1

    def _code_line(self, line: str) -> None:
        self._paragraph.append(line)
        if self._fence is None:
            match = _FENCE.match(line)
            self._fence = match.group(1) if match else None
        elif line.strip().startswith(self._fence):
            self._fence = None

    def _flush(self) -> None:
        if self._paragraph:
            self._builder.text("\n".join(self._paragraph))
            self._paragraph.clear()


def _skip_front_matter(lines: list[str], paragraph: list[str]) -> int:
    """Put YAML front matter (--- ... ---) into `paragraph` as text; return the next index."""
    if not lines or lines[0].strip() != "---":
        return 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            paragraph.extend(lines[1:end])
            return end + 1
    return 0


def _is_setext(line: str, paragraph: list[str]) -> bool:
    if not paragraph or not _SETEXT.match(line):
        return False
    previous = paragraph[-1]
    return bool(previous.strip()) and "|" not in previous and not _BLOCK_START.match(previous)


def _starts_table(lines: list[str], index: int) -> bool:
    return (
        "|" in lines[index]
        and index + 1 < len(lines)
        and "-" in lines[index + 1]
        and bool(_TABLE_SEPARATOR.match(lines[index + 1]))
    )


def _read_table(lines: list[str], index: int, builder: SectionBuilder) -> int:
    """Read a pipe table starting at `index` into the builder; return the next index."""
    rows = [_split_row(lines[index])]
    index += 2
    while index < len(lines) and lines[index].strip() and "|" in lines[index]:
        rows.append(_split_row(lines[index]))
        index += 1
    builder.table(rows)
    return index


def _split_row(line: str) -> list[str]:
    row = line.strip()
    row = row.removeprefix("|")
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    cells = re.split(r"(?<!\\)\|", row)
    return [cell.strip().replace("\\|", "|") for cell in cells]


def _heading_text(text: str) -> str:
    return _INLINE_MARKS.sub("", text).strip()
