"""Conversations kept between visits: stored per owner, exported as Markdown.

    store.py    the SQLite file beside the knowledge bases (`<kb-root>/.conversations.sqlite`):
                conversations and their messages, per owner, with limits
    export.py   a conversation as a Markdown document with its sources

Nothing outside this package opens the conversations file.
"""

from rag.conversations.export import conversation_markdown
from rag.conversations.store import (
    DB_NAME,
    Conversation,
    ConversationInfo,
    ConversationStore,
    StoredMessage,
    StoreLimits,
    title_of,
)

__all__ = [
    "DB_NAME",
    "Conversation",
    "ConversationInfo",
    "ConversationStore",
    "StoreLimits",
    "StoredMessage",
    "conversation_markdown",
    "title_of",
]
