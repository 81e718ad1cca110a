"""The OpenAPI schema documents every route's response, and errors map to HTTP statuses in
one table in the API layer (the domain's errors carry no status)."""

from __future__ import annotations

import pytest

from rag import errors
from rag.api.docs.docs_service import upload_response
from rag.api.errors import ERROR_STATUS, error_headers, status_of
from rag.llms.base import ContextWindowExceededError
from rag.services import FileResult
from tests.unit.test_api import make_client

# the README's REST table
ROUTES = {
    ("get", "/api/kbs"),
    ("post", "/api/kbs"),
    ("delete", "/api/kbs/{name}"),
    ("post", "/api/kbs/{name}/docs"),
    ("get", "/api/kbs/{name}/docs"),
    ("delete", "/api/kbs/{name}/docs/{file_name}"),
    ("post", "/api/kbs/{name}/search"),
    ("post", "/api/chat"),
    ("put", "/api/kbs/{name}/docs/{file_name}"),
    ("post", "/api/kbs/{name}/rebuild"),
    ("post", "/api/kbs/{name}/urls"),
    ("get", "/api/conversations"),
    ("get", "/api/conversations/{conversation_id}"),
    ("patch", "/api/conversations/{conversation_id}"),
    ("delete", "/api/conversations/{conversation_id}"),
    ("get", "/api/conversations/{conversation_id}/export.md"),
    ("get", "/api/kbs/{name}/docs/{file_name}"),
    ("get", "/api/kbs/{name}/docs/{file_name}/pages/{page}.png"),
    # the OpenAI-compatible API
    ("get", "/v1/models"),
    ("post", "/v1/chat/completions"),
    ("post", "/v1/embeddings"),
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    client = make_client(tmp_path_factory.mktemp("openapi"))
    reply = client.get("/openapi.json")
    assert reply.status_code == 200
    return reply.json()


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def test_the_schema_has_every_route_of_the_readme(schema):
    assert {(method, path) for method, path, _ in _operations(schema)} == ROUTES


# routes that answer with a file, not JSON
BINARY = {
    ("get", "/api/kbs/{name}/docs/{file_name}"): "application/octet-stream",
    ("get", "/api/kbs/{name}/docs/{file_name}/pages/{page}.png"): "image/png",
    ("get", "/api/conversations/{conversation_id}/export.md"): "text/markdown",
}


def test_every_route_has_a_response_schema(schema):
    for method, path, operation in _operations(schema):
        success = [s for s in operation["responses"] if s.startswith("2")]
        assert len(success) == 1, (method, path)
        content = operation["responses"][success[0]].get("content", {})
        media = BINARY.get((method, path), "application/json")
        assert content.get(media, {}).get("schema"), (method, path)
        for status, response in operation["responses"].items():
            for media, body in response.get("content", {}).items():
                assert body.get("schema"), (method, path, status, media)


def test_errors_are_documented_as_json_errors(schema):
    """Not FastAPI's `{"detail": ...}`: every error is `{"error": ...}`."""
    assert "HTTPValidationError" not in str(schema)
    for method, path, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if not status.startswith(("2", "3")):  # a 304 has no body
                assert "ErrorResponse" in str(response["content"]), (method, path, status)


def test_the_chat_stream_is_documented_with_its_events(schema):
    content = schema["paths"]["/api/chat"]["post"]["responses"]["200"]["content"]
    stream = content["text/event-stream"]
    item = stream["itemSchema"]["properties"]
    assert item["event"]["enum"] == ["rewritten", "token", "replace", "sources", "error", "done"]
    titles = {s["title"] for s in item["data"]["contentSchema"]["oneOf"]}
    assert titles == {"RewrittenEvent", "TextEvent", "SourcesEvent", "ErrorEvent", "DoneEvent"}
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatResponse"}


def test_every_reference_resolves(schema):
    components = schema["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = set(refs(schema))
    assert found
    for ref in found:
        assert ref.removeprefix("#/components/schemas/") in components, ref


def test_the_domain_errors_carry_no_http():
    classes = [c for c in vars(errors).values() if isinstance(c, type)]
    assert classes and not any(hasattr(c, "http_status") for c in classes)
    assert "http_status" not in FileResult.__dataclass_fields__


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.ZhikuError, 400),
        (errors.BadRequestError, 400),
        (errors.ConfigError, 400),
        (errors.InvalidNameError, 400),
        (errors.AuthenticationError, 401),
        (errors.UrlRefusedError, 403),
        (errors.KnowledgeBaseNotFoundError, 404),
        (errors.ModelNotFoundError, 404),
        (errors.DocumentNotFoundError, 404),
        (errors.ConversationNotFoundError, 404),
        (errors.KnowledgeBaseExistsError, 409),
        (errors.KnowledgeBaseBusyError, 409),
        (errors.EmbeddingMismatchError, 409),
        (errors.ConversationLimitError, 409),
        (errors.FileTooLargeError, 413),
        (errors.InputTooLongError, 413),
        (ContextWindowExceededError, 413),
        (errors.UnsupportedFileTypeError, 415),
        (errors.DocumentLoadError, 422),
        (errors.RebuildFailedError, 422),
        (errors.PageFetchError, 502),
        (errors.ModelUnavailableError, 503),
        (errors.BusyError, 503),
    ],
)
def test_each_error_has_its_status(error, status):
    assert status_of(error) == status


def test_a_subclass_takes_its_parents_status():
    class Narrower(errors.DocumentLoadError):
        pass

    assert Narrower not in ERROR_STATUS and status_of(Narrower) == 422


def test_busy_and_authentication_errors_say_what_to_do():
    assert error_headers(errors.BusyError("busy", retry_after_s=7)) == {"Retry-After": "7"}
    assert error_headers(errors.AuthenticationError("no")) == {"WWW-Authenticate": "Bearer"}
    assert error_headers(errors.KnowledgeBaseNotFoundError("no")) == {}


def _refused(name, error_type):
    return FileResult(name, "error", error=f"{name} refused", error_type=error_type)


def test_an_upload_takes_the_status_of_why_its_files_were_refused():
    ok = FileResult("a.txt", "ok", 3)
    big = _refused("b.txt", errors.FileTooLargeError)
    odd = _refused("c.xyz", errors.UnsupportedFileTypeError)
    broken = _refused("d.pdf", errors.DocumentLoadError)
    assert upload_response([])[1] == 200
    assert upload_response([ok, odd])[1] == 200
    assert upload_response([odd, _refused("e.exe", errors.UnsupportedFileTypeError)])[1] == 415
    assert upload_response([big])[1] == 413
    assert upload_response([broken])[1] == 422
    assert upload_response([big, odd])[1] == 400  # refused for different reasons
    body, _ = upload_response([odd, broken])
    assert body.error == "c.xyz refused" and body.chunks == 0
    assert upload_response([ok, big])[0].error is None
