"""VECTOR_INDEX: the store switches between exact and IVF by size, rebuilt from SQLite.

A small threshold (500 chunks) stands in for the real one (200k): the switch on add, recall
against exact search, exact deletes from the IVF index, restart, and the way back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.errors import ConfigError
from rag.kb.store import EmbeddingIdentity, KnowledgeBaseStore, NewChunk
from rag.settings import load_settings
from rag.vectorstores import (
    VECTOR_INDEX_MODES,
    FaissFlatIndex,
    FaissIVFIndex,
    SizedIndex,
    as_policy,
)
from rag.vectorstores.faiss_ivf import perturbed, recall_at_k
from rag.vectorstores.sizing import IVF_MIN_VECTORS, saved_kind

DIM = 16
IDENTITY = EmbeddingIdentity("fake", DIM)
PER_FILE = 100


def clustered(n: int, seed: int, clusters: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, DIM))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    rows = centers[rng.integers(0, clusters, n)] + 0.08 * rng.standard_normal((n, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


VECTORS = clustered(1200, seed=3)


def put(store: KnowledgeBaseStore, tmp: Path, number: int) -> None:
    """File f<number>.txt holding VECTORS[number * 100 : (number + 1) * 100]."""
    original = tmp / f"f{number}.txt"
    original.write_text(f"file {number}", encoding="utf-8")
    chunks = [NewChunk(f"text {number}-{i}", None, "", {}) for i in range(PER_FILE)]
    vectors = VECTORS[number * PER_FILE : (number + 1) * PER_FILE]
    store.put_file(original.name, f"sha-{number}", original, chunks, vectors)


def make_store(tmp: Path, policy: SizedIndex) -> KnowledgeBaseStore:
    return KnowledgeBaseStore.create(tmp / "kb", IDENTITY, policy)


def stored_ids_and_vectors(store: KnowledgeBaseStore) -> tuple[np.ndarray, np.ndarray]:
    rows = store._query("SELECT id, vector FROM chunks ORDER BY id")
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return ids, np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])


def recall_against_exact(store: KnowledgeBaseStore, queries: np.ndarray, k: int = 10) -> float:
    ids, vectors = stored_ids_and_vectors(store)
    truth = ids[np.argsort(-(queries @ vectors.T), axis=1)[:, :k]]
    found = []
    for query in queries:
        hits = [i for i, _ in store.search(query, k)]
        found.append(hits + [-1] * (k - len(hits)))
    return recall_at_k(np.array(found), truth)


def index_file(tmp: Path) -> Path:
    return tmp / "kb" / "vector_store" / "index.faiss"


def test_switches_to_ivf_on_add_with_recall_close_to_exact(tmp_path: Path):
    store = make_store(tmp_path, SizedIndex("auto", ivf_at=500))
    for number in range(4):
        put(store, tmp_path, number)
    assert store.index_kind == "flat" and saved_kind(index_file(tmp_path)) == "flat"
    put(store, tmp_path, 4)  # 500 chunks: the threshold
    assert store.index_kind == "ivf"
    assert saved_kind(index_file(tmp_path)) == "ivf"  # the file says what it is
    assert store.index_matches_metadata() and store.check(repair=False).ok
    put(store, tmp_path, 5)  # added to the trained IVF index
    assert store.index_kind == "ivf" and store.index_matches_metadata()
    assert isinstance(store._index, FaissIVFIndex)
    assert (store._index.measured_recall or 0) >= 0.96  # its own calibration
    rng = np.random.default_rng(7)
    # queries as far from a chunk as real questions are (the model nprobe is measured on),
    # and queries close to a chunk
    modelled = perturbed(VECTORS[:600], rng.choice(600, 300, replace=False), 0.5, rng)
    assert recall_against_exact(store, modelled) >= 0.93
    near = VECTORS[rng.integers(0, 600, 100)] + 0.05 * rng.standard_normal((100, DIM))
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    assert recall_against_exact(store, near.astype(np.float32)) >= 0.99
    for i in (0, 250, 599):  # each stored vector finds its own chunk first
        assert store.search(VECTORS[i], 1)[0][1] == pytest.approx(1.0, abs=1e-5)


def test_deletes_from_the_ivf_index_stay_exact_also_after_restart(tmp_path: Path):
    policy = SizedIndex("auto", ivf_at=500)
    store = make_store(tmp_path, policy)
    for number in range(7):
        put(store, tmp_path, number)
    assert store.index_kind == "ivf"
    before = set(stored_ids_and_vectors(store)[0].tolist())
    store.remove_file("f2.txt")
    put(store, tmp_path, 3)  # same content again: its chunks get new ids
    store.put_file(  # an update of f4.txt: its old chunks go
        "f4.txt",
        "sha-new",
        tmp_path / "f4.txt",
        [NewChunk("new", None, "", {})],
        VECTORS[1100:1101],
    )
    gone = before - set(stored_ids_and_vectors(store)[0].tolist())
    assert len(gone) == 3 * PER_FILE and store.index_kind == "ivf"

    def never_returned(s: KnowledgeBaseStore) -> None:
        for i in range(200, 500):  # the removed chunks' own vectors as queries
            assert not {hit for hit, _ in s.search(VECTORS[i], 50)} & gone

    never_returned(store)
    store.close()
    reopened = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, policy)
    assert reopened.index_kind == "ivf" and reopened.index_matches_metadata()
    never_returned(reopened)
    reopened.close()


def test_restart_loads_the_saved_ivf_index_without_rebuilding(tmp_path: Path, monkeypatch):
    policy = SizedIndex("auto", ivf_at=500)
    store = make_store(tmp_path, policy)
    for number in range(6):
        put(store, tmp_path, number)
    queries = clustered(20, seed=5)
    before = [store.search(q, 10) for q in queries]
    store.close()

    def no_rebuild(self: KnowledgeBaseStore) -> None:
        raise AssertionError("the saved index should have been loaded")

    monkeypatch.setattr(KnowledgeBaseStore, "rebuild_index", no_rebuild)
    reopened = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, policy)
    assert reopened.index_kind == "ivf"
    assert [reopened.search(q, 10) for q in queries] == before
    reopened.close()


def test_back_to_exact_when_it_shrinks_below_half_the_threshold(tmp_path: Path):
    store = make_store(tmp_path, SizedIndex("auto", ivf_at=500))
    for number in range(5):
        put(store, tmp_path, number)
    assert store.index_kind == "ivf"
    store.remove_file("f0.txt")  # 400: between half the threshold and the threshold
    store.remove_file("f1.txt")  # 300
    assert store.index_kind == "ivf"
    store.remove_file("f2.txt")  # 200 < 250
    assert store.index_kind == "flat" and saved_kind(index_file(tmp_path)) == "flat"
    assert store.index_matches_metadata()
    assert recall_against_exact(store, clustered(30, seed=6)) == 1.0


def test_retrained_when_grown(tmp_path: Path):
    store = make_store(tmp_path, SizedIndex("auto", ivf_at=500, retrain_growth=2.0))
    for number in range(5):
        put(store, tmp_path, number)
    assert isinstance(store._index, FaissIVFIndex) and store._index.trained_size == 500
    for number in range(5, 10):
        put(store, tmp_path, number)
    assert store._index.trained_size == 1000 and store.index_matches_metadata()


def test_config_change_rebuilds_on_open(tmp_path: Path):
    store = make_store(tmp_path, SizedIndex("auto", ivf_at=500))
    for number in range(6):
        put(store, tmp_path, number)
    assert store.index_kind == "ivf"
    store.close()
    flat = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, SizedIndex("flat"))
    assert flat.index_kind == "flat" and saved_kind(index_file(tmp_path)) == "flat"
    flat.close()
    ivf = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, SizedIndex("ivf"))
    assert IVF_MIN_VECTORS > 600 and ivf.index_kind == "flat"  # too few to train on
    ivf.close()
    again = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, SizedIndex("auto", ivf_at=500))
    assert again.index_kind == "ivf"
    again.close()


def test_torn_ivf_file_is_rebuilt_as_ivf(tmp_path: Path):
    policy = SizedIndex("auto", ivf_at=500)
    store = make_store(tmp_path, policy)
    for number in range(6):
        put(store, tmp_path, number)
    store.close()
    index_file(tmp_path).write_bytes(b"IwFl and then nothing")
    reopened = KnowledgeBaseStore(tmp_path / "kb", IDENTITY, policy)
    assert reopened.index_kind == "ivf" and reopened.index_matches_metadata()
    reopened.close()


def test_plain_index_classes_are_still_accepted(tmp_path: Path):
    assert as_policy(FaissFlatIndex).empty(DIM).kind == "flat"
    store = KnowledgeBaseStore.create(tmp_path / "kb", IDENTITY, FaissFlatIndex)
    for number in range(6):
        put(store, tmp_path, number)
    assert store.index_kind == "flat"  # a fixed class never switches
    store.close()


def test_modes_match_the_setting_and_a_wrong_one_is_named():
    assert load_settings(env={}).retrieval.vector_index == "auto"
    assert load_settings(env={}, vector_index="ivf").retrieval.vector_index == "ivf"
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, vector_index="hnsw")
    message = str(info.value)
    assert "VECTOR_INDEX" in message and "hnsw" in message
    assert all(f"'{mode}'" in message for mode in VECTOR_INDEX_MODES)
    with pytest.raises(ValueError, match="VECTOR_INDEX='hnsw' unknown; valid: auto, flat, ivf"):
        SizedIndex("hnsw")  # type: ignore[arg-type]
