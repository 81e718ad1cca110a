"""What the chat route takes and gives: the request, the answer, and the events of the
streamed answer."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ChatRequest(BaseModel):
    kb: str | None = Field(default=None, description="Knowledge base, or null for plain chat.")
    query: str = Field(min_length=1)
    history: list[tuple[str, str]] = Field(default_factory=list, description="[[q, a], ...]")
    stream: bool = Field(
        default=False, description="Answer with server-sent events (text/event-stream)."
    )
    conversation_id: str | None = Field(
        default=None,
        description='Keep the turn in a stored conversation: "new" starts one, an id adds to '
        "yours (its stored history is read; send no `history`). The id is answered in "
        "`conversation_id` and the X-Zhiku-Conversation header. Needs an X-Zhiku-Session "
        "header, or the API token. Null: nothing is kept.",
    )


class ChatSource(BaseModel):
    """A source the answer may cite as [index]."""

    index: int
    source: str = Field(description="The document it is from.")
    page: int | None
    text: str
    score: float = Field(description="Relevance in [0, 1]; higher = more relevant.")
    url: str | None = Field(
        default=None, description="The web address of a page added by URL; null for a file."
    )


class ChatResponse(BaseModel):
    answer: str
    sources: list[ChatSource]
    rewritten_query: str | None = Field(
        description="The standalone question a follow-up was rewritten into, if it was."
    )
    conversation_id: str | None = Field(
        default=None, description="The conversation the turn was kept in (null: not kept)."
    )


# ---- the events of a streamed answer (`"stream": true`) -------------------------------------


class RewrittenEvent(BaseModel):
    """`rewritten`: the standalone question a follow-up was rewritten into (first, if any)."""

    query: str


class TextEvent(BaseModel):
    """`token`: the next piece of the answer. `replace`: the answer so far is replaced by
    `text` (possibly empty); the tokens that follow continue from there."""

    text: str


class SourcesEvent(BaseModel):
    """`sources`: the sources, once, after the last token."""

    sources: list[ChatSource]


class ErrorEvent(BaseModel):
    """`error`: the answer failed after the stream began; `done` follows."""

    error: str


class DoneEvent(BaseModel):
    """`done`: the last event, with no data (`{}`)."""


STREAM_EVENTS: dict[str, type[BaseModel]] = {
    "rewritten": RewrittenEvent,
    "token": TextEvent,
    "replace": TextEvent,
    "sources": SourcesEvent,
    "error": ErrorEvent,
    "done": DoneEvent,
}
"""Each event's name and the JSON of its `data:` line."""
