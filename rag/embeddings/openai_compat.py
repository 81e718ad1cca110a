"""Vectors from a server's OpenAI-compatible `POST {api_base_url}/embeddings`.

Works with vLLM (`vllm serve BAAI/bge-m3`), Xinference, Ollama (`http://127.0.0.1:11434/v1`),
Hugging Face's text-embeddings-inference (TEI) and another zhiku's `/v1`. Texts go in
requests of `batch_size`, one after the other; the vectors come back in the texts' order
(by each item's `index`), L2-normalized here as the local backends' are (inner product =
cosine), whatever the server does. No lock: the server schedules concurrent requests.

Every failure is one `ModelUnavailableError` line naming the server and the entry, and
what to do: the server is down or too slow, it answered non-2xx (with an excerpt of its
answer), or it sent something other than one vector per text, all of one length.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import httpx
import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from rag.errors import ModelUnavailableError
from rag.server_replies import error_detail, one_line

_CONNECT_TIMEOUT_S = 10.0


class OpenAICompatEmbeddings(BaseModel, Embeddings):
    """An embedding model behind an OpenAI-compatible server, as LangChain `Embeddings`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    api_base_url: str
    """The API root, e.g. `http://127.0.0.1:8000/v1`; requests go to `<it>/embeddings`."""

    model: str
    """The model name sent in each request (the server's name for the model)."""

    entry: str = "openai"
    """The EMBEDDING_MODEL entry this serves, named in error messages."""

    api_key: SecretStr | None = None
    """Sent as `Authorization: Bearer <key>` when set."""

    timeout_s: float = Field(default=60.0, gt=0)
    """Seconds to wait for one request's vectors (connecting: at most 10)."""

    batch_size: int = Field(default=32, ge=1)
    """Texts per request."""

    query_prefix: str = ""
    """Prepended to each query (e5: "query: ")."""

    passage_prefix: str = ""
    """Prepended to each document (e5: "passage: ")."""

    transport: httpx.BaseTransport | None = Field(default=None, exclude=True, repr=False)
    """The HTTP transport (tests pass an `httpx.MockTransport`); None: the network."""

    _client: httpx.Client | None = PrivateAttr(default=None)
    _client_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _dimension: int | None = PrivateAttr(default=None)

    @property
    def embeddings_url(self) -> str:
        return f"{self.api_base_url.rstrip('/')}/embeddings"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array([self.passage_prefix + text for text in texts]).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([self.query_prefix + text])[0].tolist()

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """The vectors of `texts` as sent (no prefix added), float32, shape (len, dim)."""
        parts = [
            self._post(texts[start : start + self.batch_size])
            for start in range(0, len(texts), self.batch_size)
        ]
        if not parts:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        vectors = np.vstack(parts)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def close(self) -> None:
        """Close the HTTP client (a new one is made on the next request)."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # ---- one request ---------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def _new_client(self) -> httpx.Client:
        headers = {"User-Agent": "zhiku"}
        if self.api_key is not None and self.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, _CONNECT_TIMEOUT_S)),
            transport=self.transport,
            # HTTP(S)_PROXY must not catch a server on this machine
            trust_env=not _is_loopback(self.api_base_url),
        )

    def _post(self, batch: list[str]) -> np.ndarray:
        """One request: the batch's vectors in its order, float32, checked."""
        try:
            response = self._http().post(
                self.embeddings_url, json={"model": self.model, "input": batch}
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, len(batch)) from exc
        if not response.is_success:
            raise self._status_error(response)
        try:
            items = response.json()["data"]
            vectors = _ordered_vectors(items)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise self._answer_error(
                f"an answer that is not an OpenAI embedding list: {one_line(response.text, 120)!r}"
            ) from None
        return self._checked(vectors, len(batch))

    def _checked(self, vectors: list[np.ndarray], expected: int) -> np.ndarray:
        if len(vectors) != expected:
            raise self._answer_error(f"{len(vectors)} vectors for {expected} texts")
        lengths = sorted({len(vector) for vector in vectors})
        if len(lengths) > 1 or lengths[0] == 0:
            raise self._answer_error(f"vectors of lengths {lengths} in one answer")
        if self._dimension is not None and lengths[0] != self._dimension:
            raise self._answer_error(
                f"{lengths[0]}-dimensional vectors after {self._dimension}-dimensional ones: "
                "did the model behind it change?"
            )
        self._dimension = lengths[0]
        stacked = np.vstack(vectors)
        if not np.isfinite(stacked).all():
            raise self._answer_error("vectors holding NaN or infinity")
        return stacked

    # ---- errors --------------------------------------------------------------------------

    def _where(self) -> str:
        return f"EMBEDDING_MODEL={self.entry}, model {self.model!r}"

    def _transport_error(self, exc: httpx.HTTPError, texts: int) -> ModelUnavailableError:
        url = self.embeddings_url
        reason = one_line(f"{type(exc).__name__}: {exc}", 160)
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return ModelUnavailableError(
                f"cannot reach the embedding server at {url} — is it running? start it, or "
                f"correct api_base_url in embedding_model_dict[{self.entry!r}] "
                f"({self._where()}; {reason})"
            )
        if isinstance(exc, httpx.TimeoutException):
            return ModelUnavailableError(
                f"the embedding server at {url} did not answer within {self.timeout_s:g} s "
                f"for {texts} texts — is it overloaded? raise timeout_s or lower batch_size "
                f"in embedding_model_dict[{self.entry!r}] ({self._where()}; {reason})"
            )
        return ModelUnavailableError(
            f"the embedding server at {url} broke off the request — did it crash? see its "
            f"log ({self._where()}; {reason})"
        )

    def _status_error(self, response: httpx.Response) -> ModelUnavailableError:
        status = f"{response.status_code} {response.reason_phrase}".strip()
        hint = "see the server's log"
        if response.status_code in (401, 403):
            hint = f"check api_key / api_key_env in embedding_model_dict[{self.entry!r}]"
        elif response.status_code == 404:
            hint = (
                f"check api_base_url (usually ends in /v1) and model (the server's name for "
                f"it) in embedding_model_dict[{self.entry!r}]"
            )
        elif response.status_code in (400, 413, 422):
            hint = (
                "a text may be longer than the server takes (TEI: start it with "
                f"--auto-truncate), or batch_size in embedding_model_dict[{self.entry!r}] "
                "over its limit"
            )
        return ModelUnavailableError(
            f"the embedding server at {self.embeddings_url} answered {status}: "
            f"{error_detail(response.text)}; {hint} ({self._where()})"
        )

    def _answer_error(self, what: str) -> ModelUnavailableError:
        return ModelUnavailableError(
            f"the embedding server at {self.embeddings_url} returned {what} — is api_base_url "
            f"an OpenAI-compatible API, and model an embedding model on it? ({self._where()})"
        )


def _ordered_vectors(items: Any) -> list[np.ndarray]:
    """The items' vectors by their `index` (in the order sent when there is none); a
    vector may be floats or base64 of little-endian float32. TypeError/ValueError else."""
    if not isinstance(items, list):
        raise TypeError("data is not a list")
    indexes = [item.get("index") for item in items]
    if all(isinstance(index, int) for index in indexes):
        if sorted(indexes) != list(range(len(items))):
            raise ValueError("indexes are not 0..n-1")
        items = sorted(items, key=lambda item: item["index"])
    return [_vector(item["embedding"]) for item in items]


def _vector(value: Any) -> np.ndarray:
    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value), dtype="<f4").astype(np.float32)
    if not isinstance(value, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    ):
        raise TypeError("an embedding is not a list of numbers")
    return np.asarray(value, dtype=np.float32)


def _is_loopback(url: str) -> bool:
    host = httpx.URL(url).host
    return host in ("localhost", "::1") or host.startswith("127.")
