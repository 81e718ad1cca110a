"""Who owns a conversation asked over the API, and the chat turn `/api/chat` runs in one.

The owner is the `X-Zhiku-Session` header when one is sent (any random id the client keeps),
else the API token when one is configured (every holder of the one token shares its
conversations). Without either there is no owner: the conversation routes say what to send.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Header

from rag.errors import BadRequestError
from rag.services import ChatTurn, Services, owner_key, session_owner

SESSION_HEADER = "X-Zhiku-Session"
CONVERSATION_HEADER = "X-Zhiku-Conversation"
NEW_CONVERSATION = "new"

_SESSION_DOC = (
    "Your session: any random id of 16-128 letters, digits, '-' or '_', kept by the client. "
    "Conversations belong to it; without it, to the API token (when one is set)."
)

SessionHeader = Annotated[str | None, Header(alias=SESSION_HEADER, description=_SESSION_DOC)]


def owner_of(services: Services) -> Callable[..., str | None]:
    """A FastAPI dependency: the request's owner key, or None when it has none."""
    token = services.settings.server.api_token

    def owner(session: SessionHeader = None) -> str | None:
        if session is not None:
            return session_owner(session)
        if token is not None:
            return owner_key("token", token.get_secret_value())
        return None

    return owner


def required(owner: str | None) -> str:
    """The owner, or a BadRequestError saying how to have one."""
    if owner is None:
        raise BadRequestError(
            f"conversations belong to a session: send a {SESSION_HEADER} header with a random "
            "id of 16-128 letters, digits, '-' or '_', and the same id again to find them"
        )
    return owner


def chat_turn(
    services: Services,
    owner: str | None,
    conversation_id: str,
    query: str,
    kb: str | None,
    history: list[tuple[str, str]],
) -> ChatTurn:
    """The turn of `/api/chat` with a `conversation_id` ("new": a new conversation)."""
    if history:
        raise BadRequestError(
            "send either `history` or `conversation_id`: a stored conversation's history is "
            "read from the store"
        )
    stored = None if conversation_id == NEW_CONVERSATION else conversation_id
    return services.conversations.chat(required(owner), stored, query, kb)
