"""Domain errors as HTTP: the one table of statuses, and the handlers that answer every
error under /api as JSON `{"error": "..."}` (never a traceback or a path), and under /v1 (the
OpenAI-compatible API) as OpenAI's `{"error": {"message", "type", "param", "code"}}`.

The domain (rag/errors.py, the KB service's per-file results) knows kinds of failure, not
HTTP; this is the only place a kind of failure becomes a status.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.asgi import error_body
from rag.errors import (
    AuthenticationError,
    BusyError,
    ConversationLimitError,
    ConversationNotFoundError,
    DocumentLoadError,
    DocumentNotFoundError,
    EmbeddingMismatchError,
    FileTooLargeError,
    InputTooLongError,
    KnowledgeBaseBusyError,
    KnowledgeBaseExistsError,
    KnowledgeBaseNotFoundError,
    ModelNotFoundError,
    ModelUnavailableError,
    PageFetchError,
    RebuildFailedError,
    UnsupportedFileTypeError,
    UrlRefusedError,
    ZhikuError,
)
from rag.llms.base import ContextWindowExceededError

logger = logging.getLogger(__name__)

ERROR_STATUS: dict[type[ZhikuError], int] = {
    ZhikuError: 400,  # any other: BadRequestError, InvalidNameError, ConfigError
    AuthenticationError: 401,
    UrlRefusedError: 403,
    KnowledgeBaseNotFoundError: 404,
    ModelNotFoundError: 404,
    DocumentNotFoundError: 404,
    ConversationNotFoundError: 404,
    KnowledgeBaseExistsError: 409,
    KnowledgeBaseBusyError: 409,
    EmbeddingMismatchError: 409,
    ConversationLimitError: 409,
    FileTooLargeError: 413,
    InputTooLongError: 413,
    ContextWindowExceededError: 413,
    UnsupportedFileTypeError: 415,
    DocumentLoadError: 422,
    RebuildFailedError: 422,
    PageFetchError: 502,
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


def error_code(error_type: type[Exception]) -> str:
    """The kind of error as OpenAI's `code`: `InputTooLongError` -> "input_too_long"; a
    missing or wrong token is "invalid_api_key", as OpenAI names it."""
    if issubclass(error_type, AuthenticationError):
        return "invalid_api_key"
    name = error_type.__name__.removesuffix("Error") or "error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


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


def _error(
    request: Request,
    status: int,
    message: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = error_body(request.url.path, status, message, code)
    return JSONResponse(body, status_code=status, headers=headers)


async def _zhiku_error(request: Request, exc: ZhikuError) -> JSONResponse:
    status = status_of(type(exc))
    return _error(request, status, str(exc), error_code(type(exc)), error_headers(exc))


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        error = first.get("ctx", {}).get("error", "")
        return _error(request, 422, f"the body is not valid JSON: {error}", "invalid_json")
    where = ".".join(str(p) for p in first.get("loc", ()))
    return _error(request, 422, f"{where}: {first.get('msg', 'invalid')}", "invalid_request")


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI's and starlette's own errors (400 for a broken multipart body, 405...), as
    `{"error": ...}` like ours."""
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    return _error(request, exc.status_code, str(exc.detail), code, exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s", request.url.path)
    return _error(request, 500, "internal error; see the server log", "internal_error")
