"""What the knowledge-base dashboard shows of one knowledge base, read from its store."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rag.kb.store import KnowledgeBaseStore

NO_EXTENSION = "(none)"


@dataclass(frozen=True)
class KbStats:
    """One knowledge base at a glance."""

    name: str
    docs: int
    chunks: int
    bytes_on_disk: int
    """Everything under its folder: originals, SQLite (text, vectors, BM25), dense index."""
    embedding_model: str
    last_update: float | None
    """When a document was last added or changed (seconds since the epoch); None: empty."""
    chunks_by_type: tuple[tuple[str, int], ...]
    """(file extension, chunks), most chunks first."""


def kb_stats(store: KnowledgeBaseStore) -> KbStats:
    files = store.files()
    by_type: Counter[str] = Counter()
    for record in files:
        by_type[Path(record.name).suffix.lower() or NO_EXTENSION] += record.chunks
    return KbStats(
        name=store.name,
        docs=len(files),
        chunks=store.chunk_count(),
        bytes_on_disk=folder_size(store.path),
        embedding_model=store.info().get("embedding_model", ""),
        last_update=max((f.updated_at for f in files), default=None),
        chunks_by_type=tuple(sorted(by_type.items(), key=lambda item: (-item[1], item[0]))),
    )


def folder_size(path: Path) -> int:
    """Bytes of the files under `path` (one removed meanwhile is not counted)."""
    total = 0
    for child in path.rglob("*"):
        try:
            if child.is_file():
                total += child.stat().st_size
        except OSError:
            continue
    return total


__all__ = ["KbStats", "folder_size", "kb_stats"]
