"""Where an ingest spends its time, stage by stage (`scripts/bench_ingest.py` reads it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

Stage = Literal["hash", "load", "split", "embed", "store", "index_save"]
"""hash: the content hash that finds unchanged files; load: file -> documents; split:
documents -> chunks; embed: chunks -> vectors; store: a file's original, metadata, vectors
and BM25 postings written (`KnowledgeBaseStore.put_file`); index_save: the dense index saved
once per batch."""


@dataclass
class IngestTimings:
    """Seconds spent per stage, summed over every file since it was made (or `clear`ed)."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, stage: Stage) -> Iterator[None]:
        """Add the time the block takes to `stage` (also when it raises)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started

    def rounded(self, digits: int = 2) -> dict[str, float]:
        return {stage: round(value, digits) for stage, value in self.seconds.items()}

    def clear(self) -> None:
        self.seconds.clear()


__all__ = ["IngestTimings", "Stage"]
