"""The knowledge bases under one root folder: create, open, delete, describe, list.

Each knowledge base is a folder `<root>/<name>/` holding one store (store.py). Operations
on one knowledge base take its lock (locks.py): reads run side by side with a write, writes
take turns, a rebuild refuses other writes (409) and a delete cancels the running write;
closing or swapping a store waits for the reads in flight. A rebuild is built aside and
swapped in (rebuild.py); `check` recovers what a crash left.

Filling a store is not the registry's job (rag/ingestion/ does it): a rebuild and the
recovery of an earlier version's rebuild folder are given the function that adds files.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rag.errors import KnowledgeBaseBusyError, KnowledgeBaseExistsError, KnowledgeBaseNotFoundError
from rag.kb.locks import KbLocks, Operation
from rag.kb.names import validate_kb_name
from rag.kb.rebuild import (
    Findings,
    RebuildFolder,
    leftover_names,
    legacy_folder,
    move_to_trash,
    recovery_folder,
    rescue,
    trash_folders,
)
from rag.kb.store import (
    DB_NAME,
    INDEX_PATH,
    CheckReport,
    EmbeddingIdentity,
    KnowledgeBaseStore,
    originals,
    read_info,
    sha256_of,
)
from rag.lexical import Tokenizer
from rag.lexical.index import DEFAULT_K1
from rag.vectorstores import (
    IndexPolicy,
    VectorIndex,
    VectorStores,
    as_vector_stores,
    store_of,
)
from rag.vectorstores.backends import COLLECTION_KEY

T = TypeVar("T")
MILVUS_REPORT = "(milvus)"
"""The `CheckReport.kb` of what the start-up check dropped from the Milvus database."""
Stop = Callable[[], None]
"""Raises when the operation was cancelled (a delete of its knowledge base); called between
batches."""
Files = Sequence[tuple[str, Path]]
"""(name, path) of files to add."""
AddFiles = Callable[[KnowledgeBaseStore, Files, Stop], object]
"""Adds files to a store (rag/ingestion/: `FileIngestor.add`)."""
BuildStore = Callable[[KnowledgeBaseStore, Files, Stop], T]
"""Fills a rebuild's new store with the originals; raises to leave the live one as it is."""


@dataclass(frozen=True)
class KnowledgeBaseSummary:
    name: str
    docs: int
    chunks: int
    description: str
    embedding_model: str


@dataclass(frozen=True)
class WriteTurn:
    """A write turn on one knowledge base: its store, and how to notice a cancel."""

    store: KnowledgeBaseStore
    stop: Stop


