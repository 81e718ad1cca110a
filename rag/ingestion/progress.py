"""Where each file of an add is: what `FileIngestor.add` reports as it goes, for a progress
view (the UI polls a job that collects them: rag/services/jobs.py).

    queued     every file, first, with its size: the whole of the work is known at once
    parsing    loading and splitting it
    embedding  its chunks being embedded: `done` of `total` (reported slice by slice)
    indexing   storing it (metadata, original, dense and BM25 index)
    done / unchanged / error   its result (`FileResult`)
"""

from __future__ import annotations

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
    """embedding: chunks embedded so far; done: the file's chunks."""
    total: int = 0
    """embedding: the file's chunks."""
    bytes: int = 0
    """queued: the file's size."""
    error: str = ""
    error_type: type | None = None
    """error: the message and the `ZhikuError` class."""


OnEvent = Callable[[IngestEvent], None]


__all__ = ["FINAL_STAGES", "IngestEvent", "OnEvent", "Stage"]
