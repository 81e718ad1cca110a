"""Domain errors as HTTP: the one table of statuses, and the handlers that answer every
error under /api as JSON `{"error": "..."}` (never a traceback or a path).

The domain (rag/errors.py, the KB service's per-file results) knows kinds of failure, not
HTTP; this is the only place a kind of failure becomes a status.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import (
    AuthenticationError,
    BusyError,
    DocumentLoadError,
    DocumentNotFoundError,
    EmbeddingMismatchError,
    FileTooLargeError,
    InputTooLongError,
    KnowledgeBaseBusyError,
    KnowledgeBaseExistsError,
    KnowledgeBaseNotFoundError,
    ModelUnavailableError,
    RebuildFailedError,
    UnsupportedFileTypeError,
    ZhikuError,
)
from rag.llms.base import ContextWindowExceededError

logger = logging.getLogger(__name__)

ERROR_STATUS: dict[type[ZhikuError], int] = {
    ZhikuError: 400,  # any other: BadRequestError, InvalidNameError, ConfigError
    AuthenticationError: 401,
    KnowledgeBaseNotFoundError: 404,
    DocumentNotFoundError: 404,
    KnowledgeBaseExistsError: 409,
    KnowledgeBaseBusyError: 409,
    EmbeddingMismatchError: 409,
    FileTooLargeError: 413,
    InputTooLongError: 413,
    ContextWindowExceededError: 413,
    UnsupportedFileTypeError: 415,
    DocumentLoadError: 422,
    RebuildFailedError: 422,
    ModelUnavailableError: 503,
    BusyError: 503,
}
"""The HTTP status of each kind of error; a subclass not listed takes its parent's."""


def status_of(error_type: type[ZhikuError]) -> int:
    for cls in error_type.__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return ERROR_STATUS[ZhikuError]


def error_headers(exc: ZhikuError) -> dict[str, str]:
    """What a client needs besides the status: when to retry, how to authenticate."""
    if isinstance(exc, BusyError):
        return {"Retry-After": str(exc.retry_after_s)}
    if isinstance(exc, AuthenticationError):
        return {"WWW-Authenticate": "Bearer"}
    return {}


class ErrorResponse(BaseModel):
    """Every error under /api."""

    error: str = Field(description="What went wrong and what to do about it.")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of a route's error statuses, for `responses=`."""
    return {
        status: {"model": ErrorResponse, "description": HTTPStatus(status).phrase}
        for status in statuses
    }


def install_error_handlers(app: FastAPI) -> None:
    app.exception_handler(ZhikuError)(_zhiku_error)
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(StarletteHTTPException)(_http_error)
    app.exception_handler(Exception)(_unexpected)


async def _zhiku_error(request: Request, exc: ZhikuError) -> JSONResponse:
    return JSONResponse(
        {"error": str(exc)}, status_code=status_of(type(exc)), headers=error_headers(exc)
    )


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        error = first.get("ctx", {}).get("error", "")
        return JSONResponse({"error": f"the body is not valid JSON: {error}"}, 422)
    where = ".".join(str(p) for p in first.get("loc", ()))
    return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, 422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI's and starlette's own errors (400 for a broken multipart body, 405...), as
    `{"error": ...}` like ours."""
    return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s", request.url.path)
    return JSONResponse({"error": "internal error; see the server log"}, 500)
