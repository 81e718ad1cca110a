"""Search a knowledge base."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rag.api.errors import error_responses
from rag.services import Services


class SearchRequest(BaseModel):
    query: str = Field(min_length=1)
    top_k: int = Field(default=10, ge=1, le=100)
    score_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Drop results below it; default: SCORE_THRESHOLD."
    )


class SearchResult(BaseModel):
    text: str = Field(description="The chunk's text.")
    source: str = Field(description="The document it is from.")
    page: int | None = Field(description="Its page (PDF, slides), when it has pages.")
    score: float = Field(description="Relevance in [0, 1]; higher = more relevant.")
    title_path: str = Field(description="The headings it is under, as 'A > B'.")
    url: str | None = Field(
        default=None, description="The web address of a page added by URL; null for a file."
    )


class SearchResponse(BaseModel):
    results: list[SearchResult] = Field(description="Best first.")


def search_router(services: Services) -> APIRouter:
    router = APIRouter(tags=["search"])

    @router.post(
        "/kbs/{name}/search",
        response_model=SearchResponse,
        responses=error_responses(400, 404, 409, 413, 422),
    )
    def search(name: str, body: SearchRequest) -> SearchResponse:
        threshold = body.score_threshold
        if threshold is None:
            threshold = services.settings.retrieval.score_threshold
        hits = services.kb.search(name, body.query, body.top_k, threshold)
        return SearchResponse(
            results=[
                SearchResult(
                    text=hit.text,
                    source=hit.source,
                    page=hit.page,
                    score=round(hit.score, 4),
                    title_path=hit.title_path,
                    url=hit.url,
                )
                for hit in hits
            ]
        )

    return router
