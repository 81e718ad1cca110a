"""User models (text2vec, bge, m3e, e5…) by hub id or local path, via sentence-transformers."""

from __future__ import annotations

from langchain_huggingface import HuggingFaceEmbeddings

from rag.devices import resolve_device
from rag.errors import ModelUnavailableError
from rag.settings import EmbeddingModelEntry


def build_sentence_transformer(entry: EmbeddingModelEntry, device: str) -> HuggingFaceEmbeddings:
    """Normalized embeddings with the entry's query/passage prefixes."""
    source = entry.model_source()
    query_kwargs: dict[str, object] = {"normalize_embeddings": True}
    passage_kwargs: dict[str, object] = {"normalize_embeddings": True}
    if entry.query_prefix:
        query_kwargs["prompt"] = entry.query_prefix
    if entry.passage_prefix:
        passage_kwargs["prompt"] = entry.passage_prefix
    try:
        return HuggingFaceEmbeddings(
            model_name=source,
            model_kwargs={"device": resolve_device(device, "EMBEDDING_DEVICE")},
            encode_kwargs={**passage_kwargs, "batch_size": entry.batch_size},
            query_encode_kwargs=query_kwargs,
        )
    except OSError as exc:
        raise ModelUnavailableError(
            f"embedding model {source!r} could not be loaded ({exc.__class__.__name__}); "
            "set local_model_path in embedding_model_dict to a downloaded model folder"
        ) from exc
