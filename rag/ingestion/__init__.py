"""Ingestion: files -> chunks -> vectors (`IngestionPipeline`, usable without a knowledge
base), and adding files to a knowledge base's store in batches (`FileIngestor`).

    chunking.py   documents -> chunks (heading-only pieces folded, heading path carried)
    pipeline.py   load -> split -> embed in batches; `IngestOptions` (batch sizes)
    files.py      add files to a store: per-file results, unchanged files skipped by hash
    timings.py    seconds per stage (`IngestTimings`), read by scripts/bench_ingest.py
    progress.py   each file's stage and counts as an add goes (`IngestEvent`), for a
                  progress view
"""

from rag.ingestion.chunking import Chunker, ChunkingOptions, fold_heading_pieces
from rag.ingestion.files import FileIngestor, FileResult, FileStatus, check_file_type
from rag.ingestion.pipeline import ChunkedFile, IngestionPipeline, IngestOptions
from rag.ingestion.progress import IngestEvent
from rag.ingestion.timings import IngestTimings

__all__ = [
    "ChunkedFile",
    "Chunker",
    "ChunkingOptions",
    "FileIngestor",
    "FileResult",
    "FileStatus",
    "IngestEvent",
    "IngestOptions",
    "IngestTimings",
    "IngestionPipeline",
    "check_file_type",
    "fold_heading_pieces",
]
