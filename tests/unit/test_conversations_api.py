"""The conversation routes and `/api/chat`'s `conversation_id`, through the real app with fake
models (fast): owners, 404 for another owner's, the stored history, export, limits."""

from __future__ import annotations

import secrets
from urllib.parse import unquote

import pytest

from tests.unit.test_api import make_client

DOC = "# 星河科技\n\n星河科技公司成立于1987年，总部位于杭州市西湖区。\n"


def session(name: str) -> dict[str, str]:
    """A session of its own for each test: one app serves the module."""
    return {"X-Zhiku-Session": f"{name}-{secrets.token_hex(8)}"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    client = make_client(tmp_path_factory.mktemp("conversations-api"))
    for kb in ("库", "待删"):
        assert client.post("/api/kbs", json={"name": kb}).status_code == 201
        files = [("files", ("星河.md", DOC.encode()))]
        assert client.post(f"/api/kbs/{kb}/docs", files=files).status_code == 200
    return client


@pytest.fixture
def alice():
    return session("alice")


def ask(client, query, headers, conversation_id="new", **body):
    return client.post(
        "/api/chat",
        json={"kb": "库", "query": query, "conversation_id": conversation_id, **body},
        headers=headers,
    )


def test_a_conversation_is_kept_listed_read_renamed_exported_and_deleted(client, alice):
    first = ask(client, "星河科技哪年成立？", alice)
    assert first.status_code == 200, first.text
    conversation_id = first.json()["conversation_id"]
    assert first.headers["X-Zhiku-Conversation"] == conversation_id
    follow_up = ask(client, "它在哪里？", alice, conversation_id)
    assert follow_up.json()["conversation_id"] == conversation_id

    [listed] = client.get("/api/conversations", headers=alice).json()["conversations"]
    assert listed["id"] == conversation_id and listed["title"] == "星河科技哪年成立？"
    assert listed["kb"] == "库" and listed["message_count"] == 4
    detail = client.get(f"/api/conversations/{conversation_id}", headers=alice).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"] * 2
    assert detail["messages"][1]["text"] == "答案 [1]"
    assert detail["messages"][1]["sources"][0]["source"] == "星河.md"

    path = f"/api/conversations/{conversation_id}"
    renamed = client.patch(path, json={"title": "星河 / 杭州"}, headers=alice)
    assert renamed.status_code == 200 and renamed.json()["title"] == "星河 / 杭州"
    export = client.get(path + "/export.md", headers=alice)
    assert export.headers["content-type"].startswith("text/markdown")
    disposition = export.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "星河 _ 杭州.md" in unquote(disposition)
    assert export.text.startswith("# 星河 / 杭州\n")
    assert "## 问题 2\n\n它在哪里？" in export.text and "**星河.md**" in export.text

    assert client.delete(path, headers=alice).json() == {"deleted": conversation_id}
    assert client.get(path, headers=alice).status_code == 404
    assert client.get("/api/conversations", headers=alice).json() == {"conversations": []}


def test_another_owners_conversation_is_404(client, alice):
    bob = session("bob")
    conversation_id = ask(client, "星河科技哪年成立？", alice).json()["conversation_id"]
    path = f"/api/conversations/{conversation_id}"
    assert client.get("/api/conversations", headers=bob).json() == {"conversations": []}
    for reply in (
        client.get(path, headers=bob),
        client.get(path + "/export.md", headers=bob),
        client.patch(path, json={"title": "mine now"}, headers=bob),
        client.delete(path, headers=bob),
        ask(client, "它在哪里？", bob, conversation_id),
    ):
        assert reply.status_code == 404, reply.text
        assert "no conversation" in reply.json()["error"]
    assert client.get(path, headers=alice).json()["title"] == "星河科技哪年成立？"


def test_without_a_session_nothing_is_kept_and_the_routes_say_what_to_send(client, alice):
    plain = client.post("/api/chat", json={"kb": "库", "query": "星河科技哪年成立？"})
    assert plain.status_code == 200 and plain.json()["conversation_id"] is None
    assert "X-Zhiku-Conversation" not in plain.headers
    for reply in (client.get("/api/conversations"), ask(client, "问题", {})):
        assert reply.status_code == 400 and "X-Zhiku-Session" in reply.json()["error"]
    bad = client.get("/api/conversations", headers={"X-Zhiku-Session": "short"})
    assert bad.status_code == 400 and "16 to 128" in bad.json()["error"]
    both = ask(client, "问题", alice, history=[["q", "a"]])
    assert both.status_code == 400 and "history" in both.json()["error"]
    assert client.get("/api/conversations", headers=alice).json() == {"conversations": []}


def test_a_streamed_turn_is_kept_and_names_its_conversation(client, alice):
    body = {"kb": "库", "query": "星河科技哪年成立？", "conversation_id": "new", "stream": True}
    with client.stream("POST", "/api/chat", json=body, headers=alice) as response:
        conversation_id = response.headers["X-Zhiku-Conversation"]
        events = [line for line in response.iter_lines() if line.startswith("event: ")]
    assert events[-2:] == ["event: sources", "event: done"]
    detail = client.get(f"/api/conversations/{conversation_id}", headers=alice).json()
    assert detail["messages"][1]["text"] == "答案 [1]"


def test_deleting_the_kb_keeps_its_conversations(client, alice):
    reply = ask(client, "星河科技哪年成立？", alice, kb="待删")
    conversation_id = reply.json()["conversation_id"]
    assert client.delete("/api/kbs/待删").status_code == 200
    path = f"/api/conversations/{conversation_id}"
    detail = client.get(path, headers=alice).json()
    assert detail["kb"] == "待删" and detail["messages"][1]["sources"][0]["text"].startswith("星河")
    gone = ask(client, "它在哪里？", alice, conversation_id, kb="待删")
    assert gone.status_code == 404 and "待删" in gone.json()["error"]  # the KB's 404
    assert len(client.get(path, headers=alice).json()["messages"]) == 2  # not kept


def test_the_token_owns_them_and_limits_are_409_and_413(tmp_path):
    client = make_client(
        tmp_path, api_token="secret-token", max_conversations=1, max_conversation_turns=1
    )
    auth = {"Authorization": "Bearer secret-token"}
    conversation_id = ask(client, "你好", auth, kb=None).json()["conversation_id"]
    listed = client.get("/api/conversations", headers=auth).json()["conversations"]
    assert [c["id"] for c in listed] == [conversation_id]
    # a session header, with the token, is an owner of its own
    own = {**auth, **session("alice")}
    assert client.get("/api/conversations", headers=own).json() == {"conversations": []}

    again = ask(client, "二", auth, kb=None)
    assert again.status_code == 409 and "MAX_CONVERSATIONS" in again.json()["error"]
    more = ask(client, "三", auth, conversation_id, kb=None)
    assert more.status_code == 409 and "MAX_CONVERSATION_TURNS" in more.json()["error"]
    path = f"/api/conversations/{conversation_id}"
    long_title = client.patch(path, json={"title": "长" * 201}, headers=auth)
    assert long_title.status_code == 413
    assert long_title.json()["error"].startswith("the title is 201 characters")
    assert client.get("/api/conversations", headers={}).status_code == 401
