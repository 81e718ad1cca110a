"""Calling the UI's own endpoints the way Gradio's page does (and an attacker can): upload
with `/gradio_api/upload`, run a handler with `/gradio_api/queue/join`, read its result from
`/gradio_api/queue/data`."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


@dataclass
class GradioReply:
    status: int
    """The join request's HTTP status (a refused request never reaches the queue)."""
    body: Any
    """The refusal's JSON when status is not 200, else the handler's outputs."""


def function_index(base_url: str, api_name: str) -> int:
    config = httpx.get(base_url + "/config", timeout=30).json()
    for position, dependency in enumerate(config["dependencies"]):
        if dependency.get("api_name") == api_name.lstrip("/"):
            return int(dependency.get("id", position))
    raise KeyError(api_name)


def call(
    base_url: str,
    api_name: str,
    data: list[Any],
    headers: dict[str, str] | None = None,
    session: str | None = None,
) -> GradioReply:
    """`session`: the page's session (a dropdown accepts the choices it was given there)."""
    session = session or uuid.uuid4().hex
    joined = httpx.post(
        base_url + "/gradio_api/queue/join",
        json={
            "data": data,
            "fn_index": function_index(base_url, api_name),
            "session_hash": session,
            "event_data": None,
            "trigger_id": None,
        },
        headers=headers or {},
        timeout=30,
    )
    if joined.status_code != 200:
        return GradioReply(joined.status_code, joined.json())
    return GradioReply(200, _completed_output(base_url, session))


def _completed_output(base_url: str, session: str) -> Any:
    url = base_url + "/gradio_api/queue/data"
    with httpx.stream("GET", url, params={"session_hash": session}, timeout=300) as events:
        for line in events.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                output = message.get("output") or {}
                return output.get("data", output)
    raise AssertionError("the queue closed without a result")


def upload(base_url: str, path: Path) -> dict[str, Any]:
    """A browser's upload: the file value Gradio's page then sends to a handler."""
    with open(path, "rb") as handle:
        reply = httpx.post(
            base_url + "/gradio_api/upload",
            files={"files": (path.name, handle)},
            timeout=60,
        )
    reply.raise_for_status()
    [stored] = reply.json()
    return file_value(stored, path.name)


def file_value(path: str, name: str) -> dict[str, Any]:
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}
