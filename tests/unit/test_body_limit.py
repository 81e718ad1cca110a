"""Chunked uploads (no Content-Length) over MAX_UPLOAD_MB: 413 with `{"error": ...}`, and the
body is read no further than the limit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, File, UploadFile

from rag.api.limits import BodySizeLimit
from tests.unit.test_api import make_client

BOUNDARY = "zhiku-test-boundary"
BLOCK = 64 * 1024


def multipart_blocks(blocks: int, text: bytes = b"") -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
        'filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
    ).encode()
    for _ in range(blocks):
        yield b"a" * BLOCK
    yield text
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def test_chunked_upload_over_the_limit_is_413(tmp_path):
    client = make_client(tmp_path, max_upload_mb=0.01)  # + 1 MB of multipart slack
    client.post("/api/kbs", json={"name": "kb"})
    reply = client.post(
        "/api/kbs/kb/docs",
        content=multipart_blocks(48),  # 3 MB, sent chunked: no Content-Length
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert reply.request.headers.get("transfer-encoding") == "chunked"
    assert reply.status_code == 413
    assert "MAX_UPLOAD_MB" in reply.json()["error"]
    assert client.get("/api/kbs/kb/docs").json()["docs"] == []


def test_chunked_upload_under_the_limit_is_indexed(tmp_path):
    client = make_client(tmp_path, max_upload_mb=0.01)
    client.post("/api/kbs", json={"name": "kb"})
    reply = client.post(
        "/api/kbs/kb/docs",
        content=multipart_blocks(0, "港口的内容。".encode()),
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert reply.status_code == 200 and reply.json()["chunks"] == 1


def _parsing_app() -> FastAPI:
    app = FastAPI()

    @app.post("/api/upload")
    async def upload(files: list[UploadFile] = File()) -> dict[str, int]:  # noqa: B008
        return {"files": len(files)}

    return app


def test_reading_stops_at_the_limit():
    """The body is taken from the server only up to the limit, then never again."""
    limit = 10 * BLOCK
    blocks = list(multipart_blocks(100))
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        body = blocks[reads - 1] if reads <= len(blocks) else b""
        return {"type": "http.request", "body": body, "more_body": reads < len(blocks)}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/upload",
        "raw_path": b"/api/upload",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
    }
    asyncio.run(BodySizeLimit(_parsing_app(), max_bytes=limit)(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert b"MAX_UPLOAD_MB" in sent[1]["body"]
    assert len(sent) == 2  # nothing of the app's own answer follows
    assert reads <= limit // BLOCK + 2  # the first block is the multipart header


def test_a_json_body_over_a_megabyte_is_413(tmp_path):
    """100 MB of history turns, which are not read, were parsed whole before."""
    client = make_client(tmp_path)
    history = [["问", "答"]] * 200_000  # 2.4 MB of JSON
    reply = client.post("/api/chat", json={"query": "港口？", "history": history})
    assert reply.status_code == 413
    assert "LLM_HISTORY_LEN" in reply.json()["error"]
    chunked = client.post(
        "/api/kbs",
        content=iter([b'{"name": "', b"x" * (2 * 1024 * 1024), b'"}']),
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413 and "request body" in chunked.json()["error"]
    assert client.get("/api/kbs").json()["kbs"] == []
    assert (
        client.post("/api/chat", json={"query": "港口？", "history": history[:3]}).status_code
        == 200
    )
