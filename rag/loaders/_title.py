"""A document's title line, carried into every section instead of kept as text.

Plain text, PDF and unstyled Word files mark no headings, yet many start with a title line
(an article's subject, a report's name) followed by the body. Kept as text, that line
becomes a chunk of its own (the splitter cuts after it when the first paragraph is long),
and such a chunk, holding only the subject's name, ranks first for every question that
names the subject while answering none. Taken as the title path instead, it is put in front
of every chunk of the document (the chunker's title prefix), as a Markdown `# heading` is.
"""

from __future__ import annotations

from dataclasses import replace

from rag.loaders._common import Section
from rag.loaders.pdf import display_width

MAX_TITLE_WIDTH = 80
"""Longest title line, in display columns (a CJK character counts two)."""
SENTENCE_ENDINGS = tuple("。！？!?；;：:，,、…")
"""A first line ending so is the start of the text, not a title."""
MAX_TITLE_WORDS_WITH_PERIOD = 3
"""A line ending in "." is a sentence, unless it is this short ("Acme Inc.", "Vol. 2.")."""


def carry_title(sections: list[Section]) -> list[Section]:
    """`sections` with the first line as every section's title path, when the format gave
    no headings and that line looks like a title; otherwise unchanged.

    A later page (a PDF's) that starts with a title line of its own gets that line instead,
    for all of its sections: a report's second chapter is not under its first chapter's
    heading. Table rows are never a title.
    """
    if not sections or sections[0].verbatim or sections[0].table:
        return sections
    if any(s.title_path for s in sections):
        return sections
    first, title = _split_title(sections[0])
    if title is None:
        return sections
    carried = [first]
    page, page_title = first.page, title
    for section in sections[1:]:
        if section.page is not None and section.page != page:
            page = section.page
            heading = None
            if not section.table:
                section, heading = _split_title(section)
            page_title = heading or title
        carried.append(replace(section, title_path=page_title))
    return carried


def _split_title(section: Section) -> tuple[Section, str | None]:
    """The section without its first line, and that line, when it looks like a title."""
    line, newline, rest = section.text.strip().partition("\n")
    title = " ".join(line.split())
    if not newline or not rest.strip() or not looks_like_title(title):
        return section, None
    return replace(section, text=rest, title_path=title), title


def looks_like_title(line: str) -> bool:
    """Short, and not the beginning of a sentence that goes on."""
    if not line or display_width(line) > MAX_TITLE_WIDTH or line.endswith(SENTENCE_ENDINGS):
        return False
    if line.endswith(".") and len(line.split()) > MAX_TITLE_WORDS_WITH_PERIOD:
        return False
    return any(char.isalpha() for char in line)
