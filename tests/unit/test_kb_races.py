"""Operations on one knowledge base at the same time (issue 23, part 3), with fake models.

A gated fake embedding holds one call until the test lets it go, so each race is set up in
a known order; events, not sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from pydantic import PrivateAttr

import rag.kb.locks as locks
from rag.errors import (
    KnowledgeBaseBusyError,
    KnowledgeBaseNotFoundError,
    ModelUnavailableError,
    RebuildFailedError,
)
from rag.factory import build_kb_service
from rag.ingestion import IngestOptions
from rag.services import KnowledgeBaseService
from rag.settings import load_settings


class GatedEmbeddings(DeterministicFakeEmbedding):
    """Fake vectors. Once `hold()` is called, the next embedding call (documents or query)
    sets `entered` and waits for `release()`. Texts containing POISON fail when `poisoned`."""

    poisoned: bool = False
    _armed: bool = PrivateAttr(default=False)
    _entered: threading.Event = PrivateAttr(default_factory=threading.Event)
    _released: threading.Event = PrivateAttr(default_factory=threading.Event)

    def hold(self) -> threading.Event:
        self._armed, self._entered, self._released = True, threading.Event(), threading.Event()
        return self._entered

    def release(self) -> None:
        self._released.set()

    def _gate(self) -> None:
        if self._armed:
            self._armed = False
            self._entered.set()
            self._released.wait(60)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self._gate()
        if self.poisoned and any("POISON" in text for text in texts):
            raise ModelUnavailableError("the embedder choked on POISON")
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self._gate()
        return super().embed_query(text)


class Background(threading.Thread):
    """Run `call(*args)` in a thread; keep its result or exception."""

    def __init__(self, call: Callable[..., Any], *args: Any) -> None:
        super().__init__(daemon=True)
        self.call, self.args = call, args
        self.result: Any = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.result = self.call(*self.args)
        except BaseException as exc:
            self.error = exc

    def outcome(self) -> Any:
        self.join(60)
        assert not self.is_alive(), "still running"
        return self.result


def make_service(tmp: Path) -> tuple[KnowledgeBaseService, GatedEmbeddings]:
    embeddings = GatedEmbeddings(size=16)
    # many batches: many chances to cancel
    ingest = IngestOptions(batch_files=2)
    service = build_kb_service(load_settings(env={}), tmp / "kbs", embeddings, ingest=ingest)
    return service, embeddings


def write_docs(tmp: Path, count: int, prefix: str = "doc") -> list[tuple[str, Path]]:
    folder = tmp / "in"
    folder.mkdir(exist_ok=True)
    files = []
    for i in range(count):
        path = folder / f"{prefix}_{i:03d}.txt"
        path.write_text(f"第{i}号文件讲的是编号{i}的{prefix}内容。", encoding="utf-8")
        files.append((path.name, path))
    return files


def fill(service: KnowledgeBaseService, tmp: Path, count: int) -> list[str]:
    service.create_kb("t1")
    files = write_docs(tmp, count)
    assert {r.status for r in service.add_files("t1", files)} == {"ok"}
    return [name for name, _ in files]


def observe(monkeypatch: pytest.MonkeyPatch, cls: type, method: str) -> threading.Event:
    """An event set when `cls.method` is called (e.g. a delete cancelling the running write)."""
    called = threading.Event()
    original = getattr(cls, method)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        called.set()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, wrapper)
    return called


def dot_folders(service: KnowledgeBaseService) -> list[str]:
    return sorted(p.name for p in service.root.iterdir() if p.name.startswith("."))


def test_delete_during_rebuild_cancels_it_and_a_later_rebuild_has_only_new_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    service, embeddings = make_service(tmp_path)
    fill(service, tmp_path, 20)
    cancelled = observe(monkeypatch, locks.Operation, "cancel")
    entered = embeddings.hold()
    rebuild = Background(service.rebuild_kb, "t1")
    assert entered.wait(60)
    delete = Background(service.delete_kb, "t1")
    cancelled.wait(10)  # the delete has asked the rebuild to stop
    embeddings.release()
    delete.outcome()
    rebuild.outcome()
    assert delete.error is None
    assert isinstance(rebuild.error, KnowledgeBaseNotFoundError)
    assert "deleted" in str(rebuild.error)
    assert not service.exists("t1")
    assert dot_folders(service) == []  # no staging folder, nothing of the KB

    service.create_kb("t1")
    [(name, path)] = write_docs(tmp_path, 1, prefix="new")
    service.add_files("t1", [(name, path)])
    assert [r.name for r in service.rebuild_kb("t1")] == [name]
    assert [d["name"] for d in service.list_docs("t1")] == [name]
    assert sorted(p.name for p in (service.root / "t1" / "content").iterdir()) == [name]
    assert {hit.source for hit in service.search("t1", "编号3的doc内容", 5)} == {name}


def test_a_second_rebuild_or_a_write_during_a_rebuild_gets_409_and_searches_go_on(
    tmp_path: Path,
):
    service, embeddings = make_service(tmp_path)
    names = fill(service, tmp_path, 6)
    entered = embeddings.hold()
    first = Background(service.rebuild_kb, "t1")
    try:
        assert entered.wait(60)
        with pytest.raises(KnowledgeBaseBusyError, match="already being rebuilt"):
            service.rebuild_kb("t1")
        with pytest.raises(KnowledgeBaseBusyError, match="being rebuilt; try again"):
            service.add_files("t1", write_docs(tmp_path, 1, prefix="late"))
        with pytest.raises(KnowledgeBaseBusyError, match="being rebuilt"):
            service.delete_doc("t1", names[0])
        with pytest.raises(KnowledgeBaseBusyError, match="being rebuilt"):
            service.check("t1")
        # searches keep answering from the knowledge base as it was
        assert service.search("t1", "第4号文件", 1, 0.0)[0].source == names[4]
    finally:
        embeddings.release()
    assert [r.status for r in first.outcome()] == ["ok"] * 6
    assert first.error is None
    assert [d["name"] for d in service.list_docs("t1")] == names
    assert service.search("t1", "第4号文件", 1, 0.0)[0].source == names[4]
    assert dot_folders(service) == []


def test_an_upload_to_a_kb_being_deleted_gets_404_not_a_closed_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    service, embeddings = make_service(tmp_path)
    fill(service, tmp_path, 2)
    cancelled = observe(monkeypatch, locks.Operation, "cancel")
    entered = embeddings.hold()
    running = Background(service.add_files, "t1", write_docs(tmp_path, 8, prefix="up"))
    assert entered.wait(60)
    delete = Background(service.delete_kb, "t1")
    cancelled.wait(10)
    waiting = Background(service.add_files, "t1", write_docs(tmp_path, 1, prefix="late"))
    embeddings.release()
    delete.outcome()
    running.outcome()
    waiting.outcome()
    assert delete.error is None
    assert isinstance(running.error, KnowledgeBaseNotFoundError)  # stopped at its next batch
    assert isinstance(waiting.error, KnowledgeBaseNotFoundError)  # waited for the delete
    assert not service.exists("t1") and dot_folders(service) == []


def test_a_delete_waits_for_searches_in_flight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    service, embeddings = make_service(tmp_path)
    names = fill(service, tmp_path, 3)
    exclusive = observe(monkeypatch, locks.KbLock, "exclusive")
    entered = embeddings.hold()
    search = Background(service.search, "t1", "第1号文件", 1, 0.0)
    assert entered.wait(60)  # the search is running: it has embedded nothing yet
    delete = Background(service.delete_kb, "t1")
    exclusive.wait(10)  # the delete wants the store closed
    embeddings.release()
    assert [hit.source for hit in search.outcome()] == [names[1]]
    assert search.error is None
    delete.outcome()
    assert delete.error is None and not service.exists("t1")


def test_a_rebuild_that_cannot_index_an_original_changes_nothing(tmp_path: Path):
    service, embeddings = make_service(tmp_path)
    names = fill(service, tmp_path, 3)
    poison = tmp_path / "in" / "poison.txt"
    poison.write_text("POISON 这份文件换了模型后读不了。", encoding="utf-8")
    service.add_files("t1", [("poison.txt", poison)])
    before = service.search("t1", "第2号文件", 3, 0.0)
    embeddings.poisoned = True
    with pytest.raises(RebuildFailedError, match=r"poison\.txt.*unchanged"):
        service.rebuild_kb("t1")
    assert [d["name"] for d in service.list_docs("t1")] == [*names, "poison.txt"]
    assert service.search("t1", "第2号文件", 3, 0.0) == before
    assert (service.root / "t1" / "content" / "poison.txt").is_file()
    assert dot_folders(service) == []
