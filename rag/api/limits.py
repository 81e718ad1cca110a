"""Refuse an over-large request body with 413 before it is parsed or stored anywhere."""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]


class BodySizeLimit:
    """Pure ASGI middleware: bodies of POST/PUT requests under `path_prefix` over `max_bytes`
    get 413 — at once when Content-Length says so, else (a chunked body) as soon as the count
    passes it: the body is read no further, the app is told the client left, and whatever
    it answers to that is replaced by the 413."""

    def __init__(self, app: Any, max_bytes: int, path_prefix: str = "/api/") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_prefix = path_prefix

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in {"POST", "PUT"}
            or not scope["path"].startswith(self.path_prefix)
        ):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        body = _CountedBody(receive, self.max_bytes)
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
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        limit_mb = self.max_bytes / 1024 / 1024
        body = json.dumps(
            {
                "error": f"upload larger than {limit_mb:.0f} MB (MAX_UPLOAD_MB); "
                "split it or raise the limit"
            }
        ).encode()
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
