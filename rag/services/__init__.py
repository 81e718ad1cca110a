"""The service layer: what the UI, the API and the CLI use, built by rag/factory.py.

app.py         `Services`: one running zhiku (settings, knowledge bases, LLM, QA chain)
knowledge.py   `KnowledgeBaseService`: knowledge bases by name (create, add files,
               search, rebuild, check), over the registry, ingestion and retrieval
webpages.py    `WebPageService`: web pages added by URL (fetched by rag/webfetch/)
"""

from rag.ingestion import FileResult
from rag.services.app import Services, answerability_check, kb_search_fn
from rag.services.knowledge import KnowledgeBaseService
from rag.services.webpages import UrlResult, WebPageService

__all__ = [
    "FileResult",
    "KnowledgeBaseService",
    "Services",
    "UrlResult",
    "WebPageService",
    "answerability_check",
    "kb_search_fn",
]
