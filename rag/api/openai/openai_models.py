"""What the OpenAI-compatible routes take and give, in OpenAI's shapes. Fields OpenAI
defines that zhiku does not use (temperature, max_tokens, n, tools...) are accepted and
ignored; `sources` is zhiku's own addition."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.api.chat.chat_models import ChatSource

# ---- models ----------------------------------------------------------------------------------


class ModelCard(BaseModel):
    id: str = Field(description="The LLM's configured name, or `kb:<name>` for a knowledge base.")
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "zhiku"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# ---- chat completions ------------------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(description="system/developer (ignored), user or assistant.")
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(description="The LLM's name (plain chat) or `kb:<name>`.")
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    sources: list[ChatSource] = Field(
        description="zhiku's addition: the sources the answer cites as [index]."
    )


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    sources: list[ChatSource] | None = Field(
        default=None, description="zhiku's addition, on the last chunk (finish_reason stop)."
    )


# ---- embeddings ------------------------------------------------------------------------------


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(description='"default" or the configured embedding model\'s name.')
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="Floats, or base64 of float32 values.")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


# ---- errors ----------------------------------------------------------------------------------


class OpenAIError(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, server_error…")
    param: str | None = None
    code: str | None = Field(description="e.g. model_not_found, input_too_long, busy.")


class OpenAIErrorResponse(BaseModel):
    """Every error under /v1, in OpenAI's shape."""

    error: OpenAIError


def openai_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of a /v1 route's error statuses, for `responses=`."""
    return {
        status: {"model": OpenAIErrorResponse, "description": HTTPStatus(status).phrase}
        for status in statuses
    }
