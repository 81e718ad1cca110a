"""The OpenAI-compatible API under /v1 with fake models (fast): models, chat completions
whole and streamed, embeddings, OpenAI's error shape, and the same token, origin check and
body limit as /api."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake import FakeStreamingListLLM

from rag.factory import build_services, create_app
from rag.services import Services
from rag.settings import load_settings

KB = "库"
DOC = "# 标题\n\n内容一。港口在城市的东边。"


def make_app(tmp_path: Path, responses: list[str] | None = None, **overrides) -> TestClient:
    services = build_services(
        load_settings(env={}, **overrides),
        kb_root=tmp_path / "kbs",
        llm=FakeStreamingListLLM(responses=responses or ["答案 [1]"] * 50),
        embeddings=DeterministicFakeEmbedding(size=16),
    )
    client = TestClient(create_app(services), base_url="http://127.0.0.1")
    client.services = services  # type: ignore[attr-defined]
    return client


def add_kb(client: TestClient, name: str = KB, text: str = DOC) -> None:
    assert client.post("/api/kbs", json={"name": name}).status_code == 201
    files = [("files", ("a.md", text.encode()))]
    assert client.post(f"/api/kbs/{name}/docs", files=files).status_code == 200


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    client = make_app(tmp_path_factory.mktemp("openai"))
    add_kb(client)
    add_kb(client, "私人日记", "秘密。")
    return client


def llm_name(client: TestClient) -> str:
    services: Services = client.services  # type: ignore[attr-defined]
    return services.settings.models.llm_model


def ask(model: str, question: str = "港口在哪里？", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": question}], **extra}


def chunks(reply) -> list[dict]:
    """The `data:` payloads of a streamed answer, checking it ends with [DONE]."""
    lines = [line for line in reply.text.split("\n\n") if line]
    assert all(line.startswith("data: ") for line in lines), reply.text
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


def openai_error(reply, status: int, code: str | None = None) -> str:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if code is not None:
        assert error["code"] == code
    return error["message"]


def test_models_lists_the_llm_and_each_kb(client):
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    ids = [model["id"] for model in body["data"]]
    assert ids == [llm_name(client), "kb:库", "kb:私人日记"]
    assert all(m["object"] == "model" and m["owned_by"] == "zhiku" for m in body["data"])


def test_a_kb_answer_has_its_sources_and_usage(client):
    body = client.post("/v1/chat/completions", json=ask("kb:库")).json()
    assert body["object"] == "chat.completion" and body["model"] == "kb:库"
    assert body["id"].startswith("chatcmpl-")
    (choice,) = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": "答案 [1]"}
    assert choice["finish_reason"] == "stop"
    assert body["sources"][0]["source"] == "a.md" and body["sources"][0]["index"] == 1
    assert set(body["sources"][0]) == {"index", "source", "page", "text", "score", "url"}
    usage = body["usage"]
    assert usage["completion_tokens"] > 0 and usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # the same answer as /api/chat's
    same = client.post("/api/chat", json={"kb": KB, "query": "港口在哪里？"}).json()
    assert same["sources"] == body["sources"]


def test_the_llm_name_answers_without_a_kb(client):
    body = client.post("/v1/chat/completions", json=ask(llm_name(client), "你好")).json()
    assert body["choices"][0]["message"]["content"] == "答案 [1]"
    assert body["sources"] == []


def test_history_and_question_go_to_the_same_chat_path(client, monkeypatch):
    services: Services = client.services
    seen = []
    original = services.chat

    def chat(question, kb, history=()):
        seen.append((question, kb, list(history)))
        return original(question, kb, history)

    monkeypatch.setattr(services, "chat", chat)
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "问题一"},
        {"role": "assistant", "content": "回答一"},
        {"role": "user", "content": [{"type": "text", "text": "问题二"}]},
    ]
    reply = client.post("/v1/chat/completions", json={"model": "kb:库", "messages": messages})
    assert reply.status_code == 200
    assert seen == [("问题二", KB, [("问题一", "回答一")])]


def test_stream_is_role_then_pieces_then_stop_with_sources_then_done(client):
    reply = client.post("/v1/chat/completions", json=ask("kb:库", stream=True))
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    data = chunks(reply)
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "kb:库" for c in data)
    assert len({c["id"] for c in data}) == 1
    assert data[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in data)
    assert text == "答案 [1]"
    assert [c["choices"][0]["finish_reason"] for c in data][-1] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in data[:-1])
    assert data[-1]["sources"][0]["source"] == "a.md" and "page" in data[-1]["sources"][0]
    assert "sources" not in data[0]


def test_stream_usage_when_asked(client):
    request = ask("kb:库", stream=True, stream_options={"include_usage": True})
    data = chunks(client.post("/v1/chat/completions", json=request))
    assert data[-1]["choices"] == [] and data[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("stream", [False, True])
def test_unknown_model_is_404_naming_the_llm_but_no_kb(client, stream):
    message = openai_error(
        client.post("/v1/chat/completions", json=ask("gpt-4o", stream=stream)),
        404,
        "model_not_found",
    )
    assert llm_name(client) in message and "kb:<name>" in message and "私人" not in message
    message = openai_error(
        client.post("/v1/chat/completions", json=ask("kb:nope", stream=stream)),
        404,
        "model_not_found",
    )
    assert "'nope'" in message and "私人" not in message


@pytest.mark.parametrize("stream", [False, True])
def test_a_question_over_the_limit_is_413(tmp_path_factory, stream):
    client = make_app(tmp_path_factory.mktemp("long"), max_query_chars=10)
    request = ask(llm_name(client), "长" * 11, stream=stream)
    reply = client.post("/v1/chat/completions", json=request)
    assert "MAX_QUERY_CHARS" in openai_error(reply, 413, "input_too_long")


@pytest.mark.parametrize("stream", [False, True])
def test_a_full_queue_is_503_with_retry_after(tmp_path_factory, stream):
    client = make_app(tmp_path_factory.mktemp("busy"), llm_queue_size=1)
    with client.services.llm_gate.slot():
        reply = client.post("/v1/chat/completions", json=ask(llm_name(client), stream=stream))
        openai_error(reply, 503, "busy")
        assert reply.json()["error"]["type"] == "server_error"
        assert int(reply.headers["retry-after"]) > 0


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}],
        [{"role": "system", "content": "只有系统"}],
        [{"role": "tool", "content": "x"}, {"role": "user", "content": "问"}],
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
    ],
)
def test_messages_without_a_question_are_400(client, messages):
    body = {"model": "kb:库", "messages": messages}
    openai_error(client.post("/v1/chat/completions", json=body), 400, "bad_request")


def test_invalid_bodies_and_routes_are_openai_errors(client):
    openai_error(client.post("/v1/chat/completions", json={"model": "x"}), 422)
    broken = client.post(
        "/v1/chat/completions", content=b"{", headers={"Content-Type": "application/json"}
    )
    openai_error(broken, 422, "invalid_json")
    openai_error(client.get("/v1/nothing"), 404, "not_found")
    reply = client.get("/v1/chat/completions")
    openai_error(reply, 405, "method_not_allowed")
    assert reply.headers["allow"] == "POST"
    # /api keeps its own shape
    assert isinstance(client.get("/api/nothing").json()["error"], str)


def test_embeddings_float_and_base64(client):
    services: Services = client.services
    expected = services.kb.embeddings.embed_documents(["港口", "城市"])
    body = client.post("/v1/embeddings", json={"model": "default", "input": ["港口", "城市"]})
    body = body.json()
    assert body["object"] == "list" and body["model"] == services.settings.models.embedding_model
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert body["data"][0]["embedding"] == pytest.approx(expected[0])
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    request = {"model": services.settings.models.embedding_model, "input": "港口"}
    packed = client.post("/v1/embeddings", json={**request, "encoding_format": "base64"})
    raw = base64.b64decode(packed.json()["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == pytest.approx(expected[0], rel=1e-6)


def test_embedding_errors(client):
    openai_error(client.post("/v1/embeddings", json={"model": "x", "input": "a"}), 404)
    openai_error(client.post("/v1/embeddings", json={"model": "default", "input": [1, 2]}), 400)
    openai_error(client.post("/v1/embeddings", json={"model": "default", "input": []}), 400)
    openai_error(client.post("/v1/embeddings", json={"model": "default", "input": [""]}), 400)


def test_the_api_token_guards_v1(tmp_path):
    client = make_app(tmp_path, api_token="s3cret")
    openai_error(client.get("/v1/models"), 401, "invalid_api_key")
    assert client.get("/v1/models").json()["error"]["type"] == "authentication_error"
    wrong = {"Authorization": "Bearer wrong"}
    assert client.post("/v1/embeddings", headers=wrong, json={}).status_code == 401
    right = {"Authorization": "Bearer s3cret"}
    assert client.get("/v1/models", headers=right).status_code == 200


def test_origin_guard_and_body_limit_cover_v1(client):
    cross = client.post(
        "/v1/chat/completions", json=ask("kb:库"), headers={"Origin": "https://evil.example"}
    )
    openai_error(cross, 403, "forbidden")
    rebound = client.get("/v1/models", headers={"Host": "evil.example"})
    openai_error(rebound, 403)
    big = {"model": "default", "input": ["港" * 400_000]}
    openai_error(client.post("/v1/embeddings", json=big), 413, "request_too_large")


# ---- an answer the chain withdraws ("replace") is never sent --------------------------------

ECHO_QUESTION = "萊茵河沿線的第幾大港口是史特拉斯堡港?"


def test_a_withdrawn_echo_is_never_streamed(tmp_path):
    """The chain's echo_retry: the first answer repeats the question, is withdrawn once it
    ended and asked again; the stream holds it back, so only the second try is sent (and
    under it the quote of the source's sentence it rests on)."""
    echo, second = ECHO_QUESTION + " [1]", "史特拉斯堡港是第二大港口 [1]"
    client = make_app(tmp_path, responses=[echo, second] * 10)
    second += "\n\n> 萊茵河沿線的第二大港口是史特拉斯堡港。 [1]"
    assert "echo_retry" in client.services.settings.retry_policies
    add_kb(client, text="# 港口\n\n萊茵河沿線的第二大港口是史特拉斯堡港。")
    data = chunks(
        client.post("/v1/chat/completions", json=ask("kb:库", ECHO_QUESTION, stream=True))
    )
    pieces = [c["choices"][0]["delta"].get("content", "") for c in data]
    assert "".join(pieces) == second
    assert not any("第幾大" in piece for piece in pieces)
    whole = client.post("/v1/chat/completions", json=ask("kb:库", ECHO_QUESTION)).json()
    assert whole["choices"][0]["message"]["content"] == second


def test_an_answer_withdrawn_for_naming_what_no_source_holds_is_never_streamed(tmp_path):
    """unsupported_answer (the 1.5B's entry lists it; here the test model's settings list
    it too): the stream holds the first sentence back, so only the "not found" reply goes."""
    hallucinated = "The first president of Tanzania was Julius Nyerere [1]. He led it."
    client = make_app(tmp_path, responses=[hallucinated] * 10)
    assert "unsupported_answer" in client.services.settings.retry_policies
    add_kb(client, text="# Kenya\n\nKenya's first president was Jomo Kenyatta.")
    question = "Who was the first president of Tanzania?"
    data = chunks(client.post("/v1/chat/completions", json=ask("kb:库", question, stream=True)))
    pieces = [c["choices"][0]["delta"].get("content", "") for c in data]
    assert "".join(pieces) == "I could not find the answer in the documents."
    whole = client.post("/v1/chat/completions", json=ask("kb:库", question)).json()
    assert whole["choices"][0]["message"]["content"] == "".join(pieces)


def ECHO_HOLD(answer_start: str, question: str) -> bool:
    from rag.chains.retry import may_repeat_question

    return may_repeat_question(answer_start, question)


def _events(*texts: str):
    from rag.chains import ChatEvent

    return [ChatEvent("token", text=text) for text in texts]


def test_answer_text_holds_back_only_while_an_echo_is_possible():
    from rag.api.openai.openai_service import AnswerText
    from rag.chains import ChatEvent

    text = AnswerText(ECHO_QUESTION, ECHO_HOLD)
    echo = _events(*ECHO_QUESTION, " [1]")
    assert [text.feed(e) for e in echo] == [""] * len(echo)
    assert text.feed(ChatEvent("replace")) == ""
    assert text.feed(ChatEvent("token", text="第二")) == "第二"
    assert text.finish() == "" and text.sent == "第二"

    long_answer = "史特拉斯堡港是萊茵河沿線的第二大港口，位於法國東部，" * 3
    text = AnswerText(ECHO_QUESTION, ECHO_HOLD)
    sent = [text.feed(e) for e in _events(*long_answer)]
    first = next(i for i, piece in enumerate(sent) if piece)
    assert first < len(long_answer) // 2  # streaming began long before the answer ended
    assert all(sent[first + 1 :]) and text.finish() == "" and text.sent == long_answer

    short = AnswerText(ECHO_QUESTION, ECHO_HOLD)
    assert [short.feed(e) for e in _events("二", "。")] == ["", ""]
    assert short.finish() == "二。"

    free = AnswerText(ECHO_QUESTION, None)
    assert free.feed(_events("萊")[0]) == "萊"
    # a replace after text was sent (the chain does not do it) goes after it
    assert free.feed(ChatEvent("replace", text="新")) == "\n\n新"


def test_the_held_back_stream_follows_the_rewritten_question():
    from rag.api.openai.openai_service import AnswerText
    from rag.chains import ChatEvent

    text = AnswerText("它在哪？", ECHO_HOLD)
    text.feed(ChatEvent("rewritten", text=ECHO_QUESTION))
    assert [text.feed(e) for e in _events(*ECHO_QUESTION)] == [""] * len(ECHO_QUESTION)


@pytest.mark.parametrize(
    ("answer", "question"),
    [
        (ECHO_QUESTION + " [1]", ECHO_QUESTION),
        ("萊茵河沿線的第幾大港口是史特拉斯堡港？[12]", ECHO_QUESTION),
        ("萊茵河沿線之第幾大港口是史特拉斯堡港？", ECHO_QUESTION),
        ("萊茵河沿線的第幾大港口是史特拉斯堡港嗎？", ECHO_QUESTION),
        ("What is the main telescope's mirror size?", "what is the main telescope's mirror size"),
        ("", "问题"),
    ],
)
def test_an_echo_may_repeat_the_question_at_every_point(answer, question):
    """What `may_repeat_question` promises: an answer judged an echo when it ends was one
    at each of its beginnings, so a stream that sent a beginning never needs to withdraw it."""
    from rag.chains.retry import may_repeat_question, repeats_question

    assert repeats_question(answer, question)
    assert all(may_repeat_question(answer[:end], question) for end in range(len(answer) + 1))
    assert not may_repeat_question(answer + "，它是第二大港口，在法國東部。" * 2, question)
