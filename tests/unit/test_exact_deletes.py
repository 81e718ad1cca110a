"""Deleting a document or a knowledge base while a chat on it is in flight: the chat ends
cleanly, and no later search, chat source or BM25 hit returns the deleted text."""

from __future__ import annotations

from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake import FakeStreamingListLLM

from rag.chains import collect_answer
from rag.factory import build_services
from rag.settings import load_settings


def make_services(tmp_path):
    return build_services(
        load_settings(env={}),
        kb_root=tmp_path / "kbs",
        llm=FakeStreamingListLLM(responses=["一个比较长的回答，逐字流出。"] * 10, sleep=0.01),
        embeddings=DeterministicFakeEmbedding(size=16),
    )


def add(services, kb: str, name: str, text: str, tmp_path) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    [result] = services.kb.add_files(kb, [(name, path)])
    assert result.status == "ok"


def test_delete_document_during_a_chat(tmp_path):
    services = make_services(tmp_path)
    services.kb.create_kb("kb")
    add(services, "kb", "secret.txt", "机密项目代号是青龙。", tmp_path)
    add(services, "kb", "public.txt", "公开项目代号是白虎。", tmp_path)
    chat = services.chat("项目代号是什么？", "kb")
    events = [next(chat)]  # retrieval done, the answer not yet streamed
    assert events[0].kind == "sources"
    services.kb.delete_doc("kb", "secret.txt")
    events += list(chat)  # the in-flight answer finishes without error
    assert "".join(e.text for e in events if e.kind == "token")
    for query in ("机密项目代号是青龙", "青龙", "项目代号"):
        hits = services.kb.search("kb", query, top_k=10)
        assert all("青龙" not in h.text and h.source != "secret.txt" for h in hits)
    store = services.kb.store("kb")
    assert all(
        store.chunks_by_id([i])[i].file_name == "public.txt"
        for i, _ in store.lexical_search("青龙 项目", 10).hits
    )
    answer = collect_answer(services.chat("青龙是什么？", "kb"))
    assert all(s.source != "secret.txt" for s in answer.sources)


def test_delete_knowledge_base_during_a_chat_and_after_restart(tmp_path):
    services = make_services(tmp_path)
    services.kb.create_kb("kb")
    add(services, "kb", "secret.txt", "机密项目代号是青龙。", tmp_path)
    chat = services.chat("项目代号是什么？", "kb")
    next(chat)
    services.kb.delete_kb("kb")
    list(chat)
    assert services.kb.list_kbs() == []
    services.kb.create_kb("kb")  # same name again: starts empty
    assert services.kb.search("kb", "青龙", top_k=10) == []
    services.kb.close()
    again = make_services(tmp_path)
    assert again.kb.search("kb", "青龙", top_k=10) == []
