"""Refuse an over-large request body with 413 before it is parsed or stored anywhere."""

from __future__ import annotations

import json
from typing import Any

from rag.asgi import OPENAI_PREFIX, error_body

Scope = dict[str, Any]
Message = dict[str, Any]

# Bodies other than multipart uploads are JSON requests: a query of MAX_QUERY_CHARS and the
# history turns that are read take tens of kilobytes. Parsing 100 MB of history turns, which
# are not read, took 10 s of a core and gigabytes of memory.
MAX_JSON_BYTES = 1024 * 1024


class BodySizeLimit:
    """Pure ASGI middleware: bodies of POST/PUT requests under `path_prefixes` (the REST API
    and the OpenAI-compatible API) over their limit
    (`max_bytes` for a multipart upload, `max_json_bytes` for anything else) get 413 — at once
    when Content-Length says so, else (a chunked body) as soon as the count passes it: the
    body is read no further, the app is told the client left, and whatever it answers to
    that is replaced by the 413."""

    def __init__(
        self,
        app: Any,
        max_bytes: int,
        path_prefixes: tuple[str, ...] = ("/api/", OPENAI_PREFIX + "/"),
        max_json_bytes: int = MAX_JSON_BYTES,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_prefixes = path_prefixes
        self.max_json_bytes = max_json_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in {"POST", "PUT"}
            or not scope["path"].startswith(self.path_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        upload = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        limit = self.max_bytes if upload else self.max_json_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, upload, scope["path"])
            return
        body = _CountedBody(receive, limit)
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if body.too_large:
                return  # the app's answer to a body cut short; the 413 goes instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, body.receive, guarded_send)
        except Exception:
            if not body.too_large:
                raise
        if body.too_large and not started:
            await self._refuse(send, upload, scope["path"])

    async def _refuse(self, send: Any, upload: bool, path: str) -> None:
        if upload:
            limit_mb = self.max_bytes / 1024 / 1024
            error = (
                f"upload larger than {limit_mb:.0f} MB (MAX_UPLOAD_MB); split it or raise the limit"
            )
        else:
            error = (
                f"request body larger than {self.max_json_bytes // 1024} KB; a query holds at "
                "most MAX_QUERY_CHARS characters and only the last LLM_HISTORY_LEN turns of a "
                "history are read: send those"
            )
        body = json.dumps(error_body(path, 413, error, "request_too_large")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _CountedBody:
    """The request's `receive`, which stops reading once more than `max_bytes` arrived and
    then reports the client as gone (starlette's parsers stop on that)."""

    def __init__(self, receive: Any, max_bytes: int) -> None:
        self._receive = receive
        self.max_bytes = max_bytes
        self.received = 0
        self.too_large = False

    async def receive(self) -> Message:
        if self.too_large:
            return {"type": "http.disconnect"}
        message: Message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                self.too_large = True
                return {"type": "http.disconnect"}
        return message
