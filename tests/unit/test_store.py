"""The KB store: exact deletes, no pickle, an index rebuilt from SQLite when it is torn."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

import rag.kb.store as store_module
from rag.errors import DocumentNotFoundError, EmbeddingMismatchError
from rag.kb.store import EmbeddingIdentity, KnowledgeBaseStore, NewChunk
from rag.vectorstores import FaissFlatIndex, build_index

DIM = 8
IDENTITY = EmbeddingIdentity("fake", DIM)


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def make_store(path: Path) -> KnowledgeBaseStore:
    return KnowledgeBaseStore.create(path, IDENTITY, FaissFlatIndex)


def put(store: KnowledgeBaseStore, tmp: Path, name: str, texts: list[str], seed: int) -> None:
    original = tmp / f"src-{name}"
    original.write_text("\n".join(texts), encoding="utf-8")
    chunks = [NewChunk(t, None, "", {}) for t in texts]
    vectors = np.vstack([unit(seed + i) for i in range(len(texts))])
    store.put_file(name, f"sha-{seed}", original, chunks, vectors)


def test_index_is_inner_product_with_stable_ids(tmp_path: Path):
    index = build_index("faiss_flat_ip", DIM)
    index.add(np.array([7, 42]), np.vstack([unit(1), unit(2)]))
    [(best_id, score)] = index.search(unit(2), 1)
    assert best_id == 42
    assert score == pytest.approx(1.0, abs=1e-5)  # cosine, not an L2 distance
    index.remove(np.array([42]))
    assert [i for i, _ in index.search(unit(2), 5)] == [7]


def test_saved_index_is_faiss_format_not_pickle(tmp_path: Path):
    index = build_index("faiss_flat_ip", DIM)
    index.add(np.array([1]), unit(1)[None])
    index.save(tmp_path / "i.faiss")
    assert not (tmp_path / "i.faiss").read_bytes().startswith(b"\x80")  # no pickle protocol
    loaded = FaissFlatIndex(DIM)
    loaded.load(tmp_path / "i.faiss")
    assert loaded.ids().tolist() == [1]


def test_update_replaces_old_chunks_and_remove_deletes_all(tmp_path: Path):
    store = make_store(tmp_path / "kb")
    put(store, tmp_path, "a.txt", ["old one", "old two"], seed=10)
    put(store, tmp_path, "b.txt", ["other"], seed=20)
    old_ids = {c.id for c in store.chunks_of_file("a.txt")}
    put(store, tmp_path, "a.txt", ["new one"], seed=30)
    assert [c.text for c in store.chunks_of_file("a.txt")] == ["new one"]
    assert not old_ids & {i for i, _ in store.search(unit(10), 10)}
    assert store.file("a.txt").chunks == 1
    store.remove_file("a.txt")
    assert store.file("a.txt") is None
    assert not (tmp_path / "kb" / "content" / "a.txt").exists()
    assert {store.chunks_by_id([i])[i].file_name for i, _ in store.search(unit(30), 10)} == {
        "b.txt"
    }
    with pytest.raises(DocumentNotFoundError):
        store.remove_file("a.txt")


def test_reopen_gives_identical_results(tmp_path: Path):
    store = make_store(tmp_path / "kb")
    put(store, tmp_path, "a.txt", ["x", "y", "z"], seed=1)
    before = store.search(unit(2), 3)
    store.close()
    again = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, FaissFlatIndex)
    assert again.search(unit(2), 3) == before


def test_torn_or_stale_index_is_rebuilt_from_sqlite(tmp_path: Path):
    store = make_store(tmp_path / "kb")
    put(store, tmp_path, "a.txt", ["x", "y"], seed=1)
    expected = store.search(unit(1), 2)
    store.close()
    (tmp_path / "kb" / "vector_store" / "index.faiss").write_bytes(b"torn")
    again = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, FaissFlatIndex)
    assert again.search(unit(1), 2) == expected
    assert again.index_matches_metadata()


def test_other_embedding_model_is_refused_with_rebuild_hint(tmp_path: Path):
    make_store(tmp_path / "kb").close()
    with pytest.raises(EmbeddingMismatchError, match="rag kb rebuild kb"):
        KnowledgeBaseStore(tmp_path / "kb", EmbeddingIdentity("other", 16), FaissFlatIndex)


def test_check_repairs_what_a_crash_can_leave(tmp_path: Path):
    store = make_store(tmp_path / "kb")
    put(store, tmp_path, "a.txt", ["x", "y"], seed=1)
    put(store, tmp_path, "b.txt", ["z"], seed=5)
    content = tmp_path / "kb" / "content"
    (content / "orphan.txt").write_text("left by a remove cut short")
    store._index.remove(np.array([c.id for c in store.chunks_of_file("b.txt")]))
    report = store.check(repair=False)
    assert not report.ok and len(report.unresolved) == 2
    report = store.check(repair=True)
    assert report.ok and len(report.repaired) == 2
    assert not (content / "orphan.txt").exists()
    assert store.index_matches_metadata()
    (content / "a.txt").unlink()
    report = store.check()
    assert report.unresolved == ["a.txt: indexed, but its original is missing: re-add it"]


def test_equivalent_embedding_model_opens_the_kb_and_others_still_do_not(tmp_path: Path):
    make_store(tmp_path / "kb").close()
    onnx = EmbeddingIdentity("fake-onnx", DIM, frozenset({"fake"}))
    store = KnowledgeBaseStore(tmp_path / "kb", onnx, FaissFlatIndex)
    assert store.info()["embedding_model"] == "fake"  # the record is left as it was
    store.close()
    wrong_dims = EmbeddingIdentity("fake-onnx", DIM * 2, frozenset({"fake"}))
    with pytest.raises(EmbeddingMismatchError, match="rag kb rebuild kb"):
        KnowledgeBaseStore(tmp_path / "kb", wrong_dims, FaissFlatIndex)
    unrelated = EmbeddingIdentity("other", DIM, frozenset({"fake-onnx"}))
    with pytest.raises(EmbeddingMismatchError):
        KnowledgeBaseStore(tmp_path / "kb", unrelated, FaissFlatIndex)


def test_check_finishes_or_drops_a_staged_original(tmp_path: Path, monkeypatch):
    store = make_store(tmp_path / "kb")
    put(store, tmp_path, "a.txt", ["old"], seed=1)
    content = tmp_path / "kb" / "content"
    new = tmp_path / "new-a.txt"
    new.write_text("new", encoding="utf-8")
    digest = hashlib.sha256(b"new").hexdigest()

    def killed(source: Path, target: Path) -> None:
        raise KeyboardInterrupt  # the process dies between the commit and the rename

    monkeypatch.setattr(store_module, "atomic_move", killed)
    with pytest.raises(KeyboardInterrupt):
        store.put_file("a.txt", digest, new, [NewChunk("new", None, "", {})], unit(2)[None])
    monkeypatch.undo()
    assert (content / "a.txt").read_text() == "old"  # the metadata already says "new"
    report = store.check(repair=False)  # the indexes missed the update too
    assert report.unresolved == [
        "dense index disagreed with the metadata: rebuilt",
        "lexical index disagreed with the metadata: synced",
        "a.txt: stored, original not yet in place: moved",
    ]
    assert store.check().repaired == report.unresolved
    assert [i for i, _ in store.search(unit(2), 5)] == [c.id for c in store.chunks_of_file("a.txt")]
    assert (content / "a.txt").read_text() == "new"
    assert sorted(p.name for p in content.iterdir()) == ["a.txt"]

    # a copy staged for a commit that never happened is dropped; the stored original stays
    (content / ".staged.a.txt").write_text("newer, never committed")
    (content / ".staged.b.txt").write_text("never committed")
    assert sorted(store.check().repaired) == [
        "a.txt: staged original never stored: deleted",
        "b.txt: staged original never stored: deleted",
    ]
    assert sorted(p.name for p in content.iterdir()) == ["a.txt"]
    assert store.check(repair=False).ok
