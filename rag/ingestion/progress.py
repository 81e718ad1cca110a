"""Where each file of an add is: what `FileIngestor.add` reports as it goes, for a progress
view (the UI polls a job that collects them: rag/services/jobs.py).

    queued     every file, first, with its size: the whole of the work is known at once
    parsing    loading and splitting it; a scan read by OCR sends one more "parsing" event
               per page read: its `note` the status line ("OCR page 3/10", rag/ocr), `done`
               and `total` the pages read and to read
    embedding  its chunks being embedded: `done` of `total` (reported slice by slice)
    indexing   storing it (metadata, original, dense and BM25 index)
    done / unchanged / error   its result (`FileResult`)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Stage = Literal["queued", "parsing", "embedding", "indexing", "done", "unchanged", "error"]
FINAL_STAGES: frozenset[str] = frozenset({"done", "unchanged", "error"})


@dataclass(frozen=True)
class IngestEvent:
    """File `position` (its place in the add) named `name` reached `stage`."""

    position: int
    name: str
    stage: Stage
    done: int = 0
    """embedding: chunks embedded so far; done: the file's chunks; parsing: pages read by
    OCR so far."""
    total: int = 0
    """embedding: the file's chunks; parsing: the pages OCR reads (0: no OCR)."""
    bytes: int = 0
    """queued: the file's size."""
    error: str = ""
    error_type: type | None = None
    """error: the message and the `ZhikuError` class."""
    note: str = ""
    """parsing: a status line of the file being read ("OCR page 3/10"), "" at first."""


OnEvent = Callable[[IngestEvent], None]

_OCR_PAGE = re.compile(r"OCR page (\d+)/(\d+)")
"""The line rag/ocr/pool.py sends as each page is read."""


def reading_event(position: int, name: str, line: str) -> IngestEvent:
    """File `position`'s "parsing" event for a status line of its loader: pages read and to
    read when it is OCR's page line, the line itself as its note either way."""
    pages = _OCR_PAGE.fullmatch(line)
    done, total = (int(pages[1]), int(pages[2])) if pages else (0, 0)
    return IngestEvent(position, name, "parsing", done, total, note=line)


__all__ = ["FINAL_STAGES", "IngestEvent", "OnEvent", "Stage", "reading_event"]
