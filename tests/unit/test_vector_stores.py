"""The knowledge-base store and registry over both vector stores: FAISS and Milvus Lite.

The same behaviour is asked of both (add, update, remove, restart, repair after a crash,
rebuild, check); then what only Milvus has: one collection per KB folder, dropped with it,
`rag kb migrate` both ways without re-embedding, and clear errors for a wrong URI or a
Milvus Lite file another process holds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from rag.errors import ConfigError
from rag.factory import build_kb_service
from rag.ingestion import IngestOptions
from rag.kb.store import EmbeddingIdentity, KnowledgeBaseStore, NewChunk
from rag.services import KnowledgeBaseService
from rag.settings import load_settings
from rag.vectorstores import FaissFlatIndex, MilvusConnection, MilvusIndex, VectorStores

pytest.importorskip("pymilvus")

DIM = 8
IDENTITY = EmbeddingIdentity("fake", DIM)
BACKENDS = ("faiss", "milvus")
ROOT = Path(__file__).resolve().parents[2]


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[VectorStores]:
    """Both vector stores; which one a test uses is the `vs_type` it creates a KB with."""
    vector_stores = VectorStores(FaissFlatIndex, "faiss", MilvusConnection(str(tmp_path / "m.db")))
    yield vector_stores
    vector_stores.close()


def make_store(root: Path, stores: VectorStores, vs_type: str) -> KnowledgeBaseStore:
    return KnowledgeBaseStore.create(root / "kb", IDENTITY, stores, vs_type=vs_type)


def put(store: KnowledgeBaseStore, tmp: Path, name: str, texts: list[str], seed: int) -> None:
    original = tmp / f"src-{name}"
    original.write_text("\n".join(texts), encoding="utf-8")
    chunks = [NewChunk(t, i + 1, f"{name} > part", {}) for i, t in enumerate(texts)]
    vectors = np.vstack([unit(seed + i) for i in range(len(texts))])
    store.put_file(name, f"sha-{seed}", original, chunks, vectors)


def ids(hits: list[tuple[int, float]]) -> list[int]:
    return [chunk_id for chunk_id, _ in hits]


def same(found: list[tuple[int, float]], expected: list[tuple[int, float]]) -> bool:
    """The same chunks in the same order, scores equal to float32 precision."""
    scores = [score for _, score in expected]
    return ids(found) == ids(expected) and [s for _, s in found] == pytest.approx(scores, abs=1e-5)


@pytest.mark.parametrize("vs_type", BACKENDS)
def test_add_update_remove_restart(tmp_path: Path, stores: VectorStores, vs_type: str) -> None:
    store = make_store(tmp_path, stores, vs_type)
    assert store.vector_store == vs_type
    put(store, tmp_path, "a.txt", ["old one", "old two"], seed=10)
    put(store, tmp_path, "b.txt", ["other", "more"], seed=20)
    old = {c.id for c in store.chunks_of_file("a.txt")}
    put(store, tmp_path, "a.txt", ["new one"], seed=30)  # update: the old chunks go
    assert not old & set(ids(store.search(unit(10), 10)))
    [(best, score)] = store.search(unit(30), 1)
    assert store.chunks_by_id([best])[best].text == "new one"
    assert score == pytest.approx(1.0, abs=1e-5)  # cosine
    store.remove_file("b.txt")
    assert {store.chunks_by_id([i])[i].file_name for i in ids(store.search(unit(20), 10))} == {
        "a.txt"
    }
    before = store.search(unit(31), 5)
    store.close()
    stores.close()  # a restart: the Milvus client too
    again = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, stores)
    assert same(again.search(unit(31), 5), before)
    assert again.index_matches_metadata() and again.check(repair=False).ok


@pytest.mark.parametrize("vs_type", BACKENDS)
def test_a_stale_index_is_repaired_from_sqlite(
    tmp_path: Path, stores: VectorStores, vs_type: str
) -> None:
    store = make_store(tmp_path, stores, vs_type)
    put(store, tmp_path, "a.txt", ["x", "y", "z"], seed=1)
    expected = store.search(unit(2), 3)
    lost = [c.id for c in store.chunks_of_file("a.txt")][:2]
    store._index.remove(np.array(lost))  # a crash between SQLite and the index
    store._index.add(np.array([999]), unit(7)[None])  # and a row SQLite never had
    assert store.check(repair=False).unresolved == [
        "dense index disagreed with the metadata: rebuilt"
    ]
    store.close()
    again = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, stores)  # reopening repairs it
    assert again.index_matches_metadata()
    assert same(again.search(unit(2), 3), expected)
    assert again.check(repair=False).ok


@pytest.mark.parametrize("vs_type", BACKENDS)
def test_a_write_cut_short_is_found_and_repaired(
    tmp_path: Path, stores: VectorStores, vs_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store(tmp_path, stores, vs_type)
    put(store, tmp_path, "a.txt", ["x", "y", "z"], seed=1)

    def killed(ids: np.ndarray) -> None:
        raise KeyboardInterrupt  # the process dies after SQLite's commit, before the index

    monkeypatch.setattr(store._index, "remove", killed)
    with pytest.raises(KeyboardInterrupt):  # as many chunks as before: only the ids differ
        put(store, tmp_path, "a.txt", ["p", "q", "r"], seed=50)
    monkeypatch.undo()
    assert not store.index_matches_metadata()
    assert store.check().repaired == [
        "dense index disagreed with the metadata: rebuilt",
        "lexical index disagreed with the metadata: synced",
    ]
    [(best, _)] = store.search(unit(51), 1)
    assert store.chunks_by_id([best])[best].text == "q"
    assert store.check(repair=False).ok


def test_a_collection_with_rows_twice_is_made_anew(
    tmp_path: Path, stores: VectorStores, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Milvus Lite killed mid-write once came back with a file's rows twice (160 rows, 140
    # ids): syncing the ids cannot fix that, so the collection is made anew from SQLite
    store = make_store(tmp_path, stores, "milvus")
    put(store, tmp_path, "a.txt", ["x", "y", "z"], seed=1)
    counted = MilvusIndex.__len__
    doubled = iter([True])  # the first count after the sync sees the doubled rows
    monkeypatch.setattr(MilvusIndex, "__len__", lambda self: counted(self) + next(doubled, 0))
    store.rebuild_index()
    monkeypatch.undo()
    assert store.index_matches_metadata() and len(store._index) == 3
    [(best, _)] = store.search(unit(2), 1)
    assert store.chunks_by_id([best])[best].text == "y"


def test_a_collection_whose_files_were_cut_short_is_made_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kill -9 while Milvus Lite wrote a segment's index file once left it cut short, and
    # loading the collection failed ("No data left in file"): the KB must still open, from
    # SQLite. The cut is timing-dependent, so the failed load is made here.
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    stores = VectorStores(FaissFlatIndex, "milvus", MilvusConnection(str(tmp_path / "m.db")))
    store = make_store(tmp_path, stores, "milvus")
    put(store, tmp_path, "a.txt", ["x", "y", "z"], seed=1)
    store.close()
    loads = MilvusClient.load_collection
    failures = iter([MilvusException(message="No data left in file")])

    def damaged(self: MilvusClient, *args: object, **kwargs: object) -> None:
        if (error := next(failures, None)) is not None:
            raise error
        loads(self, *args, **kwargs)

    monkeypatch.setattr(MilvusClient, "load_collection", damaged)
    try:
        store = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, stores)
        assert store.index_matches_metadata() and len(store._index) == 3
        [(best, _)] = store.search(unit(2), 1)
        assert store.chunks_by_id([best])[best].text == "y"
        store.close()
    finally:
        stores.close()


def test_search_is_the_same_in_both_stores(tmp_path: Path, stores: VectorStores) -> None:
    found = {}
    for vs_type in BACKENDS:
        store = KnowledgeBaseStore.create(tmp_path / vs_type, IDENTITY, stores, vs_type=vs_type)
        for n in range(6):
            put(store, tmp_path, f"f{n}.txt", [f"t{n}-{i}" for i in range(10)], seed=100 * n)
        found[vs_type] = [store.search(unit(q), 10) for q in range(1000, 1020)]
    for faiss_hits, milvus_hits in zip(found["faiss"], found["milvus"], strict=True):
        assert same(milvus_hits, faiss_hits)


def test_the_collection_holds_text_and_metadata(tmp_path: Path, stores: VectorStores) -> None:
    store = make_store(tmp_path, stores, "milvus")
    put(store, tmp_path, "a.txt", ["第一段", "second"], seed=1)
    collection = store.info()["milvus_collection"]
    assert collection.startswith("zhiku_")
    assert stores.milvus is not None
    with stores.milvus.client() as client:
        rows = client.query(
            collection, filter="", output_fields=["id", "text", "file_name", "page", "title_path"]
        )
    assert sorted((r["text"], r["file_name"], r["page"], r["title_path"]) for r in rows) == [
        ("second", "a.txt", 2, "a.txt > part"),
        ("第一段", "a.txt", 1, "a.txt > part"),
    ]


# ---- the registry: rebuild, delete, migrate, check -----------------------------------------


def make_service(root: Path, vs_type: str = "faiss") -> KnowledgeBaseService:
    settings = load_settings(
        env={}, default_vs_type=vs_type, kbs_config={"milvus": {"uri": "milvus.db"}}
    )
    return build_kb_service(
        settings, root, DeterministicFakeEmbedding(size=16), ingest=IngestOptions(batch_files=2)
    )


def write_docs(tmp: Path, count: int) -> list[tuple[str, Path]]:
    folder = tmp / "in"
    folder.mkdir(exist_ok=True)
    files = []
    for n in range(count):
        path = folder / f"d{n}.txt"
        path.write_text(f"第{n}份文件讲的是主题{n}。它还说了细节{n * 7}。", encoding="utf-8")
        files.append((path.name, path))
    return files


def collections(service: KnowledgeBaseService) -> list[str]:
    stores = service.registry.make_index
    assert stores.milvus is not None
    return sorted(stores.milvus.collections())


def top_ids(service: KnowledgeBaseService, kb: str, queries: list[str]) -> list[list[int]]:
    store = service.store(kb)
    embed = service.embeddings.embed_query
    return [ids(store.search(np.array(embed(q), dtype=np.float32), 5)) for q in queries]


@pytest.mark.parametrize("vs_type", BACKENDS)
def test_rebuild_delete_and_check(tmp_path: Path, vs_type: str) -> None:
    service = make_service(tmp_path / "kbs", vs_type)
    service.create_kb("t1")
    service.add_files("t1", write_docs(tmp_path, 5))
    collection = service.store("t1").info().get("milvus_collection")
    assert service.search("t1", "主题3", 1, 0.0)[0].source == "d3.txt"
    assert all(r.status == "ok" for r in service.rebuild_kb("t1"))
    assert service.search("t1", "主题3", 1, 0.0)[0].source == "d3.txt"
    assert service.check("t1").ok and not service.check("t1").repaired
    if vs_type == "milvus":  # a new collection for the new folder; the old one dropped
        new = service.store("t1").info()["milvus_collection"]
        assert new != collection and collections(service) == [new]
    service.delete_kb("t1")
    if vs_type == "milvus":
        assert collections(service) == []
    service.close()


def test_migrate_both_ways_keeps_the_search(tmp_path: Path) -> None:
    service = make_service(tmp_path / "kbs")
    service.create_kb("t1")
    service.add_files("t1", write_docs(tmp_path, 6))
    queries = [f"主题{n}" for n in range(6)] + ["细节14", "文件"]
    before = top_ids(service, "t1", queries)
    assert service.migrate_kb("t1", "milvus")  # the registry has no model: nothing re-embedded
    assert not (tmp_path / "kbs" / "t1" / "vector_store" / "index.faiss").exists()
    assert service.store("t1").vector_store == "milvus"
    assert top_ids(service, "t1", queries) == before
    assert not service.migrate_kb("t1", "milvus")  # already there
    service.close()
    service = make_service(tmp_path / "kbs")  # a restart: the KB says where it is
    assert service.store("t1").vector_store == "milvus"
    assert top_ids(service, "t1", queries) == before and service.check("t1").ok
    assert service.migrate_kb("t1", "faiss")
    assert collections(service) == []
    assert top_ids(service, "t1", queries) == before and service.check("t1").ok
    with pytest.raises(ConfigError, match="valid: faiss, milvus"):
        service.migrate_kb("t1", "chroma")
    service.close()


def test_startup_drops_collections_no_kb_names(tmp_path: Path) -> None:
    service = make_service(tmp_path / "kbs", "milvus")
    service.create_kb("t1")
    stores = service.registry.make_index
    assert stores.milvus is not None
    orphan = MilvusIndex(stores.milvus, "zhiku_leftover", 16)
    orphan.ensure()  # as a crash between a folder's removal and its collection's leaves it
    kept = service.store("t1").info()["milvus_collection"]
    reports = service.check_all()
    assert [line for r in reports for line in r.repaired] == [
        "Milvus collection zhiku_leftover belonged to no knowledge base: dropped"
    ]
    assert collections(service) == [kept]
    service.close()


# ---- errors --------------------------------------------------------------------------------


def test_a_bad_uri_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"kbs_config.milvus: uri 'milvus\.sqlite' is neither"):
        load_settings(env={}, kbs_config={"milvus": {"uri": "milvus.sqlite"}})
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    stores = VectorStores(FaissFlatIndex, "milvus", MilvusConnection(str(blocked / "m.db")))
    with pytest.raises(ConfigError, match=r"cannot open Milvus at .*kbs_config"):
        KnowledgeBaseStore.create(tmp_path / "kb", IDENTITY, stores)
    assert not (tmp_path / "kb").exists()  # nothing made before the error
    with pytest.raises(
        ConfigError,
        match=r"config DEFAULT_VS_TYPE: 'chroma' is not a vector store; valid: faiss, milvus",
    ):
        load_settings(env={"ZHIKU_DEFAULT_VS_TYPE": "chroma"})


_WRITER = """
import sys, numpy as np
from pathlib import Path
from rag.kb.store import EmbeddingIdentity, KnowledgeBaseStore, NewChunk, sha256_of
from rag.vectorstores import FaissFlatIndex, MilvusConnection, VectorStores
root = Path(sys.argv[1])
stores = VectorStores(FaissFlatIndex, "milvus", MilvusConnection(str(root / "m.db")))
store = KnowledgeBaseStore.create(root / "kb", EmbeddingIdentity("fake", 8), stores)
original = root / "src.txt"
original.write_text("x")
digest = sha256_of(original)  # the check moves a staged original into place by its hash
rng = np.random.default_rng(0)
for n in range(100_000):
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [NewChunk(f"{n}-{i}", None, "", {}) for i in range(20)]
    store.put_file(f"f{n}.txt", digest, original, chunks, vectors)
    print(n, flush=True)
