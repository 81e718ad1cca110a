"""Conversations kept for their owner (`X-Zhiku-Session`, or the API token): list, read with
sources, rename, delete, export as Markdown. `/api/chat` with a `conversation_id` adds to
them. Another owner's conversation is a 404, as one that does not exist."""

# no `from __future__ import annotations`: FastAPI reads the routes' `Owner` (a local
# Annotated dependency) from the annotations, which must be objects, not names

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from rag.api.chat.chat_models import ChatSource
from rag.api.conversations.conversations_service import owner_of, required
from rag.api.errors import error_responses
from rag.conversations import Conversation, ConversationInfo, export_file_name
from rag.services import Services


class ConversationSummary(BaseModel):
    id: str
    title: str = Field(description="The first question, until renamed.")
    kb: str | None = Field(
        description="The knowledge base last asked (null: plain chat); it may be deleted since."
    )
    created_at: float = Field(description="Unix time.")
    updated_at: float = Field(description="When the last turn was added (Unix time).")
    message_count: int = Field(description="Questions and answers.")


class ConversationList(BaseModel):
    conversations: list[ConversationSummary] = Field(description="The newest first.")


class ConversationMessage(BaseModel):
    role: Literal["user", "assistant"]
    text: str
    sources: list[ChatSource] = Field(description="An answer's sources, as /api/chat gave them.")
    rewritten_query: str | None = Field(
        description="The standalone question a follow-up was searched as, if it was."
    )
    kb: str | None = Field(description="The knowledge base asked (null: plain chat).")
    created_at: float


class ConversationDetail(BaseModel):
    id: str
    title: str
    kb: str | None
    created_at: float
    updated_at: float
    messages: list[ConversationMessage]


class RenameConversation(BaseModel):
    title: str = Field(description="The new title (at most 200 characters).")


class ConversationDeleted(BaseModel):
    deleted: str = Field(description="The id of the conversation deleted.")


_MARKDOWN: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The conversation as a Markdown file, sources included.",
        "content": {"text/markdown": {"schema": {"type": "string"}}},
    }
}


def conversations_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/conversations", tags=["conversations"])
    Owner = Annotated[str | None, Depends(owner_of(services))]
    conversations = services.conversations

    @router.get("", response_model=ConversationList, responses=error_responses(400, 422))
    def list_conversations(owner: Owner) -> ConversationList:
        return ConversationList(
            conversations=[_summary(c) for c in conversations.list(required(owner))]
        )

    @router.get(
        "/{conversation_id}",
        response_model=ConversationDetail,
        responses=error_responses(400, 404, 422),
    )
    def get_conversation(conversation_id: str, owner: Owner) -> ConversationDetail:
        return _detail(conversations.get(required(owner), conversation_id))

    @router.patch(
        "/{conversation_id}",
        response_model=ConversationSummary,
        responses=error_responses(400, 404, 413, 422),
    )
    def rename_conversation(
        conversation_id: str, body: RenameConversation, owner: Owner
    ) -> ConversationSummary:
        return _summary(conversations.rename(required(owner), conversation_id, body.title))

    @router.delete(
        "/{conversation_id}",
        response_model=ConversationDeleted,
        responses=error_responses(400, 404, 422),
    )
    def delete_conversation(conversation_id: str, owner: Owner) -> ConversationDeleted:
        """The conversation and its messages; the knowledge bases it asked are not touched."""
        conversations.delete(required(owner), conversation_id)
        return ConversationDeleted(deleted=conversation_id)

    @router.get(
        "/{conversation_id}/export.md",
        response_class=Response,
        responses={**_MARKDOWN, **error_responses(400, 404, 422)},
    )
    def export_conversation(conversation_id: str, owner: Owner) -> Response:
        """A Markdown download: each question, its answer and its sources."""
        title, text = conversations.export(required(owner), conversation_id)
        return Response(
            text,
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": attachment(title, conversation_id)},
        )

    return router


def attachment(title: str, conversation_id: str) -> str:
    """`Content-Disposition` naming the download after the title (RFC 6266's `filename*` for
    non-ASCII), with an ASCII name for clients that read only `filename`."""
    fallback = f"conversation-{conversation_id[:8]}.md"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(export_file_name(title))}"


def _summary(info: ConversationInfo) -> ConversationSummary:
    return ConversationSummary(
        id=info.id,
        title=info.title,
        kb=info.kb,
        created_at=info.created_at,
        updated_at=info.updated_at,
        message_count=info.messages,
    )


def _detail(conversation: Conversation) -> ConversationDetail:
    info = conversation.info
    return ConversationDetail(
        id=info.id,
        title=info.title,
        kb=info.kb,
        created_at=info.created_at,
        updated_at=info.updated_at,
        messages=[
            ConversationMessage(
                role=m.role,
                text=m.text,
                sources=[ChatSource.model_validate(s) for s in m.sources],
                rewritten_query=m.rewritten,
                kb=m.kb,
                created_at=m.created_at,
            )
            for m in conversation.messages
        ],
    )
