"""Fusion of dense and lexical rankings: scores in [0, 1], order, and the edge cases."""

from __future__ import annotations

import random

import pytest

from rag.retrieval.fusion import (
    FusionConfig,
    dense_component,
    fuse,
    lexical_component,
    normalize_dense,
    normalize_lexical,
    rrf_ranking,
    weighted_ranking,
)

RRF = FusionConfig(method="rrf", dense_weight=0.5)
WEIGHTED = FusionConfig(method="weighted")
CONFIGS = [RRF, WEIGHTED, FusionConfig(method="rrf", dense_weight=0.3, rrf_k=10)]


def random_lists(rng: random.Random) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    dense_ids = rng.sample(range(40), rng.randint(0, 15))
    lexical_ids = rng.sample(range(40), rng.randint(0, 15))
    dense = sorted(((i, rng.uniform(0.6, 0.98)) for i in dense_ids), key=lambda p: -p[1])
    lexical = sorted(((i, rng.uniform(0.1, 30.0)) for i in lexical_ids), key=lambda p: -p[1])
    return dense, lexical


@pytest.mark.parametrize("config", CONFIGS)
def test_scores_in_unit_interval_and_sorted(config: FusionConfig) -> None:
    rng = random.Random(0)
    for _ in range(200):
        dense, lexical = random_lists(rng)
        hits = fuse(dense, lexical, rng.uniform(1, 40), config)
        assert {hit.chunk_id for hit in hits} == {i for i, _ in dense} | {i for i, _ in lexical}
        scores = [hit.score for hit in hits]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)
        for hit in hits:
            for part in (hit.dense_score, hit.lexical_score):
                assert part is None or 0.0 <= part <= 1.0


@pytest.mark.parametrize("config", CONFIGS)
def test_empty_inputs(config: FusionConfig) -> None:
    assert fuse([], [], 0.0, config) == []
    only_dense = fuse([(1, 0.9), (2, 0.8)], [], 0.0, config)
    assert [hit.chunk_id for hit in only_dense] == [1, 2]
    assert only_dense[0].lexical_score is None
    only_lexical = fuse([], [(3, 5.0), (4, 1.0)], 6.0, config)
    assert [hit.chunk_id for hit in only_lexical] == [3, 4]
    assert only_lexical[0].dense_score is None


@pytest.mark.parametrize("config", CONFIGS)
def test_in_both_lists_beats_in_one_at_equal_ranks(config: FusionConfig) -> None:
    dense = [(1, 0.90), (2, 0.85)]
    lexical = [(1, 10.0), (3, 8.0)]
    hits = fuse(dense, lexical, 12.0, config)
    assert hits[0].chunk_id == 1
    assert hits[0].score > max(hit.score for hit in hits[1:])


def test_rrf_is_scaled_by_its_maximum() -> None:
    hits = fuse([(1, 0.9), (2, 0.8)], [(1, 9.0), (3, 1.0)], 10.0, RRF)
    assert hits[0].chunk_id == 1
    assert hits[0].score == pytest.approx(1.0)
    by_id = {hit.chunk_id: hit.score for hit in hits}
    assert by_id[2] == pytest.approx(0.5 * 61 / 62)  # second in one list only
    assert by_id[3] == pytest.approx(0.5 * 61 / 62)
    assert [hit.chunk_id for hit in hits] == [1, 2, 3]  # tie broken by id


def test_rrf_weight_favours_a_list() -> None:
    dense, lexical = [(1, 0.9)], [(2, 9.0)]
    assert fuse(dense, lexical, 9.0, FusionConfig(method="rrf", dense_weight=0.7))[0].chunk_id == 1
    assert fuse(dense, lexical, 9.0, FusionConfig(method="rrf", dense_weight=0.3))[0].chunk_id == 2


def test_weighted_sum_formula() -> None:
    config = FusionConfig(
        dense_weight=0.6, dense_floor=0.7, dense_ceiling=0.9, lexical_saturation=0.5
    )
    hits = fuse([(1, 0.8)], [(1, 2.0)], 10.0, config)
    dense_part, lexical_part = 0.5, 0.4  # (0.8-0.7)/0.2; 2/10/0.5
    assert hits[0].score == pytest.approx(0.6 * dense_part + 0.4 * lexical_part)
    assert hits[0].dense_score == pytest.approx(dense_part)
    assert hits[0].lexical_score == pytest.approx(lexical_part)


