"""The service layer: what the UI, the API and the CLI use, built by rag/factory.py.

app.py            `Services`: one running zhiku (settings, knowledge bases, LLM, QA chain)
conversations.py  `ConversationService`: chat turns kept in each user's stored
                  conversations (rag/conversations/), owners, Markdown export
knowledge.py      `KnowledgeBaseService`: knowledge bases by name (create, add files,
                  search, rebuild, check, read an original), over the registry,
                  ingestion and retrieval
jobs.py           uploads and rebuilds as background jobs, their progress read by any page
dashboard.py      one knowledge base at a glance (`KbStats`)
links.py          `DocumentLinks`: signed links to a document and its page images (the
                  UI's source viewer, when API_TOKEN guards /api)
models_info.py    which models run, on which device (the chat's model line)
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
from rag.services.links import DocumentLinks
from rag.services.models_info import ModelsInUse
from rag.services.webpages import UrlResult, WebPageService

__all__ = [
    "ChatTurn",
    "ConversationService",
    "DocumentLinks",
    "FileResult",
    "KnowledgeBaseService",
    "ModelsInUse",
    "Services",
    "TurnRecord",
    "UrlResult",
    "WebPageService",
    "answerability_check",
    "kb_search_fn",
    "owner_key",
    "session_owner",
]
