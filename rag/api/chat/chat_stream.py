"""The streamed answer as server-sent events, and its OpenAPI description."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from rag.api.chat.chat_models import (
    STREAM_EVENTS,
    ChatSource,
    DoneEvent,
    ErrorEvent,
    RewrittenEvent,
    SourcesEvent,
    TextEvent,
)
from rag.chains import ChatEvent
from rag.errors import ZhikuError

logger = logging.getLogger(__name__)


def sse(events: Iterator[ChatEvent]) -> Iterator[str]:
    """Server-sent events: `token` events, then one `sources` event, then `done`; a `replace`
    event replaces the answer so far by its `text` (an answer withdrawn for a second try)."""
    sources: list[ChatSource] = []
    try:
        for event in events:
            if event.kind == "sources":
                sources = [ChatSource.model_validate(s.as_dict()) for s in event.sources]
            elif event.kind == "rewritten":
                yield _event("rewritten", RewrittenEvent(query=event.text))
            elif event.kind == "replace":
                yield _event("replace", TextEvent(text=event.text))
            elif event.text:
                yield _event("token", TextEvent(text=event.text))
        yield _event("sources", SourcesEvent(sources=sources))
    except ZhikuError as exc:
        yield _event("error", ErrorEvent(error=str(exc)))
    except Exception:
        logger.exception("chat stream failed")
        yield _event("error", ErrorEvent(error="internal error; see the server log"))
    yield _event("done", DoneEvent())


def _event(name: str, data: BaseModel) -> str:
    return f"event: {name}\ndata: {json.dumps(data.model_dump(), ensure_ascii=False)}\n\n"


def stream_openapi() -> dict[str, Any]:
    """The `text/event-stream` content of the chat's 200 response: each event's name and the
    schema of its data (OpenAPI 3.2's `itemSchema`, as FastAPI documents its own streams)."""
    data_schemas = [_schema(model) for model in dict.fromkeys(STREAM_EVENTS.values())]
    return {
        "schema": {"type": "string", "description": _STREAM_DESCRIPTION},
        "itemSchema": {
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": {"type": "string", "enum": list(STREAM_EVENTS)},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {"oneOf": data_schemas},
                },
            },
        },
        "example": _event("token", TextEvent(text="答案"))
        + _event("sources", SourcesEvent(sources=[]))
        + _event("done", DoneEvent()),
    }


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, its nested models referred to among the components (where
    the JSON answer's own models put them)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


_STREAM_DESCRIPTION = """With `"stream": true`: server-sent events, each `event: NAME` and
`data: JSON`. A `rewritten` event for a follow-up (`{"query"}`), `token` events (`{"text"}`),
then one `sources` event (`{"sources": [...]}`, as in the JSON answer), then `done` (`{}`).
A `replace` event (`{"text"}`) replaces the answer so far with its `text`; the tokens after
it continue from there. An error after the stream began is an `error` event (`{"error"}`),
then `done`."""
