"""The official `openai` client and LangChain's ChatOpenAI / OpenAIEmbeddings against the
app (fake models), through the ASGI app as their HTTP client's transport."""

from __future__ import annotations

import openai
import pytest
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from tests.unit.test_openai_api import KB, add_kb, llm_name, make_app

TOKEN = "s3cret"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("clients"), api_token=TOKEN)
    app.headers["Authorization"] = f"Bearer {TOKEN}"
    add_kb(app)
    del app.headers["Authorization"]  # the clients send their own
    return app


@pytest.fixture(scope="module")
def client(app):
    # the TestClient is an httpx.Client over the ASGI app; the openai client sends its key
    return openai.OpenAI(
        base_url="http://127.0.0.1/v1", api_key=TOKEN, http_client=app, max_retries=0
    )


def test_models(client, app):
    assert [model.id for model in client.models.list()] == [llm_name(app), f"kb:{KB}"]


def test_chat_whole_and_streamed(client):
    messages = [{"role": "user", "content": "港口在哪里？"}]
    reply = client.chat.completions.create(model=f"kb:{KB}", messages=messages)
    assert reply.choices[0].message.content == "答案 [1]"
    assert reply.usage is not None and reply.usage.total_tokens > 0
    assert reply.model_extra is not None and reply.model_extra["sources"][0]["source"] == "a.md"
    stream = client.chat.completions.create(
        model=f"kb:{KB}", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "答案 [1]"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_embeddings_in_the_clients_default_base64(client, app):
    reply = client.embeddings.create(model="default", input=["港口", "城市"])
    expected = app.services.kb.embeddings.embed_documents(["港口", "城市"])
    assert [item.embedding for item in reply.data] == [
        pytest.approx(vector, rel=1e-6) for vector in expected
    ]


def test_errors_are_the_clients_exceptions(client, app):
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.code == "model_not_found" and llm_name(app) in missing.value.message
    wrong = openai.OpenAI(
        base_url="http://127.0.0.1/v1", api_key="wrong", http_client=app, max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()


def test_langchain_chat_openai_and_embeddings(app):
    chat = ChatOpenAI(
        model=f"kb:{KB}", base_url="http://127.0.0.1/v1", api_key=TOKEN, http_client=app
    )
    assert chat.invoke("港口在哪里？").content == "答案 [1]"
    assert "".join(str(c.content) for c in chat.stream("港口在哪里？")) == "答案 [1]"
    embeddings = OpenAIEmbeddings(
        model="default",
        base_url="http://127.0.0.1/v1",
        api_key=TOKEN,
        http_client=app,
        check_embedding_ctx_length=False,  # else it sends tiktoken's token ids
    )
    expected = app.services.kb.embeddings.embed_query("港口")
    assert embeddings.embed_query("港口") == pytest.approx(expected, rel=1e-6)
