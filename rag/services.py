"""The objects one running zhiku is made of, built once by `rag.factory` and passed in."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.language_models import BaseLLM

from rag.chains import QAChain
from rag.kb.service import KnowledgeBaseService
from rag.retrievers import KnowledgeBaseRetriever
from rag.settings import Settings


@dataclass
class Services:
    settings: Settings
    kb: KnowledgeBaseService
    llm: BaseLLM
    qa: QAChain

    def retriever(self, kb: str) -> KnowledgeBaseRetriever:
        """A retriever over `kb`, with the configured top-k and threshold."""
        self.kb.store(kb)  # a missing KB is a 404 now, not an empty answer later
        return KnowledgeBaseRetriever(
            service=self.kb,
            kb=kb,
            top_k=self.settings.vector_search_top_k,
            score_threshold=self.settings.score_threshold,
        )
