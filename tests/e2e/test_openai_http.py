"""The real app (the `fast` model) through its OpenAI-compatible API, driven by the official
`openai` client over HTTP: models, a chat answer whole and streamed, embeddings. Run with
`-s` to see the calls and what they returned."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

pytestmark = pytest.mark.slow

TOKEN = "e2e-token"
KB = "星河"
DOC = (
    "# 星河科技\n\n星河科技公司成立于1987年，总部位于杭州市西湖区。"
    "公司的创始人是林晓峰，主要产品是工业机器人控制器。\n"
)


def show(call: str, result: object) -> None:
    print(f"\n>>> {call}\n{result}")


def test_the_official_openai_client_against_the_real_app(app_factory):
    app = app_factory("fast", env={"ZHIKU_API_TOKEN": TOKEN})
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=app.base_url, headers=headers, timeout=300) as http:
        assert http.post("/api/kbs", json={"name": KB}).status_code == 201
        files = [("files", ("星河科技.md", DOC.encode()))]
        assert http.post(f"/api/kbs/{KB}/docs", files=files).status_code == 200

    client = openai.OpenAI(base_url=app.base_url + "/v1", api_key=TOKEN, timeout=300)
    models = [model.id for model in client.models.list()]
    show("client.models.list()", models)
    assert models == ["fast", f"kb:{KB}"]

    messages = [{"role": "user", "content": "星河科技公司成立于哪一年？"}]
    reply = client.chat.completions.create(model=f"kb:{KB}", messages=messages)
    show(f"client.chat.completions.create(model='kb:{KB}', messages={messages})", reply)
    assert reply.choices[0].message.content and reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert reply.model_extra and reply.model_extra["sources"][0]["source"] == "星河科技.md"

    stream = client.chat.completions.create(model=f"kb:{KB}", messages=messages, stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    show(
        f"client.chat.completions.create(model='kb:{KB}', messages=..., stream=True)",
        f"{len(chunks)} chunks; text: {text!r}; last: {chunks[-1].model_dump_json()}",
    )
    assert chunks[0].choices[0].delta.role == "assistant" and text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["sources"][0]["source"] == "星河科技.md"

    plain = client.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "用一句话介绍杭州。"}]
    )
    show("client.chat.completions.create(model='fast', ...)", plain.choices[0].message)
    assert plain.choices[0].message.content and plain.model_extra["sources"] == []

    vectors = client.embeddings.create(model="default", input=["港口", "城市"])
    show(
        "client.embeddings.create(model='default', input=['港口', '城市'])",
        json.dumps(
            {
                "model": vectors.model,
                "dims": [len(item.embedding) for item in vectors.data],
                "first": vectors.data[0].embedding[:4],
                "usage": vectors.usage.model_dump(),
            }
        ),
    )
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) > 16

    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=messages)
    show("client.chat.completions.create(model='gpt-4o', ...)", repr(missing.value))