"""


def test_kill_minus_nine_mid_write_then_restart(tmp_path: Path) -> None:
    """A process writing to a Milvus Lite KB is killed; while it ran, nobody else could open
    the file (a clear error); after, the KB opens consistent and searchable."""
    errors = tmp_path / "writer.err"
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_WRITER), str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=errors.open("w"),
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    for _ in range(5):  # five files stored
        assert process.stdout.readline(), errors.read_text()
    busy = VectorStores(FaissFlatIndex, "milvus", MilvusConnection(str(tmp_path / "m.db")))
    with pytest.raises(ConfigError, match="one process at a time"):
        KnowledgeBaseStore(tmp_path / "kb", IDENTITY, busy)
    time.sleep(0.05)  # somewhere inside the next writes
    process.send_signal(signal.SIGKILL)
    process.wait()
    stores = VectorStores(FaissFlatIndex, "milvus", MilvusConnection(str(tmp_path / "m.db")))
    store = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, stores)
    assert store.index_matches_metadata(), (store.chunk_count(), len(store._index))
    report = store.check()
    assert report.ok, report
    assert store.chunk_count() >= 100 and store.chunk_count() == 20 * len(store.files())
    [(best, score)] = store.search(unit(3), 1)
    assert best in store.chunks_by_id([best]) and -1 <= score <= 1
    stores.close()


def test_the_cli_migrates_and_checks(tmp_path: Path, monkeypatch, capsys) -> None:
    import rag.factory
    from rag.cli import main

    root = tmp_path / "kbs"
    service = make_service(root)
    service.create_kb("t1")
    service.add_files("t1", write_docs(tmp_path, 3))
    service.close()
    monkeypatch.setattr(
        rag.factory, "build_kb_service", lambda settings, kb_root: make_service(root)
    )
    assert main(["kb", "migrate", "t1", "--to", "milvus", "--kb-root", str(root)]) == 0
    assert main(["kb", "migrate", "t1", "--to", "milvus", "--kb-root", str(root)]) == 0
    assert main(["kb", "check", "t1", "--kb-root", str(root)]) == 0
    assert main(["kb", "migrate", "t1", "--to", "faiss", "--kb-root", str(root)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "t1: moved to milvus",
        "t1: already in milvus",
        "t1: consistent",
        "t1: moved to faiss",
    ]
