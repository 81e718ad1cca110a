"""A LangChain `BaseRetriever` over one knowledge base."""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.kb.service import KnowledgeBaseService, SearchHit
from rag.retrievers.answerable import AnswerabilityCheck

logger = logging.getLogger(__name__)


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
    answerability: AnswerabilityCheck | None = None
    """When set, no chunk is returned for a question the knowledge base cannot answer
    (`rag.retrievers.answerable`): the chat then says so instead of asking the model."""

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
        check = self.answerability
        if check is not None and hits:
            relevance = self.service.relevance(self.kb, query[:limit], hits)
            if not check.answerable(relevance):
                logger.info(
                    "not answerable from %r: cosine %.3f, coverage %.2f (score %.3f < %.3f)",
                    self.kb,
                    relevance.cosine,
                    relevance.coverage,
                    check.score(relevance),
                    check.min_score,
                )
                return []
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