def test_weighted_sum_uses_exact_extras() -> None:
    dense, lexical = [(1, 0.85)], [(2, 6.0)]
    plain = {h.chunk_id: h for h in fuse(dense, lexical, 10.0, WEIGHTED)}
    filled = {
        h.chunk_id: h
        for h in fuse(dense, lexical, 10.0, WEIGHTED, dense_extra={2: 0.9}, lexical_extra={1: 1.0})
    }
    assert plain[2].dense_score is None and filled[2].dense_score is not None
    assert filled[2].score > plain[2].score
    assert filled[1].lexical_score == pytest.approx(normalize_lexical(1.0, 10.0, WEIGHTED))


def test_normalizers_clip() -> None:
    assert normalize_dense(0.1, WEIGHTED) == 0.0
    assert normalize_dense(0.999, WEIGHTED) == 1.0
    assert normalize_lexical(100.0, 1.0, WEIGHTED) == 1.0
    assert normalize_lexical(1.0, 0.0, WEIGHTED) == 0.0


def test_saturated_lexical_scores_keep_the_bm25_order() -> None:
    config = FusionConfig(method="lexical", lexical_saturation=0.5)
    hits = fuse([], [(3, 9.0), (2, 5.0)], 10.0, config)
    assert [(h.chunk_id, h.score) for h in hits] == [(3, 1.0), (2, 1.0)]


def test_single_retriever_methods_keep_their_order() -> None:
    dense = [(1, 0.9), (2, 0.8), (3, 0.5)]
    lexical = [(3, 9.0), (2, 5.0)]
    dense_only = fuse(dense, lexical, 10.0, FusionConfig(method="dense"))
    assert [h.chunk_id for h in dense_only[:2]] == [1, 2]
    lexical_only = fuse(dense, lexical, 10.0, FusionConfig(method="lexical"))
    assert [h.chunk_id for h in lexical_only] == [3, 2]


def test_top_k() -> None:
    hits = fuse([(i, 0.9 - i / 100) for i in range(10)], [], 0.0, WEIGHTED, k=3)
    assert [h.chunk_id for h in hits] == [0, 1, 2]


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        FusionConfig(dense_weight=1.5)
    with pytest.raises(ValueError):
        FusionConfig(dense_floor=0.9, dense_ceiling=0.8)
    with pytest.raises(ValueError):
        FusionConfig(lexical_saturation=0)


@pytest.mark.parametrize("seed", range(20))
def test_n_signal_rankings_are_fuse_for_two_signals(seed: int) -> None:
    """`weighted_ranking` / `rrf_ranking` (any number of signals, for evaluations) rank two
    signals exactly as `fuse` does."""
    rng = random.Random(seed)
    dense, lexical = random_lists(rng)
    reference = rng.uniform(5.0, 40.0)
    for config in (FusionConfig(dense_weight=rng.uniform(0, 1)), RRF):
        expected = [(h.chunk_id, h.score) for h in fuse(dense, lexical, reference, config)]
        w = config.dense_weight
        if config.method == "rrf":
            lists = [[c for c, _ in dense], [c for c, _ in lexical]]
            got = rrf_ranking(lists, [w, 1 - w], config.rrf_k)
        else:
            components = [
                {c: dense_component(s, config) for c, s in dense},
                {c: lexical_component(s, reference, config) for c, s in lexical},
            ]
            got = weighted_ranking(components, [w, 1 - w])
        assert [c for c, _ in got] == [c for c, _ in expected]
        assert [s for _, s in got] == pytest.approx([s for _, s in expected])


def test_weighted_ranking_of_three_signals() -> None:
    ranked = weighted_ranking([{1: 1.0, 2: 0.2}, {2: 0.9}, {3: 2.0}], [0.5, 0.3, 0.2], k=2)
    assert ranked == [(1, pytest.approx(0.5)), (2, pytest.approx(0.37))]
