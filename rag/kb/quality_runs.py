"""The quality runs of each knowledge base: every evaluation with its questions file, kept
so that a user sees whether a change (a rebuild, a setting) helped.

`<kb-root>/.quality/<name>.jsonl`, one JSON object per run, appended. Beside the knowledge
base's folder, not in it: a rebuild swaps the folder and the runs from before it are what
it is compared with. A line cut short by a crash is skipped when read.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from rag.kb.names import validate_kb_name

QUALITY_DIR = ".quality"


class QualityRuns:
    """The runs of every knowledge base under one root (module doc)."""

    def __init__(self, root: Path) -> None:
        self.folder = root / QUALITY_DIR
        self._lock = threading.Lock()

    def _path(self, kb: str) -> Path:
        return self.folder / f"{validate_kb_name(kb)}.jsonl"

    def record(self, kb: str, questions_file: str, metrics: dict[str, Any]) -> dict[str, Any]:
        """Keep one run of `kb` with `questions_file` (its `metrics`: `EvalReport.as_dict`);
        the run as stored."""
        run = {"at": time.time(), "questions_file": questions_file, **metrics}
        line = json.dumps(run, ensure_ascii=False) + "\n"
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self._path(kb), "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        return run

    def runs(self, kb: str) -> list[dict[str, Any]]:
        """`kb`'s runs, oldest first."""
        path = self._path(kb)
        if not path.is_file():
            return []
        runs = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                run = json.loads(line)
            except json.JSONDecodeError:
                continue  # cut short by a crash
            if isinstance(run, dict):
                runs.append(run)
        return sorted(runs, key=lambda run: float(run.get("at", 0)))

    def drop(self, kb: str) -> None:
        """Forget `kb`'s runs (it is deleted: a new one of that name starts afresh)."""
        self._path(kb).unlink(missing_ok=True)


__all__ = ["QUALITY_DIR", "QualityRuns"]
