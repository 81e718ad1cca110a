"""Second-stage reranking: a cross-encoder reads the query and each candidate chunk together.

The first stage (dense + BM25, fused) is fast but judges query and chunk separately; a
cross-encoder (e.g. BAAI/bge-reranker-base) attends over both at once and orders the top
candidates better, at the cost of one model pass per candidate. `HybridRetriever.search`
(hybrid.py) reranks the top RERANKER_TOP_N fused candidates when USE_RERANKER is on; the
score then shown is the reranker's, mapped to [0, 1].

Scores: a model with one output (the usual reranker) gives a logit, mapped by a sigmoid; a
model with several outputs (a classifier such as an NLI-style "relevant / not relevant"
model) is mapped by a softmax and the probability of its last label (the positive class) is
the score. The model's own activation setting is ignored, so that every model's scores are
in [0, 1] the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rag.errors import ConfigError, ModelUnavailableError

if TYPE_CHECKING:
    from rag.settings import Device, RerankerSettings

logger = logging.getLogger(__name__)

_PATH_STARTS = ("/", "./", "../", "~", "package:")


@runtime_checkable
class Reranker(Protocol):
    """Scores how well each text answers the query."""

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        """One score per text, in [0, 1], higher = more relevant; the same order as `texts`."""
        ...


class CrossEncoderReranker:
    """A sentence-transformers `CrossEncoder`, loaded from a hub id (the local hub cache: no
    download happens offline) or from a model folder."""

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        batch_size: int = 16,
        max_length: int | None = 512,
    ) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        source = _model_source(model)
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise ModelUnavailableError(
                f"RERANKER_MODEL={model!r} needs sentence-transformers ({exc.name} is missing); "
                "pip install sentence-transformers, or set USE_RERANKER = False"
            ) from exc
        import torch

        try:
            self._model = CrossEncoder(
                source,
                device=device,
                max_length=max_length,
                activation_fn=torch.nn.Identity(),  # raw logits: mapped to [0, 1] below
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelUnavailableError(_unavailable(model, source, exc)) from exc
        self.num_labels = int(self._model.num_labels)

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        import torch

        logits = self._model.predict(
            [(query, text) for text in texts],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_tensor=True,
        )
        assert isinstance(logits, torch.Tensor)
        logits = logits.float().reshape(len(texts), -1)
        if logits.shape[1] == 1:
            scores = torch.sigmoid(logits[:, 0])
        else:
            scores = torch.softmax(logits, dim=1)[:, -1]
        return [min(1.0, max(0.0, float(s))) for s in scores.cpu().tolist()]

    def __repr__(self) -> str:
        return f"CrossEncoderReranker({self.model_name!r}, device={self.device!r})"


def _looks_like_path(model: str) -> bool:
    return model.startswith(_PATH_STARTS) or Path(model).expanduser().exists() or "\\" in model


def _model_source(model: str) -> str:
    """A folder (checked now, so that a typo is reported as such) or a hub id."""
    if not model.strip():
        raise ConfigError("RERANKER_MODEL is empty; set a hub id or a model folder")
    if not _looks_like_path(model):
        return model
    from rag.settings import resolve_path

    path = resolve_path(model)
    if not path.is_dir():
        raise ModelUnavailableError(
            f"RERANKER_MODEL={model!r}: no model folder at {path}; point RERANKER_MODEL at a "
            "cross-encoder folder (config.json + weights + tokenizer), or set USE_RERANKER = False"
        )
    return str(path)


def _unavailable(model: str, source: str, exc: Exception) -> str:
    if source == model and not Path(source).exists():
        where = "is not in the local Hugging Face cache (no download happens offline)"
        todo = (
            f"download it once where the hub is reachable (hf download {model}) "
            "or point RERANKER_MODEL at a model folder"
        )
    else:
        where = f"cannot be loaded from {source} ({type(exc).__name__}: {_first_line(exc)})"
        todo = "point RERANKER_MODEL at a cross-encoder folder"
    return f"RERANKER_MODEL={model!r} {where}; {todo}, or set USE_RERANKER = False"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "no message"


def build_reranker(
    section: RerankerSettings, device: Device = "auto", **kwargs: Any
) -> Reranker | None:
    """The reranker `section` (settings.retrieval.reranker) configures, or None when
    USE_RERANKER is off.

    The factory runs it on EMBEDDING_DEVICE (the same place as the other retrieval model).
    """
    if not section.enabled:
        return None
    from rag.devices import resolve_device

    resolved = resolve_device(device, "EMBEDDING_DEVICE")
    reranker = CrossEncoderReranker(section.model, device=resolved, **kwargs)
    logger.info("reranker %s loaded on %s", section.model, resolved)
    return reranker


__all__ = ["CrossEncoderReranker", "Reranker", "build_reranker"]
