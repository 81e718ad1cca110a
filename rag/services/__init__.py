"""The service layer: what the UI, the API and the CLI use, built by rag/factory.py.

app.py         `Services`: one running zhiku (settings, knowledge bases, LLM, QA chain)
knowledge.py   `KnowledgeBaseService`: knowledge bases by name (create, add files,
               search, rebuild, check), over the registry, ingestion and retrieval
jobs.py        uploads and rebuilds as background jobs, their progress read by any page
dashboard.py   one knowledge base at a glance (`KbStats`)
"""

from rag.ingestion import FileResult
from rag.services.app import Services, answerability_check, kb_search_fn
from rag.services.knowledge import KnowledgeBaseService

__all__ = [
    "FileResult",
    "KnowledgeBaseService",
    "Services",
    "answerability_check",
    "kb_search_fn",
]
