"""Files reach the UI's handlers only through the browser's upload, never by a path or URL.

Gradio's API takes a file value as `{"path": ..., "meta": {"_type": "gradio.FileData"}}`
and, in an app mounted on FastAPI, copies whatever local path (or fetches whatever URL) such
a value names into its cache before our handler runs: a client could have any readable
server file indexed and read back, or make the server fetch a URL. Two checks close it:

* `GradioFileGuard`, an ASGI middleware before Gradio, refuses a request whose JSON names a
  file outside Gradio's upload folder (where `/gradio_api/upload` puts the browser's files),
  a symlink, or a URL;
* `uploaded_paths`, in each handler, checks the paths it is given the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.asgi import send_json_error
from rag.errors import BadRequestError

GRADIO_API_PREFIX = "/gradio_api/"
MAX_JSON_BYTES = 4 * 1024 * 1024
"""Largest JSON body Gradio's API takes here (questions and the chat shown so far)."""

Scope = dict[str, Any]


def is_inside(path: str | Path, folder: Path) -> bool:
    """Is `path` a regular file inside `folder`, reached without following a symlink?"""
    candidate = Path(os.path.abspath(path))
    real = Path(os.path.realpath(candidate))
    base = Path(os.path.realpath(folder))
    return candidate == real and real.is_relative_to(base) and real.is_file()


def uploaded_paths(paths: list[str] | None, upload_dir: Path) -> list[Path]:
    """`paths` from a Gradio file input, each checked to be a browser upload."""
    checked = []
    for path in paths or []:
        if not is_inside(path, upload_dir):
            raise BadRequestError(
                f"{Path(path).name!r} was not uploaded through this page: choose the file "
                "with the file picker"
            )
        checked.append(Path(path))
    return checked


def discard_uploads(paths: list[Path], upload_dir: Path) -> None:
    """Remove ingested browser uploads, and the per-file folder Gradio made for each."""
    for path in paths:
        path.unlink(missing_ok=True)
        folder = path.parent
        if folder != upload_dir and folder.is_relative_to(upload_dir):
            with contextlib.suppress(OSError):  # another file is still in it
                folder.rmdir()


def file_values(value: Any) -> Iterator[dict[str, Any]]:
    """Every Gradio file value (a dict with a string `path`) inside a decoded JSON body."""
    if isinstance(value, dict):
        if isinstance(value.get("path"), str):
            yield value
        for item in value.values():
            yield from file_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from file_values(item)


class GradioFileGuard:
    """Refuses Gradio API requests naming a file that was not uploaded (module doc)."""

    def __init__(self, app: Any, upload_dir: Path) -> None:
        self.app = app
        self.upload_dir = upload_dir

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(GRADIO_API_PREFIX)
            or scope["path"].rstrip("/").endswith("/upload")
        ):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, MAX_JSON_BYTES)
        if body is None:
            await send_json_error(send, 413, "request too large for the UI; shorten the question")
            return
        problem = self._problem(body)
        if problem:
            await send_json_error(send, 400, problem)
            return
        await self.app(scope, _replay(body, receive), send)

    def _problem(self, body: bytes) -> str | None:
        try:
            decoded = json.loads(body) if body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None  # not JSON: Gradio refuses it itself, and it names no file
        for value in file_values(decoded):
            path = value["path"]
            if "://" in path or not is_inside(path, self.upload_dir):
                return (
                    "files must be uploaded with the page's file picker; a server path or "
                    "a URL is not accepted"
                )
        return None


async def _read_body(receive: Any, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # the disconnect, when the client goes

    return replayed
