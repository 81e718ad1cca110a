"""Chat: an answer from a knowledge base (or the model alone), whole or streamed."""

from __future__ import annotations

import itertools

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from rag.api.chat.chat_models import ChatRequest, ChatResponse, ChatSource
from rag.api.chat.chat_stream import sse, stream_openapi
from rag.api.errors import error_responses
from rag.chains import collect_answer
from rag.services import Services


def chat_router(services: Services) -> APIRouter:
    router = APIRouter(tags=["chat"])

    @router.post(
        "/chat",
        response_model=ChatResponse,
        responses={
            200: {"content": {"text/event-stream": stream_openapi()}},
            **error_responses(400, 404, 409, 413, 422, 503),
        },
    )
    def chat(body: ChatRequest) -> ChatResponse | StreamingResponse:
        """The answer and its sources; with `"stream": true`, server-sent events instead.
        Only the last LLM_HISTORY_LEN turns of `history` are read. 503 with Retry-After
        while LLM_QUEUE_SIZE questions wait for the model."""
        history = [(q, a) for q, a in body.history]
        events = services.chat(body.query, body.kb, history)
        if not body.stream:
            result = collect_answer(events)
            return ChatResponse(
                answer=result.text,
                sources=[ChatSource.model_validate(s.as_dict()) for s in result.sources],
                rewritten_query=result.rewritten,
            )
        # the first event is taken now, so a full queue or a missing KB is an HTTP error
        # (503 / 404) rather than an error in the middle of a 200 stream
        first = next(events)
        return StreamingResponse(
            sse(itertools.chain([first], events)), media_type="text/event-stream"
        )

    return router
