"""Reading order of OCR'd text boxes: lines top to bottom, boxes left to right in a line.

The recogniser returns one box per run of text it found, in an order that follows its
detector, not the page: a line printed in two runs (a label and its value, words the
detector split at a wide gap) can come back apart, and a slightly skewed scan interleaves
neighbouring lines. Boxes are grouped into lines by their vertical overlap (a box joins the
line it overlaps by at least half of the lower of the two heights), lines are ordered by
their middle, boxes in a line by their left edge. Runs are joined without a space when a
CJK character meets the join (Chinese has no spaces between words) and with one between
Latin words; a vertical gap larger than a line's height starts a new paragraph (a blank
line), which the loaders keep as a paragraph break.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median

SAME_LINE_OVERLAP = 0.5
"""Share of the lower box height two boxes must overlap vertically to be on one line."""
PARAGRAPH_GAP = 1.0
"""A vertical gap between lines larger than this many median line heights breaks a paragraph."""


@dataclass(frozen=True)
class TextBox:
    """One recognised run of text and its axis-aligned bounds in pixels (y grows down)."""

    left: float
    top: float
    right: float
    bottom: float
    text: str

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 1.0)

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


def boxes_from_rapidocr(result: Iterable[Sequence[object]] | None) -> list[TextBox]:
    """RapidOCR's `[points, text, score]` rows as boxes (the points' bounding rectangle)."""
    boxes = []
    for points, text, _score in result or ():
        xs = [float(point[0]) for point in points]  # type: ignore[attr-defined]
        ys = [float(point[1]) for point in points]  # type: ignore[attr-defined]
        if str(text).strip():
            boxes.append(TextBox(min(xs), min(ys), max(xs), max(ys), str(text).strip()))
    return boxes


def group_lines(boxes: Iterable[TextBox]) -> list[list[TextBox]]:
    """Boxes grouped into printed lines, top to bottom, each left to right."""
    lines: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: (b.middle, b.left)):
        line = _line_for(box, lines[-3:])  # a box belongs to one of the last few lines
        if line is None:
            lines.append([box])
        else:
            line.append(box)
    lines.sort(key=lambda line: median(b.middle for b in line))
    return [sorted(line, key=lambda b: b.left) for line in lines]


def _line_for(box: TextBox, candidates: list[list[TextBox]]) -> list[TextBox] | None:
    best, best_overlap = None, 0.0
    for line in candidates:
        top = median(b.top for b in line)
        bottom = median(b.bottom for b in line)
        overlap = min(bottom, box.bottom) - max(top, box.top)
        share = overlap / min(max(bottom - top, 1.0), box.height)
        if share >= SAME_LINE_OVERLAP and share > best_overlap:
            best, best_overlap = line, share
    return best


def join_runs(runs: Iterable[str]) -> str:
    """Runs of one line joined: nothing where a CJK character meets the join, else a space."""
    text = ""
    for run in runs:
        if text and not (is_cjk(text[-1]) or is_cjk(run[0])):
            text += " "
        text += run
    return text


def page_text(boxes: Iterable[TextBox]) -> str:
    """The page's text in reading order: one line per printed line, a blank line between
    paragraphs (module doc)."""
    lines = group_lines(boxes)
    if not lines:
        return ""
    height = median(b.height for line in lines for b in line)
    parts = [join_runs(b.text for b in lines[0])]
    for previous, line in itertools.pairwise(lines):
        gap = min(b.top for b in line) - max(b.bottom for b in previous)
        parts.append("\n\n" if gap > PARAGRAPH_GAP * height else "\n")
        parts.append(join_runs(b.text for b in line))
    return "".join(parts)


def is_cjk(char: str) -> bool:
    """A wide character: CJK ideograph, kana, hangul, or CJK/full-width punctuation."""
    return unicodedata.east_asian_width(char) in "WF"
