"""An LLM entry may set its own number of sources and context budget (a small model answers
sooner from fewer prompt tokens); without them, the knowledge-base settings apply."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake import FakeStreamingListLLM

from rag.chains.qa import build_context
from rag.factory import build_services, context_budget
from rag.settings import load_settings
from rag.tokens import estimate_tokens

TEXTS = {f"doc{i}.txt": f"第{i}号文件。项目{i}的代号是代号{i}。" for i in range(6)}


def entry_with(**overrides: object) -> dict[str, object]:
    base = load_settings(env={}).models.llm_model_dict["fast"].model_dump(exclude_none=True)
    return {**base, **overrides}


def test_entry_overrides_top_k_and_budget():
    plain = load_settings(env={}, vector_search_top_k=4, context_char_budget=1500)
    assert (plain.answer_top_k, context_budget(plain)) == (4, 1500)
    own = load_settings(
        env={},
        vector_search_top_k=4,
        context_char_budget=1500,
        llm_model="small",
        llm_model_dict={"small": entry_with(vector_search_top_k=1, context_char_budget=600)},
    )
    assert (own.answer_top_k, context_budget(own)) == (1, 600)


def test_chat_answers_from_the_entrys_number_of_sources(tmp_path):
    settings = load_settings(
        env={},
        vector_search_top_k=4,
        llm_model="small",
        llm_model_dict={"small": entry_with(vector_search_top_k=2)},
    )
    services = build_services(
        settings,
        kb_root=tmp_path / "kbs",
        llm=FakeStreamingListLLM(responses=["代号 [1]"]),
        embeddings=DeterministicFakeEmbedding(size=16),
    )
    services.kb.create_kb("kb")
    for name, text in TEXTS.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        [result] = services.kb.add_files("kb", [(name, path)])
        assert result.status == "ok"
    [sources] = [
        e.sources for e in services.chat("项目的代号是什么？", "kb") if e.kind == "sources"
    ]
    assert len(sources) == 2
    assert services.retriever("kb").top_k == 2


def doc(text: str, rank: int) -> Document:
    return Document(page_content=text, metadata={"source": f"d{rank}.txt", "score": 1 - rank / 10})


def test_token_budget_keeps_the_best_chunk_and_what_fits_after_it():
    docs = [doc("a" * 120, 0), doc("b" * 100, 1), doc("c" * 30, 2), doc("d" * 40, 3)]
    kept = build_context(docs, 2000, token_budget=160, count_tokens=len)
    assert [s.text[0] for s in kept] == ["a", "c"]  # b does not fit, the shorter c does
    assert [s.index for s in kept] == [1, 2]
    [only] = build_context(docs, 2000, token_budget=50, count_tokens=len)
    assert only.text == "a" * 120  # the best chunk goes in whatever its size
    assert len(build_context(docs, 2000, token_budget=None, count_tokens=len)) == 4


def test_token_budget_fits_more_english_chunks_than_chinese():
    chinese = [doc("新北市的海岸線約有一百二十公里，沿岸有多處漁港。" * 6, r) for r in range(3)]
    english = [doc(f"Chunk {r}: the reading room opens at nine on weekdays.", r) for r in range(3)]
    assert len(build_context(chinese, 2000, 200, estimate_tokens)) == 1
    assert len(build_context(english, 2000, 200, estimate_tokens)) == 3


def test_chat_uses_the_entrys_token_budget(tmp_path):
    settings = load_settings(
        env={}, llm_model="small", llm_model_dict={"small": entry_with(context_token_budget=16)}
    )
    services = build_services(
        settings,
        kb_root=tmp_path / "kbs",
        llm=FakeStreamingListLLM(responses=["代号 [1]"]),
        embeddings=DeterministicFakeEmbedding(size=16),
    )
    assert services.qa.context_token_budget == 16
    services.kb.create_kb("kb")
    for name, text in TEXTS.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        services.kb.add_files("kb", [(name, path)])
    [sources] = [
        e.sources for e in services.chat("项目的代号是什么？", "kb") if e.kind == "sources"
    ]
    assert len(sources) == 1  # each chunk is ~20 estimated tokens
