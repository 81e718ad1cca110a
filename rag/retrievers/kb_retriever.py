"""A LangChain `BaseRetriever` over one knowledge base."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.kb.service import KnowledgeBaseService, SearchHit


class KnowledgeBaseRetriever(BaseRetriever):
    """Top-k chunks of a knowledge base; `metadata["score"]` in [0, 1], higher is better."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    service: KnowledgeBaseService
    """The knowledge-base service that owns the stores."""
    kb: str
    """Which knowledge base to search."""
    top_k: int = 5
    """How many chunks to return."""
    score_threshold: float = 0.0
    """Chunks scoring below this are dropped."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        """`top_k` / `score_threshold` may be given per call, as LangChain retrievers allow."""
        top_k = int(kwargs.get("top_k", self.top_k))
        threshold = float(kwargs.get("score_threshold", self.score_threshold))
        limit = self.service.search_options.max_query_chars
        # the chat searches with the model's rewriting of a follow-up question, which may
        # run past MAX_QUERY_CHARS when the question was near it: its beginning is searched
        hits = self.service.search(self.kb, query[:limit], top_k, threshold)
        return [hit_to_document(hit) for hit in hits]


def hit_to_document(hit: SearchHit) -> Document:
    return Document(
        page_content=hit.text,
        id=str(hit.chunk_id),
        metadata={
            "source": hit.source,
            "page": hit.page,
            "title_path": hit.title_path,
            "score": hit.score,
            "chunk_id": hit.chunk_id,
        },
    )
