"""Every error under /api is JSON `{"error": ...}` with a fitting status, including routes
that do not exist, wrong methods and bodies FastAPI cannot parse; a 404 for a knowledge base
names no other knowledge base."""

from __future__ import annotations

import pytest

from tests.unit.test_api import make_client


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    client = make_client(tmp_path_factory.mktemp("errors"))
    for name in ("secret-plans", "私人日记"):
        assert client.post("/api/kbs", json={"name": name}).status_code == 201
    return client


def _error(reply, status: int) -> str:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"]
    return body["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/nonexistent"),
        ("POST", "/api/nonexistent/deeper"),
        ("DELETE", "/api/kbs/secret-plans/docs/a.txt/more"),
        ("GET", "/api"),
        ("GET", "/api/"),
    ],
)
def test_unknown_api_routes_are_404(client, method, path):
    assert "no API route" in _error(client.request(method, path), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/chat", "POST"),
        ("PATCH", "/api/kbs", "GET, POST"),
        ("POST", "/api/kbs/secret-plans", "DELETE"),
        ("GET", "/api/kbs/secret-plans/search", "POST"),
    ],
)
def test_wrong_methods_are_405_with_allow(client, method, path, allowed):
    reply = client.request(method, path)
    assert method in _error(reply, 405)
    assert reply.headers["allow"] == allowed


def test_a_body_fastapi_cannot_parse_is_an_error(client):
    broken = client.post(
        "/api/kbs/secret-plans/docs",
        content=b"not multipart at all",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert _error(broken, 400)
    not_json = client.post(
        "/api/chat", content=b"{bad json", headers={"content-type": "application/json"}
    )
    assert "not valid JSON" in _error(not_json, 422)
    assert "query" in _error(client.post("/api/chat", json={"query": ""}), 422)


def test_unknown_kb_names_no_other_kb(client):
    for reply in (
        client.get("/api/kbs/nope/docs"),
        client.post("/api/kbs/nope/search", json={"query": "港口"}),
        client.post("/api/chat", json={"kb": "nope", "query": "港口？"}),
        client.delete("/api/kbs/nope"),
    ):
        error = _error(reply, 404)
        assert "'nope'" in error
        assert "secret" not in error and "私人" not in error


def test_auth_errors_and_unknown_routes_with_a_token(tmp_path):
    client = make_client(tmp_path, api_token="s3cret")
    assert "API token" in _error(client.get("/api/nonexistent"), 401)
    authorized = {"Authorization": "Bearer s3cret"}
    assert _error(client.get("/api/nonexistent", headers=authorized), 404)
