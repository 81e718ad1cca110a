"""The OpenAI-compatible routes: /v1/models, /v1/chat/completions, /v1/embeddings."""

from __future__ import annotations

import itertools

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from rag.api.openai.openai_models import (
    ChatCompletion,
    ChatCompletionRequest,
    EmbeddingList,
    EmbeddingRequest,
    ModelList,
    openai_error_responses,
)
from rag.api.openai.openai_service import ChatCall, embed, list_models
from rag.services import Services


def openai_router(services: Services) -> APIRouter:
    router = APIRouter(tags=["openai"])

    @router.get("/models", response_model=ModelList)
    def models() -> ModelList:
        """The LLM (its configured name) and each knowledge base as `kb:<name>`."""
        return list_models(services)

    @router.post(
        "/chat/completions",
        response_model=ChatCompletion,
        responses={
            200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
            **openai_error_responses(400, 404, 413, 422, 503),
        },
    )
    def chat_completions(body: ChatCompletionRequest) -> ChatCompletion | StreamingResponse:
        """An answer from the LLM (`model`: its name) or a knowledge base (`kb:<name>`),
        through the same chain and queue as /api/chat; its sources in `sources`. The last
        message is the question, earlier user/assistant pairs the history; system messages
        are ignored. 503 with Retry-After while LLM_QUEUE_SIZE questions wait.

        With `"stream": true`: server-sent events `data: {chat.completion.chunk}`: the
        first with the role, then the answer's pieces, a last one with finish_reason `stop`
        and `sources`, then `data: [DONE]`."""
        call = ChatCall(services, body)
        if not body.stream:
            return call.completion()
        events = call.events()
        first = next(events)  # a full queue or a long question: an HTTP error, not a stream
        return StreamingResponse(
            call.chunks(itertools.chain([first], events)), media_type="text/event-stream"
        )

    @router.post(
        "/embeddings",
        response_model=EmbeddingList,
        responses=openai_error_responses(400, 404, 413, 422),
    )
    def embeddings(body: EmbeddingRequest) -> EmbeddingList:
        """The embedding model's vectors (`model`: "default" or its configured name)."""
        return embed(services, body)

    return router
