"""A document as stored: the original file, and a PDF page as a PNG with a passage marked.

Both find the document through the knowledge base's records (the name in the URL is a key
there, never a path), and both accept a signed link (`expires`, `sig`: rag/services/links.py)
in place of the API token, so the UI can show them in the browser.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from rag.api.docs.media import content_disposition, media_type
from rag.api.errors import error_responses
from rag.errors import BadRequestError
from rag.services import Services
from rag.services.links import MAX_HIGHLIGHT_CHARS

MAX_PAGE = 100_000
MIN_SCALE, MAX_SCALE, DEFAULT_SCALE = 0.5, 3.0, 1.5
PAGE_CACHE = "private, max-age=3600"
_BLOCK = 1 << 16
# an original may be HTML or SVG: never let the browser run it as a page of this app
_SAFE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
_SIGNED_QUERY = {
    "expires": "With `sig`: a signed link's expiry (Unix time), in place of the API token.",
    "sig": "With `expires`: the signed link's signature (links the UI hands out).",
}


def _binary(media: str, description: str) -> dict[int | str, dict[str, Any]]:
    schema = {"type": "string", "format": "binary"}
    return {200: {"content": {media: {"schema": schema}}, "description": description}}


def view_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/kbs/{name}/docs", tags=["documents"])

    @router.get(
        "/{file_name}",
        name="document_original",
        response_class=StreamingResponse,
        responses={
            **_binary("application/octet-stream", "The original file, as uploaded"),
            **error_responses(400, 404, 422),
        },
    )
    def get_original(
        name: str,
        file_name: str,
        expires: Annotated[str | None, Query(description=_SIGNED_QUERY["expires"])] = None,
        sig: Annotated[str | None, Query(description=_SIGNED_QUERY["sig"])] = None,
    ) -> StreamingResponse:
        """The stored original of `file_name` as an attachment (its name in
        `Content-Disposition`, RFC 6266 / 5987), with its media type."""
        return original_response(services, name, file_name)

    @router.get(
        "/{file_name}/pages/{page}.png",
        name="document_page",
        response_class=Response,
        responses={
            **_binary("image/png", "The page, the passage's area highlighted"),
            304: {"description": "Not modified (the `ETag` sent in `If-None-Match`)"},
            **error_responses(400, 404, 422),
        },
    )
    def get_page(
        name: str,
        file_name: str,
        request: Request,
        page: Annotated[int, Path(ge=1, le=MAX_PAGE, description="1-based page number")],
        highlight: Annotated[
            str | None,
            Query(max_length=MAX_HIGHLIGHT_CHARS, description="A passage to highlight."),
        ] = None,
        scale: Annotated[
            float, Query(ge=MIN_SCALE, le=MAX_SCALE, description="Pixels per PDF point.")
        ] = DEFAULT_SCALE,
        expires: Annotated[str | None, Query(description=_SIGNED_QUERY["expires"])] = None,
        sig: Annotated[str | None, Query(description=_SIGNED_QUERY["sig"])] = None,
    ) -> Response:
        """Page `page` of PDF `file_name` as a PNG, the area of `highlight`'s characters on it
        drawn over in yellow (found in the page's text; `X-Highlight-Boxes` says how many
        line boxes, 0 when the passage is not on the page). At most 2400 pixels a side."""
        etag_wanted = request.headers.get("if-none-match")
        return page_response(services, name, file_name, page, highlight, scale, etag_wanted)

    return router


def original_response(services: Services, kb: str, file_name: str) -> StreamingResponse:
    record, handle = services.kb.open_original(kb, file_name)
    headers = {
        "Content-Disposition": content_disposition(record.name),
        "Content-Length": str(os.fstat(handle.fileno()).st_size),
        "Cache-Control": "private, no-cache",
        "ETag": f'"{record.sha256}"',
        **_SAFE_HEADERS,
    }
    return StreamingResponse(_blocks(handle), media_type=media_type(record.name), headers=headers)


def page_response(
    services: Services,
    kb: str,
    file_name: str,
    page: int,
    highlight: str | None,
    scale: float,
    etag_wanted: str | None,
) -> Response:
    """The page image, or 304 when the client has it (`etag_wanted`: its If-None-Match)."""
    with services.kb.original(kb, file_name) as (record, path):
        if not record.name.lower().endswith(".pdf"):
            raise BadRequestError(
                f"{record.name!r} is not a PDF: page images are made of PDFs only; "
                f"GET /api/kbs/{kb}/docs/{record.name} downloads it"
            )
        etag = _page_etag(record.sha256, page, scale, highlight)
        if etag_wanted == etag:
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": PAGE_CACHE})
        image = services.pages.render(path, page, highlight, scale)
    headers = {
        "ETag": etag,
        "Cache-Control": PAGE_CACHE,
        "X-Highlight-Boxes": str(len(image.boxes)),
        "X-Page-Count": str(image.pages),
        **_SAFE_HEADERS,
    }
    return Response(image.png, media_type="image/png", headers=headers)


def _blocks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while block := handle.read(_BLOCK):
            yield block


def _page_etag(sha256: str, page: int, scale: float, highlight: str | None) -> str:
    key = "\n".join((sha256, str(page), f"{scale:g}", highlight or ""))
    return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'
