"""Knowledge bases on disk.

    registry.py   the knowledge bases under one root: create, open, delete, describe, list;
                  per-KB locks (locks.py); rebuilds built aside and swapped in, and what a
                  crash left recovered (rebuild.py)
    store.py      one knowledge base: SQLite metadata (the source of truth), the originals,
                  the dense index (rag/vectorstores/) and the BM25 index (rag/lexical/)
    names.py      safe names for knowledge bases and stored files
    quality_runs.py  every quality run of each knowledge base, beside it (`.quality/`)

Nothing outside this package opens a knowledge base's files.
"""
