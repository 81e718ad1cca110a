"""One knowledge base searched as a LangChain `BaseRetriever`: dense + lexical (BM25),
fused into one calibrated score, optionally reranked, with the answerability check and
the neighbouring chunks of a hit at hand.

    query ─┬─ embed ── store.search (cosine) ────┐
           └────────── store.lexical_search (BM25)┴─ fuse (fusion.py) ─ rerank (rerank.py)
                                                    ─ score_threshold ─ SearchHit, best first

`search` is what `/api/kbs/{name}/search` and `rag kb search` answer; `invoke` (LangChain)
gives the chat its documents, and none when the knowledge base cannot answer the question
(answerable.py); `neighbours` is how the chat widens a hit with the chunks around it
(rag/chains/context.py). The store is read through `ChunkStore` (store.py) only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from rag.input_limits import check_query
from rag.lexical import QUESTION_STOPWORDS
from rag.retrieval.answerable import (
    ANSWERABILITY_KEY,
    AnswerabilityCheck,
    Decision,
    Relevance,
    without_cjk,
)
from rag.retrieval.fusion import FusionConfig, fuse
from rag.retrieval.rerank import Reranker
from rag.retrieval.store import ChunkStore, OpenStore, StoredChunk

logger = logging.getLogger(__name__)

SearchMode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True)
class SearchHit:
    """A retrieved chunk. `score` is in [0, 1], higher = more relevant."""

    chunk_id: int
    text: str
    source: str
    page: int | None
    title_path: str
    score: float
    dense_score: float | None = None
    """The chunk's cosine to the query, when dense search found it (see `relevance`)."""
    url: str | None = None
    """The web address of a page added by URL, None for an uploaded file."""


@dataclass(frozen=True)
class SearchOptions:
    mode: SearchMode = "hybrid"
    """Which retrievers run; "hybrid" fuses dense and BM25 (SEARCH_MODE)."""
    fusion: FusionConfig = field(default_factory=FusionConfig)
    """How scores are calibrated and fused (rag/retrieval/fusion.py)."""
    candidates: int = 50
    """Candidates taken from each retriever before fusing."""
    rerank_top_n: int = 20
    """Fused candidates the reranker (when there is one) reorders."""
    max_query_chars: int | None = None
    """Longer queries are refused (MAX_QUERY_CHARS); None: no limit."""


