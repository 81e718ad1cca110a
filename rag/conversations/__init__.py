"""Conversations kept between visits: stored per owner, exported as Markdown.

    store.py    the SQLite file beside the knowledge bases (`<kb-root>/.conversations.sqlite`):
                conversations and their messages, per owner, with limits
    schema.py   its schema (versioned, migrated at open) and how it is opened
    export.py   a conversation as a Markdown document with its sources

Nothing outside this package opens the conversations file.
"""

from rag.conversations.export import conversation_markdown, export_file_name
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
    "export_file_name",
    "title_of",
]
