"""Multi-file adds: several files' chunks embedded in one call, the index saved once per
batch, each file still its own result, and a bad file never failing its batch."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from pydantic import Field

from rag.errors import ModelUnavailableError
from rag.factory import build_kb_service
from rag.ingestion import FileResult, IngestOptions
from rag.kb.store import KnowledgeBaseStore
from rag.services import KnowledgeBaseService
from rag.settings import load_settings


class CountingEmbeddings(DeterministicFakeEmbedding):
    """Fake vectors; counts `embed_documents` calls and fails on texts containing POISON."""

    calls: list[int] = Field(default_factory=list)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        if any("POISON" in text for text in texts):
            raise ModelUnavailableError("the embedder choked on POISON")
        return super().embed_documents(texts)


def make_service(tmp: Path, ingest: IngestOptions) -> tuple[KnowledgeBaseService, list[int]]:
    embeddings = CountingEmbeddings(size=16)
    service = build_kb_service(load_settings(env={}), tmp / "kbs", embeddings, ingest=ingest)
    service.create_kb("kb")
    return service, embeddings.calls


def write(tmp: Path, name: str, text: str) -> tuple[str, Path]:
    path = tmp / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return name, path


def text_of(i: int) -> str:
    return f"第{i}份文件：这里写的是编号{i}的内容。"


def count_saves(service: KnowledgeBaseService, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    store = service.store("kb")
    saves: list[int] = []
    original = store.save_index

    def counted() -> None:
        saves.append(store.chunk_count())
        original()

    monkeypatch.setattr(store, "save_index", counted)
    return saves


def test_files_share_embedding_calls_and_index_saves(tmp_path: Path, monkeypatch):
    service, calls = make_service(tmp_path, IngestOptions(batch_files=4, batch_chunks=256))
    saves = count_saves(service, monkeypatch)
    files = [write(tmp_path, f"f{i}.txt", text_of(i)) for i in range(10)]
    progress: list[FileResult] = []
    results = service.add_files("kb", files, on_progress=progress.append)
    assert [(r.name, r.status, r.chunks) for r in results] == [
        (f"f{i}.txt", "ok", 1) for i in range(10)
    ]
    assert calls == [4, 4, 2]  # one embedding call per batch of files
    assert saves == [4, 8, 10]  # the index saved once per batch
    assert sorted(r.name for r in progress) == sorted(r.name for r in results)
    store = service.store("kb")
    assert store.index_matches_metadata() and store.check(repair=False).ok
    again = service.add_files("kb", files)
    assert {r.status for r in again} == {"unchanged"} and calls == [4, 4, 2]


def test_chunk_limit_bounds_a_batch_and_a_big_file_goes_alone(tmp_path: Path):
    service, calls = make_service(tmp_path, IngestOptions(batch_files=100, batch_chunks=3))
    big = "".join(f"第{j}段：" + "很长的内容。" * 30 + "\n\n" for j in range(4))
    files = [write(tmp_path, "a.txt", text_of(1)), write(tmp_path, "big.txt", big)]
    files += [write(tmp_path, f"s{i}.txt", text_of(i)) for i in range(4)]
    results = service.add_files("kb", files)
    assert all(r.status == "ok" for r in results)
    big_chunks = results[1].chunks
    assert big_chunks > 3
    assert calls == [1, big_chunks, 3, 1]


def test_a_bad_file_fails_alone_and_its_batch_is_stored(tmp_path: Path):
    service, calls = make_service(tmp_path, IngestOptions(batch_files=8))
    files = [
        write(tmp_path, "good1.txt", text_of(1)),
        write(tmp_path, "program.exe", "not a document"),
        write(tmp_path, "broken.pdf", "%PDF-1.4 cut short"),
        write(tmp_path, "poison.txt", "POISON 这个文件让嵌入模型出错。"),
        write(tmp_path, "good2.txt", text_of(2)),
    ]
    results = service.add_files("kb", files)
    assert [(r.name, r.status) for r in results] == [
        ("good1.txt", "ok"),
        ("program.exe", "error"),
        ("broken.pdf", "error"),
        ("poison.txt", "error"),
        ("good2.txt", "ok"),
    ]
    assert "POISON" in (results[3].error or "")
    assert results[3].error_type is ModelUnavailableError  # the API answers it with 503
    assert calls[0] == 3  # the batch's call failed, then each file alone
    assert sorted(calls[1:]) == [1, 1, 1]
    assert [d["name"] for d in service.list_docs("kb")] == ["good1.txt", "good2.txt"]
    content = tmp_path / "kbs" / "kb" / "content"
    assert sorted(p.name for p in content.iterdir()) == ["good1.txt", "good2.txt"]
    assert service.store("kb").check(repair=False).ok


def test_same_name_twice_in_one_call_behaves_as_one_by_one(tmp_path: Path):
    service, _ = make_service(tmp_path, IngestOptions(batch_files=8))
    first = write(tmp_path, "a.txt", "甲的第一版。")
    results = service.add_files(
        "kb",
        [
            ("a.txt", first[1]),
            ("a.txt", first[1]),
            write(tmp_path, "b1.txt", "乙的第一版。"),
        ],
    )
    assert [r.status for r in results] == ["ok", "unchanged", "ok"]
    second = write(tmp_path, "b2.txt", "乙的第二版。")
    results = service.add_files("kb", [("b.txt", tmp_path / "in" / "b1.txt"), ("b.txt", second[1])])
    assert [r.status for r in results] == ["ok", "ok"]
    assert [c.text for c in service.store("kb").chunks_of_file("b.txt")] == ["乙的第二版。"]


def test_a_crash_before_the_batch_save_is_repaired_from_sqlite(tmp_path: Path, monkeypatch):
    service, _ = make_service(tmp_path, IngestOptions(batch_files=8))
    service.add_files("kb", [write(tmp_path, "old.txt", text_of(0))])
    store = service.store("kb")

    def crash() -> None:
        raise KeyboardInterrupt  # the process dies after the files' transactions

    monkeypatch.setattr(store, "save_index", crash)
    files = [write(tmp_path, f"f{i}.txt", text_of(i)) for i in range(1, 4)]
    with pytest.raises(KeyboardInterrupt):
        service.add_files("kb", files)
    store.close()
    monkeypatch.undo()

    registry = service.registry
    reopened = KnowledgeBaseStore(
        tmp_path / "kbs" / "kb", registry.embedding, registry.make_index, registry.tokenizer
    )
    assert reopened.index_matches_metadata()  # the stale index file was rebuilt on open
    assert sorted(f.name for f in reopened.files()) == ["f1.txt", "f2.txt", "f3.txt", "old.txt"]
    assert reopened.check(repair=False).ok
    reopened.close()
