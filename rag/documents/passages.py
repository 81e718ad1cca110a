"""Where a cited passage is in a text (a PDF page's characters, a loaded document).

A chunk's text is not always a verbatim slice of what a viewer shows: the PDF loader re-joins
printed lines that pdfium's page text keeps (with "\\r\\n"), the chunker puts the heading path
in front of a chunk (CHUNK_TITLE_PREFIX), and two PDF libraries may give a ligature or a
full-width letter differently. So both texts are compared normalized: whitespace dropped,
NFKC, case-folded, each normalized character remembering the index it came from.

An exact match of the normalized passage is the common case. Otherwise its anchors (pieces
of `ANCHOR` characters) tell where in the text it most likely starts, and difflib's matching
blocks within a window there tell how much of it is there: the span runs from the first
block to the last when together they cover `MIN_COVERAGE` of the passage.
"""

from __future__ import annotations

import statistics
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

ANCHOR = 8
"""Characters of a passage looked up exactly to find where it is."""
ANCHORS = 12
"""Most anchors looked up per passage."""
MIN_BLOCK = 4
"""Shorter matching blocks are chance (a common word), not the passage."""
MIN_COVERAGE = 0.4
"""Share of the passage that must match: a heading path in front of a chunk is not on the
page next to it, and the rest still is."""


@dataclass(frozen=True)
class Normalized:
    """A text without whitespace, NFKC-normalized and case-folded; `origin[i]` is the index
    in the original text of normalized character `i`."""

    text: str
    origin: list[int]


def normalize(text: str) -> Normalized:
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char.isspace():
            continue
        for piece in unicodedata.normalize("NFKC", char).casefold():
            if not piece.isspace():
                chars.append(piece)
                origin.append(index)
    return Normalized("".join(chars), origin)


def locate(passage: str, text: str) -> tuple[int, int] | None:
    """The span `(start, end)` of `text` that holds `passage`, or None when it is not there."""
    needle, hay = normalize(passage), normalize(text)
    if not needle.text or not hay.text:
        return None
    found = hay.text.find(needle.text)
    if found >= 0:
        return _span(hay, found, found + len(needle.text))
    window = _window(needle.text, hay.text)
    if window is None:
        return None
    start, end = window
    matcher = SequenceMatcher(None, hay.text[start:end], needle.text, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size >= MIN_BLOCK]
    if not blocks or sum(b.size for b in blocks) < MIN_COVERAGE * len(needle.text):
        return None
    return _span(hay, start + blocks[0].a, start + blocks[-1].a + blocks[-1].size)


def _span(hay: Normalized, start: int, end: int) -> tuple[int, int]:
    return hay.origin[start], hay.origin[end - 1] + 1


def _window(needle: str, hay: str) -> tuple[int, int] | None:
    """Where in `hay` the passage most likely is, by where its anchors are found, widened by
    half its length on each side (text missing or added in between shifts it)."""
    if len(needle) <= ANCHOR:
        return None
    step = max(1, (len(needle) - ANCHOR) // (ANCHORS - 1))
    starts = [
        position - offset
        for offset in range(0, len(needle) - ANCHOR + 1, step)
        if (position := hay.find(needle[offset : offset + ANCHOR])) >= 0
    ]
    if not starts:
        return None
    guess = int(statistics.median(starts))
    margin = len(needle) // 2 + ANCHOR
    return max(0, guess - margin), min(len(hay), guess + len(needle) + margin)
