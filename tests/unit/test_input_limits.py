"""Length limits on queries, chat questions and chat history (MAX_QUERY_CHARS,
MAX_HISTORY_CHARS): 413 with a message naming the setting, in the API and below it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake import FakeStreamingListLLM

from rag.errors import InputTooLongError
from rag.factory import build_services, create_app
from rag.services import Services
from rag.settings import load_settings


def make_services(tmp_path: Path, **overrides) -> Services:
    services = build_services(
        load_settings(env={}, **overrides),
        kb_root=tmp_path / "kbs",
        llm=FakeStreamingListLLM(responses=["答案 [1]"] * 50),
        embeddings=DeterministicFakeEmbedding(size=16),
    )
    services.kb.create_kb("kb")
    doc = tmp_path / "a.md"
    doc.write_text("# 标题\n\n港口的内容。", "utf-8")
    services.kb.add_files("kb", [("a.md", doc)])
    return services


def client_of(services: Services) -> TestClient:
    # the app answers to the loopback names it is served on
    return TestClient(create_app(services), base_url="http://127.0.0.1")


@pytest.fixture
def services(tmp_path) -> Services:
    return make_services(tmp_path)


@pytest.fixture
def client(services) -> TestClient:
    return client_of(services)


def test_defaults() -> None:
    settings = load_settings(env={})
    assert settings.server.max_query_chars == 2000 and settings.server.max_history_chars == 12000


def test_search_query_over_the_limit_is_413(client):
    assert client.post("/api/kbs/kb/search", json={"query": "港" * 2000}).status_code == 200
    reply = client.post("/api/kbs/kb/search", json={"query": "港" * 2001})
    assert reply.status_code == 413
    error = reply.json()["error"]
    assert "2,001" in error and "2,000" in error and "MAX_QUERY_CHARS" in error


@pytest.mark.parametrize("stream", [False, True])
def test_chat_question_over_the_limit_is_413(client, stream):
    ok = client.post("/api/chat", json={"kb": "kb", "query": "港" * 2000, "stream": stream})
    assert ok.status_code == 200
    reply = client.post("/api/chat", json={"kb": "kb", "query": "港" * 2001, "stream": stream})
    assert reply.status_code == 413 and "MAX_QUERY_CHARS" in reply.json()["error"]
    plain = client.post("/api/chat", json={"kb": None, "query": "港" * 100_000})
    assert plain.status_code == 413 and "100,000" in plain.json()["error"]


def test_chat_history_over_the_limit_is_413(client):
    # the last LLM_HISTORY_LEN (3) turns are read: 3 x 4,001 characters is over 12,000
    long_turns = [["问" * 2000, "答" * 2001]] * 3
    reply = client.post("/api/chat", json={"kb": "kb", "query": "港口？", "history": long_turns})
    assert reply.status_code == 413
    assert "MAX_HISTORY_CHARS" in reply.json()["error"] and "12,003" in reply.json()["error"]
    fits = [["问" * 2000, "答" * 2000]] * 3
    reply = client.post("/api/chat", json={"kb": "kb", "query": "港口？", "history": fits})
    assert reply.status_code == 200


def test_turns_that_are_not_read_do_not_count(client):
    history = [["问" * 50_000, "答" * 50_000], ["短", "短"], ["短", "短"], ["短", "短"]]
    reply = client.post("/api/chat", json={"kb": "kb", "query": "港口？", "history": history})
    assert reply.status_code == 200


def test_limits_are_configurable(tmp_path):
    client = client_of(make_services(tmp_path, max_query_chars=5))
    reply = client.post("/api/kbs/kb/search", json={"query": "港口的内容是"})
    assert reply.status_code == 413 and "at most 5 " in reply.json()["error"]
    history = [["问题", "答案"]]
    client = client_of(make_services(tmp_path / "2", max_history_chars=3))
    reply = client.post("/api/chat", json={"query": "港口？", "history": history})
    assert reply.status_code == 413 and "at most 3 " in reply.json()["error"]


def test_services_chat_refuses_before_taking_a_queue_slot(services):
    """What the UI's chat calls: the error comes on the first event, no slot is held."""
    events = services.chat("港" * 2001, "kb", [])
    with pytest.raises(InputTooLongError, match="MAX_QUERY_CHARS"):
        next(events)
    events = services.chat("港口？", None, [("问" * 13_000, "答")])
    with pytest.raises(InputTooLongError, match="MAX_HISTORY_CHARS"):
        next(events)
    assert services.llm_gate.pending == 0


def test_kb_search_refuses_a_long_query(services):
    """The search the CLI (`rag kb search`) and `rag eval` call."""
    with pytest.raises(InputTooLongError, match="MAX_QUERY_CHARS"):
        services.kb.search("kb", "港" * 2001, 5)


def test_retriever_searches_the_beginning_of_a_long_rewritten_question(services):
    retriever = services.kb.retriever("kb", top_k=3)
    documents = retriever.invoke("港口的内容" + "。" * 3000)
    assert documents and documents[0].metadata["source"] == "a.md"
