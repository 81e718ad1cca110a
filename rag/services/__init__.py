"""The service layer: what the UI, the API and the CLI use, built by rag/factory.py.

app.py            `Services`: one running zhiku (settings, knowledge bases, LLM, QA chain)
conversations.py  `ConversationService`: chat turns kept in each user's stored
                  conversations (rag/conversations/), owners, Markdown export
knowledge.py      `KnowledgeBaseService`: knowledge bases by name (create, add files,
                  search, rebuild, check), over the registry, ingestion and retrieval
webpages.py       `WebPageService`: web pages added by URL (fetched by rag/webfetch/)
"""

from rag.ingestion import FileResult
from rag.services.app import Services, answerability_check, kb_search_fn
from rag.services.conversations import (
    ChatTurn,
    ConversationService,
    TurnRecord,
    owner_key,
    session_owner,
)
from rag.services.knowledge import KnowledgeBaseService
from rag.services.webpages import UrlResult, WebPageService

__all__ = [
    "ChatTurn",
    "ConversationService",
    "FileResult",
    "KnowledgeBaseService",
    "Services",
    "TurnRecord",
    "UrlResult",
    "WebPageService",
    "answerability_check",
    "kb_search_fn",
    "owner_key",
    "session_owner",
]