class KnowledgeBaseRegistry:
    """The knowledge bases under `root`, their open stores and their locks."""

    def __init__(
        self,
        root: Path,
        embedding: EmbeddingIdentity,
        make_index: VectorStores | IndexPolicy | Callable[[int], VectorIndex],
        tokenizer: Tokenizer | None = None,
        bm25_k1: float = DEFAULT_K1,
    ) -> None:
        """`make_index`: where and how each knowledge base keeps its dense index (see
        `KnowledgeBaseStore`); one `VectorStores` (one Milvus client) for all of them.
        `bm25_k1`: BM25_K1, for every store opened."""
        self.root = root
        self.embedding = embedding
        """The embedding model's identity: a store built with another cannot be searched."""
        self.make_index = as_vector_stores(make_index)
        self.tokenizer = tokenizer or Tokenizer()
        """One tokenizer (and jieba dictionary, ~70 MB) shared by every open store."""
        self.bm25_k1 = bm25_k1
        self._stores: dict[str, KnowledgeBaseStore] = {}
        # guards which KB folders exist and the open stores (create, delete, swap, open)
        self._lock = threading.RLock()
        self._locks = KbLocks()
        root.mkdir(parents=True, exist_ok=True)

    # ---- knowledge bases ------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(
            p.name
            for p in self.root.iterdir()
            if not p.name.startswith(".") and (p / DB_NAME).is_file()
        )

    def summaries(self) -> list[KnowledgeBaseSummary]:
        summaries = []
        for name in self.names():
            with contextlib.suppress(KnowledgeBaseNotFoundError):  # deleted meanwhile
                summaries.append(self.describe(name))
        return summaries

    def describe(self, name: str) -> KnowledgeBaseSummary:
        with self.reading(name) as store:
            info = store.info()
            return KnowledgeBaseSummary(
                name=store.name,
                docs=len(store.files()),
                chunks=store.chunk_count(),
                description=info.get("description", ""),
                embedding_model=info.get("embedding_model", ""),
            )

    def exists(self, name: str) -> bool:
        return (self.root / validate_kb_name(name) / DB_NAME).is_file()

    def create(self, name: str, description: str = "") -> KnowledgeBaseSummary:
        name = validate_kb_name(name)
        with self._lock:
            if self.exists(name):
                raise KnowledgeBaseExistsError(f"knowledge base {name!r} already exists")
            self._stores[name] = KnowledgeBaseStore.create(
                self.root / name,
                self.embedding,
                self.make_index,
                description,
                self.tokenizer,
                bm25_k1=self.bm25_k1,
            )
        return self.describe(name)

    def delete(self, name: str) -> None:
        """Delete a knowledge base. A running rebuild or upload of it is cancelled (it stops
        at its next batch and gets 404); searches in flight finish first."""
        name = validate_kb_name(name)
        with (
            self._locks.writing(name, "delete") as operation,
            operation.exclusive(),
            self._lock,
        ):
            if not self.exists(name):
                raise KnowledgeBaseNotFoundError(f"no knowledge base {name!r}")
            self._close_store(name)
            info = read_info(self.root / name)
            trash = move_to_trash(self.root, self.root / name)
        shutil.rmtree(trash)
        # after the folder: a crash in between leaves a collection no KB names (garbage)
        self.make_index.drop(info, trash / name / INDEX_PATH)

    def _drop_index_of(self, folder: Path) -> None:
        """Drop the Milvus collection of KB folder `folder`, about to be removed."""
        if (folder / DB_NAME).is_file():
            self.make_index.drop(read_info(folder), folder / INDEX_PATH)

    def open(self, name: str) -> KnowledgeBaseStore:
        """The open store of knowledge base `name` (opened on first use)."""
        name = validate_kb_name(name)
        with self._lock:
            if name not in self._stores:
                if not self.exists(name):
                    raise KnowledgeBaseNotFoundError(
                        f"no knowledge base {name!r}; create it first, or pick an existing one"
                    )
                self._stores[name] = KnowledgeBaseStore(
                    self.root / name,
                    self.embedding,
                    self.make_index,
                    self.tokenizer,
                    bm25_k1=self.bm25_k1,
                )
            return self._stores[name]

    def _close_store(self, name: str) -> None:
        """Close `name`'s store, if open (the caller holds it exclusively and `_lock`)."""
        store = self._stores.pop(name, None)
        if store is not None:
            store.close()

    def close(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
            self.make_index.close()

    def migrate(self, name: str, vs_type: str) -> bool:
        """Move knowledge base `name`'s dense index to vector store `vs_type` ("faiss",
        "milvus") from the vectors in its SQLite, nothing embedded again; False when it is
        there already. Searches and writes wait for it."""
        name = validate_kb_name(name)
        with self._locks.writing(name) as operation, operation.exclusive():
            return self.open(name).migrate(vs_type)

    # ---- turns ----------------------------------------------------------------------

    @contextmanager
    def reading(self, name: str) -> Iterator[KnowledgeBaseStore]:
        """The open store of `name`, not closed or swapped before the block ends."""
        name = validate_kb_name(name)
        with self._locks.reading(name):
            yield self.open(name)

    @contextmanager
    def writing(self, name: str) -> Iterator[WriteTurn]:
        """The write turn on `name` (409 while it is being rebuilt; 404 once it is deleted)."""
        name = validate_kb_name(name)
        with self._locks.writing(name) as operation:
            yield WriteTurn(self.open(name), operation.stop_if_cancelled)

    # ---- rebuild --------------------------------------------------------------------

    def rebuild(self, name: str, build: BuildStore[T]) -> T:
        """Build knowledge base `name` anew from its originals, aside, then swap it in.

        `build` fills the new store (searches keep using the live one meanwhile) and raises
        to leave the live one as it is; a crash at any point loses nothing (rebuild.py).
        Meanwhile a second rebuild, an upload or a document removal gets 409; a delete
        cancels the rebuild (404 here) and leaves nothing of it.
        """
        name = validate_kb_name(name)
        with self._locks.writing(name, "rebuild") as operation:
            if not self.exists(name):
                raise KnowledgeBaseNotFoundError(f"no knowledge base {name!r}")
            folder = RebuildFolder(self.root, name)
            if not folder.begin():
                raise KnowledgeBaseBusyError(
                    f"an earlier rebuild of {name!r} did not finish ({folder.path} is still "
                    f"there, or another process is rebuilding it): restart the app or run "
                    f"`rag kb check {name}` to recover it, then rebuild again"
                )
            try:
                result = self._build_aside(name, folder, build, operation.stop_if_cancelled)
            except BaseException:
                with contextlib.suppress(Exception):  # else dropped as garbage at start-up
                    self._drop_index_of(folder.new)
                with contextlib.suppress(OSError):
                    folder.remove()
                raise
            with operation.exclusive(), self._lock:
                self._close_store(name)
                folder.swap()
            self._drop_index_of(folder.old)
            folder.remove()
            return result

    def _build_aside(self, name: str, folder: RebuildFolder, build: BuildStore[T], stop: Stop) -> T:
        """Build knowledge base `name` anew in `folder.new` from its originals, and mark it
        complete; raise (leaving the live one as it is) when `build` does."""
        live = self.root / name
        # read, not opened: the live one may have been built with another embedding model
        info = read_info(live)
        store = KnowledgeBaseStore.create(
            folder.new,
            self.embedding,
            self.make_index,
            info.get("description", ""),
            self.tokenizer,
            name,
            store_of(info),
            self.bm25_k1,
        )
        try:
            result = build(store, [(p.name, p) for p in originals(live)], stop)
        finally:
            store.close()
        stop()
        folder.mark_complete()
        return result

    # ---- checks and recovery --------------------------------------------------------

    def check(self, name: str, add_files: AddFiles, repair: bool = True) -> CheckReport:
        """Consistency check of one knowledge base (see `KnowledgeBaseStore.check`), after
        finishing or removing what an interrupted rebuild left of it (rebuild.py); an
        earlier version's rebuild folder gets its originals added back by `add_files`.
        409 while it is being rebuilt."""
        name = validate_kb_name(name)
        findings = Findings(repair)
        with self._locks.writing(name) as operation:
            folder = RebuildFolder(self.root, name)
            if folder.path.is_dir():  # recovering may swap the knowledge base's folder
                with operation.exclusive(), self._lock:
                    self._close_store(name)
                    folder.recover(findings)
            legacy = legacy_folder(self.root, name)
            if not self.exists(name):
                if legacy.is_dir():
                    self._rescue_legacy(name, legacy, findings)
                if not findings:
                    raise KnowledgeBaseNotFoundError(f"no knowledge base {name!r}")
                return CheckReport(name, findings.repaired, findings.unresolved)
            report = self.open(name).check(repair)
            if legacy.is_dir():
                self._recover_legacy(self.open(name), legacy, findings, operation, add_files)
        return CheckReport(
            name, findings.repaired + report.repaired, findings.unresolved + report.unresolved
        )

    def check_all(self, add_files: AddFiles, repair: bool = True) -> list[CheckReport]:
        """Check every knowledge base, and recover what crashes left beside them."""
        reports = [self._finish_delete(trash, repair) for trash in trash_folders(self.root)]
        names = sorted(set(self.names()) | leftover_names(self.root))
        reports += [self.check(name, add_files, repair) for name in names]
        return reports + self._collect_garbage(repair)

    def _collect_garbage(self, repair: bool) -> list[CheckReport]:
        """Drop the Milvus collections no knowledge base folder names any more (a crash
        between removing a folder and dropping its collection)."""
        if not repair:
            return []
        dropped = self.make_index.collect_garbage(self._collections_named)
        lines = [
            f"Milvus collection {name} belonged to no knowledge base: dropped" for name in dropped
        ]
        return [CheckReport(MILVUS_REPORT, lines, [])] if lines else []

    def _collections_named(self) -> set[str]:
        """The Milvus collections named by a knowledge base folder under the root (the
        live ones, and those of rebuilds and deletes under way)."""
        dbs = [*self.root.glob(f"*/{DB_NAME}"), *self.root.glob(f"*/*/{DB_NAME}")]
        named = set()
        for db in dbs:
            with contextlib.suppress(sqlite3.Error):  # e.g. an original under .recovered/
                named.add(read_info(db.parent).get(COLLECTION_KEY, ""))
        return named

    def _finish_delete(self, trash: Path, repair: bool) -> CheckReport:
        findings = Findings(repair)
        kb = next((p.name for p in trash.iterdir()), trash.name)
        findings.found(
            f"a delete was cut short ({trash.name}/): finished", lambda: shutil.rmtree(trash)
        )
        return CheckReport(kb, findings.repaired, findings.unresolved)

    def _recover_legacy(
        self,
        store: KnowledgeBaseStore,
        legacy: Path,
        findings: Findings,
        operation: Operation,
        add_files: AddFiles,
    ) -> None:
        """`.rebuild-<name>/`, the originals an earlier version's rebuild moved aside.

        When every document of the knowledge base is one of them (same content), the rebuild
        was cut short while adding them back: the missing ones are added. Otherwise the
        knowledge base was deleted and made anew since, and they are not its documents: they
        are moved to `.recovered/` rather than brought back or lost.
        """
        originals = {p.name: p for p in legacy.iterdir() if p.is_file()}
        files = {f.name: f.sha256 for f in store.files()}
        if not files or any(
            name not in originals or sha256_of(originals[name]) != sha256
            for name, sha256 in files.items()
        ):
            self._rescue_legacy(store.name, legacy, findings)
            return
        missing = [(name, path) for name, path in sorted(originals.items()) if name not in files]

        def add_back() -> str:
            add_files(store, missing, operation.stop_if_cancelled)
            stored = {f.name for f in store.files()}
            added = sum(name in stored for name, _ in missing)
            text = f"{legacy.name}/ (an earlier version's rebuild, cut short): {added} added back"
            left = [p for p in legacy.iterdir() if p.name not in stored]
            if left:
                target = recovery_folder(self.root, store.name)
                rescue(left, target)
                text += f"; {len(left)} that could not be added moved to {target}"
            shutil.rmtree(legacy)
            return text

        findings.found(
            f"{legacy.name}/ (an earlier version's rebuild, cut short): {len(missing)} originals "
            "to add back",
            add_back,
        )

    def _rescue_legacy(self, name: str, legacy: Path, findings: Findings) -> None:
        """Move an earlier version's rebuild folder whose knowledge base is gone, or has other
        documents now, to `.recovered/<name>/` (logged at start-up)."""
        target = recovery_folder(self.root, name)
        count = sum(1 for _ in legacy.iterdir())

        def move() -> None:
            rescue(list(legacy.iterdir()), target)
            legacy.rmdir()

        findings.found(
            f"{legacy.name}/ (an earlier version's rebuild, cut short) holds {count} originals "
            f"that are not in the knowledge base now: moved to {target}; add back the ones you "
            "want",
            move,
        )


__all__ = ["KnowledgeBaseRegistry", "KnowledgeBaseSummary", "WriteTurn"]