class HybridRetriever(BaseRetriever):
    """Top-k chunks of a knowledge base; `metadata["score"]` in [0, 1], higher is better."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kb: str
    """The knowledge base's name (in logs)."""
    open_store: OpenStore
    """Its store, held open for one search (store.py)."""
    embeddings: Embeddings
    """The embedding model that built the store: it embeds the query."""
    options: SearchOptions = Field(default_factory=SearchOptions)
    """Search mode, fusion, candidates, the query limit."""
    reranker: Reranker | None = None
    """Reorders the top fused candidates (USE_RERANKER); None: the fused order stands."""
    top_k: int = 5
    """How many chunks to return."""
    score_threshold: float = 0.0
    """Chunks scoring below this are dropped."""
    answerability: AnswerabilityCheck | None = None
    """When set, no chunk is returned for a question the knowledge base cannot answer
    (`rag.retrieval.answerable`): the chat then says so instead of asking the model."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        """`top_k` / `score_threshold` may be given per call, as LangChain retrievers allow."""
        top_k = int(kwargs.get("top_k", self.top_k))
        threshold = float(kwargs.get("score_threshold", self.score_threshold))
        limit = self.options.max_query_chars
        # the chat searches with the model's rewriting of a follow-up question, which may
        # run past MAX_QUERY_CHARS when the question was near it: its beginning is searched
        hits = self.search(query[:limit], top_k, threshold)
        decision = self._decision(query, hits)
        if decision == "refuse":
            return []
        documents = [hit_to_document(hit) for hit in hits]
        if decision.startswith("ask"):  # near the threshold: the chain asks the model first
            for document in documents:
                document.metadata[ANSWERABILITY_KEY] = decision
        return documents

    def _decision(self, query: str, hits: list[SearchHit]) -> Decision:
        """The answerability check's decision on `hits` ("answer" without a check)."""
        check = self.answerability
        if check is None or not hits:
            return "answer"
        limit = self.options.max_query_chars
        relevance = self.relevance(query[:limit], hits)
        decision = check.decision(relevance, query)
        if decision != "answer":
            logger.info(
                "%s from %r: cosine %.3f, coverage %.2f (score %.3f, threshold %.3f)",
                "not answerable" if decision == "refuse" else "the model asked whether answerable",
                self.kb,
                relevance.cosine,
                relevance.coverage,
                check.score(relevance),
                check.min_score_for(query),
            )
        return decision

    def search(self, query: str, top_k: int, score_threshold: float = 0.0) -> list[SearchHit]:
        """The `top_k` chunks most relevant to `query`, best first, scores in [0, 1].

        With a reranker, the top max(rerank_top_n, top_k) fused candidates are reordered by
        the reranker's score, which becomes the score (and what `score_threshold` applies to).
        """
        check_query(query, self.options.max_query_chars)
        with self.open_store() as store:
            scored, records, cosines = self._ranked(store, query, top_k)
        return [
            _hit(records[chunk_id], score, cosines.get(chunk_id))
            for chunk_id, score in scored
            if score >= score_threshold  # else not relevant enough
        ]

    def _ranked(
        self, store: ChunkStore, query: str, top_k: int
    ) -> tuple[list[tuple[int, float]], dict[int, StoredChunk], dict[int, float]]:
        """(chunk id, score) best first, the chunks by id, the dense cosines by id."""
        options = self.options
        depth = max(options.rerank_top_n, top_k) if self.reranker is not None else top_k
        candidates = max(options.candidates, depth)
        dense: list[tuple[int, float]] = []
        if options.mode != "lexical":
            vector = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
            dense = store.search(vector, candidates)
        lexical: list[tuple[int, float]] = []
        reference = 0.0
        if options.mode != "dense":
            result = store.lexical_search(query, candidates)
            lexical, reference = result.hits, result.reference
        fused = fuse(dense, lexical, reference, _fusion_for(options, query), k=depth)
        records = dict(store.chunks_by_id(hit.chunk_id for hit in fused))
        # chunks deleted since the index was searched are dropped
        scored = [(hit.chunk_id, hit.score) for hit in fused if hit.chunk_id in records]
        if self.reranker is not None and scored:
            scores = self.reranker.rerank(query, [records[cid].text for cid, _ in scored])
            order = sorted(range(len(scored)), key=lambda i: -scores[i])  # stable on ties
            scored = [(scored[i][0], scores[i]) for i in order[:top_k]]
        return scored, records, dict(dense)

    def relevance(self, query: str, hits: list[SearchHit]) -> Relevance:
        """How well `hits` (this query's results, best first) match it: their best cosine,
        and the share of the query's words the best one holds (`rag.retrieval.answerable`);
        the question words of QUESTION_STOPWORDS do not count."""
        if not hits:
            return Relevance(0.0, 0.0)
        cosine = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
        with self.open_store() as store:
            coverage = store.coverage(query, hits[0].text, QUESTION_STOPWORDS)
        return Relevance(cosine, coverage)

    def neighbours(self, chunk_id: int, radius: int = 1) -> list[StoredChunk]:
        """Chunk `chunk_id` and the chunks of the same file within `radius` of it (seq),
        in file order; empty when the chunk no longer exists."""
        with self.open_store() as store:
            return neighbours(store, chunk_id, radius)


def _fusion_for(options: SearchOptions, query: str) -> FusionConfig:
    """The fusion settings for this query: the search mode's, and the Latin-script dense
    weight for a query without Chinese or Japanese characters."""
    fusion = options.fusion
    if options.mode != "hybrid":
        fusion = replace(fusion, method=options.mode)
    if fusion.dense_weight_latin is not None and without_cjk(query):
        fusion = replace(fusion, dense_weight=fusion.dense_weight_latin)
    return fusion


def neighbours(store: ChunkStore, chunk_id: int, radius: int) -> list[StoredChunk]:
    """Chunk `chunk_id` and its file's chunks within `radius` of it, in file order; only
    those of the same source (a mail's body and its attachments are not mixed)."""
    # a file's chunks are stored in one go, so their ids are consecutive like their seq;
    # checked below, and the whole file is read when they are not
    near = store.chunks_by_id(range(chunk_id - radius, chunk_id + radius + 1))
    me = near.get(chunk_id)
    if me is None:
        return []
    file = store.file(me.file_name)
    last = (file.chunks if file else me.seq + 1) - 1
    wanted = range(max(0, me.seq - radius), min(last, me.seq + radius) + 1)
    found = [c for c in near.values() if c.file_name == me.file_name and c.seq in wanted]
    if len(found) < len(wanted):
        found = [c for c in store.chunks_of_file(me.file_name) if c.seq in wanted]
    return sorted((c for c in found if c.source == me.source), key=lambda c: c.seq)


def _hit(record: StoredChunk, score: float, cosine: float | None) -> SearchHit:
    url = record.metadata.get("url")
    return SearchHit(
        record.id,
        record.text,
        record.source,
        record.page,
        record.title_path,
        score,
        cosine,
        url if isinstance(url, str) else None,
    )


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
            **({"url": hit.url} if hit.url else {}),
        },
    )


__all__ = [
    "HybridRetriever",
    "SearchHit",
    "SearchMode",
    "SearchOptions",
    "hit_to_document",
    "neighbours",
]
