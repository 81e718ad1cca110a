"""Chat: an answer from a knowledge base (or the model alone), whole or streamed; kept in a
stored conversation when the request names one (`conversation_id`)."""

# no `from __future__ import annotations`: FastAPI reads the routes' `Owner` (a local
# Annotated dependency) from the annotations, which must be objects, not names

import itertools
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import StreamingResponse

from rag.api.chat.chat_models import ChatRequest, ChatResponse, ChatSource
from rag.api.chat.chat_stream import sse, stream_openapi
from rag.api.conversations.conversations_service import (
    CONVERSATION_HEADER,
    chat_turn,
    owner_of,
)
from rag.api.errors import error_responses
from rag.chains import collect_answer
from rag.services import Services


def chat_router(services: Services) -> APIRouter:
    router = APIRouter(tags=["chat"])
    Owner = Annotated[str | None, Depends(owner_of(services))]

    @router.post(
        "/chat",
        response_model=ChatResponse,
        responses={
            200: {"content": {"text/event-stream": stream_openapi()}},
            **error_responses(400, 404, 409, 413, 422, 503),
        },
    )
    def chat(
        body: ChatRequest, response: Response, owner: Owner
    ) -> ChatResponse | StreamingResponse:
        """The answer and its sources; with `"stream": true`, server-sent events instead.
        Only the last LLM_HISTORY_LEN turns of `history` are read. 503 with Retry-After
        while LLM_QUEUE_SIZE questions wait for the model. With `conversation_id`, the turn
        is kept in that conversation (404: none of yours; 409: MAX_CONVERSATIONS or
        MAX_CONVERSATION_TURNS reached)."""
        history = [(q, a) for q, a in body.history]
        headers: dict[str, str] = {}
        if body.conversation_id is None:
            events = services.chat(body.query, body.kb, history)
        else:
            turn = chat_turn(services, owner, body.conversation_id, body.query, body.kb, history)
            events = turn.events
            headers[CONVERSATION_HEADER] = turn.conversation_id
        if not body.stream:
            result = collect_answer(events)
            response.headers.update(headers)
            return ChatResponse(
                answer=result.text,
                sources=[ChatSource.model_validate(s.as_dict()) for s in result.sources],
                rewritten_query=result.rewritten,
                conversation_id=headers.get(CONVERSATION_HEADER),
            )
        # the first event is taken now, so a full queue or a missing KB is an HTTP error
        # (503 / 404) rather than an error in the middle of a 200 stream
        first = next(events)
        return StreamingResponse(
            sse(itertools.chain([first], events)), media_type="text/event-stream", headers=headers
        )

    return router
