"""The one way our ASGI middlewares and error handlers answer with an error: JSON
`{"error": "..."}`, or, under /v1 (the OpenAI-compatible API), OpenAI's shape
`{"error": {"message", "type", "param", "code"}}` that OpenAI clients read."""

from __future__ import annotations

import json
from typing import Any

OPENAI_PREFIX = "/v1"


def is_openai_path(path: str) -> bool:
    return path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/")


def error_body(path: str, status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """The JSON of an error answered on `path`; `code`: a machine-readable kind of error
    (OpenAI's `code`, e.g. "model_not_found"), shown only in OpenAI's shape."""
    if not is_openai_path(path):
        return {"error": message}
    kind = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


async def send_json_error(
    send: Any,
    status: int,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    path: str = "",
    code: str | None = None,
) -> None:
    """Answer `status` with the error body for `path` (see `error_body`)."""
    body = json.dumps(error_body(path, status, message, code), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
