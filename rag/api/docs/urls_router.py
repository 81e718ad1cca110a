"""Web pages added to a knowledge base by URL: `POST /api/kbs/{name}/urls`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from rag.api.docs.docs_service import outcome_status
from rag.api.errors import ErrorResponse, error_responses
from rag.services import Services, UrlResult

MAX_URLS = 20
"""URLs per request: each may take URL_TIMEOUT_S, and the request waits for all."""
MAX_URL_CHARS = 2048


class AddUrlsRequest(BaseModel):
    urls: list[Annotated[str, Field(min_length=1, max_length=MAX_URL_CHARS)]] = Field(
        min_length=1,
        max_length=MAX_URLS,
        description="http(s) addresses of web pages (at most 20).",
    )


class UrlOutcome(BaseModel):
    """What happened to one URL."""

    url: str = Field(description="As given.")
    name: str = Field(
        description="The document it is stored as (`<host>_<path>.html`); empty when the "
        "page was not fetched."
    )
    status: Literal["ok", "unchanged", "error"] = Field(
        description="ok: indexed (added or updated); unchanged: the same page is indexed "
        "already; error: refused or not fetched"
    )
    chunks: int = Field(description="Chunks the page was split into.")
    error: str | None = Field(description="Why the URL was refused, and what to do.")


class AddUrlsResponse(BaseModel):
    """Each URL's result. All refused: the status of their reason (403 an address that may
    not be fetched, 502 a page that could not be fetched, 415 not a web page, 413 too
    large, 422 no text), 400 for mixed reasons; otherwise 200."""

    urls: list[UrlOutcome]
    chunks: int = Field(description="Chunks added, over the URLs that are `ok`.")
    error: str | None = Field(
        default=None, description="Only when every URL was refused: the first one's error."
    )


# every URL refused: the body lists each one, with their reason's status
_REFUSED: dict[int | str, dict[str, Any]] = {
    status: {
        "model": AddUrlsResponse | ErrorResponse,
        "description": "Every URL refused, or the request itself (`error` only)",
    }
    for status in (400, 403, 413, 415, 422, 502)
}


def urls_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/kbs/{name}/urls", tags=["documents"])

    @router.post(
        "",
        response_model=AddUrlsResponse,
        response_model_exclude_unset=True,  # `error` only when every URL was refused
        responses={**error_responses(404, 409), **_REFUSED},
    )
    def add_urls(name: str, body: AddUrlsRequest, response: Response) -> AddUrlsResponse:
        """Fetch web pages and add (or update) them; each is stored as `<host>_<path>.html`
        with its URL, which search results and chat sources carry as `url`. Private and
        loopback addresses are refused unless ALLOW_PRIVATE_URLS is set."""
        results = services.web.add_urls(name, body.urls)
        reply, response.status_code = urls_response(results)
        return reply

    return router


def urls_response(results: list[UrlResult]) -> tuple[AddUrlsResponse, int]:
    """The response to an add-urls request and its status (as for an upload)."""
    body = AddUrlsResponse(
        urls=[
            UrlOutcome(url=r.url, name=r.name, status=r.status, chunks=r.chunks, error=r.error)
            for r in results
        ],
        chunks=sum(r.chunks for r in results if r.status == "ok"),
    )
    error, status = outcome_status(results)
    if error is not None:  # unset otherwise: the field is left out of the response
        body.error = error
    return body, status


__all__ = ["AddUrlsRequest", "AddUrlsResponse", "UrlOutcome", "urls_router"]
