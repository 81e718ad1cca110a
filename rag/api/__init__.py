"""The REST API under /api: knowledge bases, documents, search and chat.

Errors are JSON `{"error": "..."}` with a fitting status; never a traceback or a path.
"""

from __future__ import annotations

import hmac
import itertools
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from rag.chains import collect_answer
from rag.errors import (
    AuthenticationError,
    BadRequestError,
    BusyError,
    DocumentNotFoundError,
    FileTooLargeError,
    ZhikuError,
)
from rag.kb.names import safe_file_name
from rag.services import FileResult, Services

logger = logging.getLogger(__name__)


class CreateKnowledgeBase(BaseModel):
    name: str = Field(description="Knowledge-base name; Chinese is fine, no slashes.")
    description: str = ""


class SearchRequest(BaseModel):
    query: str = Field(min_length=1)
    top_k: int = Field(default=10, ge=1, le=100)
    score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)


class ChatRequest(BaseModel):
    kb: str | None = Field(default=None, description="Knowledge base, or null for plain chat.")
    query: str = Field(min_length=1)
    history: list[tuple[str, str]] = Field(default_factory=list, description="[[q, a], ...]")
    stream: bool = False


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ZhikuError)
    async def _zhiku_error(request: Request, exc: ZhikuError) -> JSONResponse:
        headers = {}
        if isinstance(exc, BusyError):
            headers["Retry-After"] = str(exc.retry_after_s)
        if isinstance(exc, AuthenticationError):
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse({"error": str(exc)}, status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            error = first.get("ctx", {}).get("error", "")
            return JSONResponse({"error": f"the body is not valid JSON: {error}"}, 422)
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """FastAPI's and starlette's own errors (400 for a broken multipart body, 405...),
        as `{"error": ...}` like ours."""
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"error": "internal error; see the server log"}, 500)


def build_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/api", dependencies=[Depends(_token_checker(services))])
    kb_service = services.kb
    settings = services.settings

    @router.get("/kbs")
    def list_kbs() -> dict[str, object]:
        return {
            "kbs": [
                {
                    "name": s.name,
                    "docs": s.docs,
                    "chunks": s.chunks,
                    "description": s.description,
                    "embedding_model": s.embedding_model,
                }
                for s in kb_service.list_kbs()
            ]
        }

    @router.post("/kbs", status_code=201)
    def create_kb(body: CreateKnowledgeBase) -> dict[str, object]:
        summary = kb_service.create_kb(body.name, body.description)
        return {"name": summary.name, "docs": 0, "chunks": 0}

    @router.delete("/kbs/{name}")
    def delete_kb(name: str) -> dict[str, object]:
        kb_service.delete_kb(name)
        return {"deleted": name}

    @router.get("/kbs/{name}/docs")
    def list_docs(name: str) -> dict[str, object]:
        return {"docs": kb_service.list_docs(name)}

    @router.post("/kbs/{name}/docs")
    def upload(name: str, files: Annotated[list[UploadFile], File()]) -> JSONResponse:
        """Add or update files; the request body as a whole is capped by MAX_UPLOAD_MB."""
        kb_service.store(name)
        with upload_staging(kb_service.root) as tmp:
            results = [_ingest_upload(services, name, upload, Path(tmp)) for upload in files]
        return _upload_response(results)

    @router.delete("/kbs/{name}/docs/{file_name}")
    def delete_doc(name: str, file_name: str) -> dict[str, object]:
        kb_service.delete_doc(name, file_name)
        return {"deleted": file_name}

    @router.post("/kbs/{name}/search")
    def search(name: str, body: SearchRequest) -> dict[str, object]:
        threshold = (
            settings.score_threshold if body.score_threshold is None else body.score_threshold
        )
        hits = kb_service.search(name, body.query, body.top_k, threshold)
        return {
            "results": [
                {
                    "text": hit.text,
                    "source": hit.source,
                    "page": hit.page,
                    "score": round(hit.score, 4),
                    "title_path": hit.title_path,
                }
                for hit in hits
            ]
        }

    @router.post("/chat", response_model=None)
    def chat(body: ChatRequest) -> StreamingResponse | dict[str, object]:
        history = [(q, a) for q, a in body.history]
        events = services.chat(body.query, body.kb, history)
        if not body.stream:
            result = collect_answer(events)
            return {
                "answer": result.text,
                "sources": [s.as_dict() for s in result.sources],
                "rewritten_query": result.rewritten,
            }
        # the first event is taken now, so a full queue or a missing KB is an HTTP error
        # (503 / 404) rather than an error in the middle of a 200 stream
        first = next(events)
        return StreamingResponse(
            _sse(itertools.chain([first], events)), media_type="text/event-stream"
        )

    @router.put("/kbs/{name}/docs/{file_name}")
    def update_doc(
        name: str, file_name: str, files: Annotated[list[UploadFile], File()]
    ) -> JSONResponse:
        """Replace document `file_name` with the uploaded file (its old chunks are removed)."""
        kb_service.store(name)
        if len(files) != 1:
            raise BadRequestError("send exactly one file in the `files` field to update")
        if kb_service.doc(name, file_name) is None:
            raise DocumentNotFoundError(f"no document {file_name!r} in {name!r}; upload it")
        with upload_staging(kb_service.root) as tmp:
            result = _ingest_upload(services, name, files[0], Path(tmp), stored_as=file_name)
        return _upload_response([result])

    @router.post("/kbs/{name}/rebuild")
    def rebuild(name: str) -> JSONResponse:
        return _upload_response(kb_service.rebuild_kb(name))

    # Last: any other path under /api is answered here as JSON, not by the UI mounted at "/"
    # (a route added after this one would never be reached).
    @router.api_route("", methods=_ALL_METHODS, include_in_schema=False)
    @router.api_route("/{path:path}", methods=_ALL_METHODS, include_in_schema=False)
    def unknown_route(request: Request) -> None:
        allowed = _methods_allowed(router, request)
        if allowed:
            raise StarletteHTTPException(
                405,
                f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise StarletteHTTPException(
            404, f"no API route {request.url.path}; the routes are listed at /docs"
        )

    return router


def install_docs(app: FastAPI, services: Services) -> None:
    """OpenAPI docs at /docs, /redoc and /openapi.json, behind the API token when one is set
    (the app is built with FastAPI's own docs routes switched off)."""
    guarded = [Depends(_token_checker(services))]

    @app.get("/openapi.json", include_in_schema=False, dependencies=guarded)
    def openapi() -> dict[str, object]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False, dependencies=guarded)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} API")

    @app.get("/redoc", include_in_schema=False, dependencies=guarded)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} API")


_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _methods_allowed(router: APIRouter, request: Request) -> list[str]:
    """The methods of the router's routes whose path matches the request's."""
    methods: set[str] = set()
    for route in router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.PARTIAL:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


UPLOAD_STAGING_DIR = ".uploads"
"""Folder under the KB root where uploads wait while they are indexed (KB names cannot start
with a dot). Staying under the KB root keeps users' files out of /tmp; the app empties it at
start-up, so a killed upload leaves nothing behind for long."""


def upload_staging(kb_root: Path) -> tempfile.TemporaryDirectory[str]:
    """A private temporary folder for one upload request, removed when it ends."""
    staging = kb_root / UPLOAD_STAGING_DIR
    staging.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="upload-", dir=staging)


def clear_upload_staging(kb_root: Path) -> None:
    """Remove uploads left by a process that was killed mid-request."""
    shutil.rmtree(kb_root / UPLOAD_STAGING_DIR, ignore_errors=True)


def _token_checker(services: Services) -> Callable[[Request], None]:
    """Require `Authorization: Bearer <API_TOKEN>` when a token is configured."""
    token = services.settings.api_token

    def check(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise AuthenticationError("missing or wrong API token: send Authorization: Bearer …")

    return check


def _ingest_upload(
    services: Services, kb: str, upload: UploadFile, tmp: Path, stored_as: str | None = None
) -> FileResult:
    """Copy one upload to a private temp file (refusing it past the size limit), then add it."""
    original_name = upload.filename or "unnamed"
    try:
        name = safe_file_name(stored_as or original_name)
        services.kb.check_file_type(name)
        target = tmp / f"{len(list(tmp.iterdir()))}-{name}"
        _copy_limited(upload, target, services.settings.max_upload_bytes)
        if upload.size is not None and upload.size > services.settings.max_upload_bytes:
            raise FileTooLargeError(_too_large(services.settings.max_upload_mb))
    except ZhikuError as exc:
        return FileResult(original_name, "error", error=str(exc), http_status=exc.http_status)
    return services.kb.add_files(kb, [(name, target)])[0]


def _copy_limited(upload: UploadFile, target: Path, limit: int) -> None:
    copied = 0
    with open(target, "wb") as out:
        while block := upload.file.read(1 << 20):
            copied += len(block)
            if copied > limit:
                raise FileTooLargeError(_too_large(limit / 1024 / 1024))
            out.write(block)


def _too_large(limit_mb: float) -> str:
    return f"file is larger than the upload limit of {limit_mb:g} MB (MAX_UPLOAD_MB); split it"


def _upload_response(results: list[FileResult]) -> JSONResponse:
    body = {
        "files": [
            {"name": r.name, "status": r.status, "chunks": r.chunks, "error": r.error}
            for r in results
        ],
        "chunks": sum(r.chunks for r in results if r.status == "ok"),
    }
    failed = [r for r in results if r.status == "error"]
    status = 200
    if results and len(failed) == len(results):
        statuses = {r.http_status for r in failed}
        # every file refused for the same reason (e.g. all too large, all of unknown type)
        status = statuses.pop() if len(statuses) == 1 else 400
        body["error"] = failed[0].error
    return JSONResponse(body, status_code=status)


def _sse(events: Iterator) -> Iterator[str]:
    """Server-sent events: `token` events, then one `sources` event, then `done`; a `replace`
    event replaces the answer so far by its `text` (an answer withdrawn for a second try)."""
    sources: list[dict[str, object]] = []
    try:
        for event in events:
            if event.kind == "sources":
                sources = [s.as_dict() for s in event.sources]
            elif event.kind == "rewritten":
                yield _event("rewritten", {"query": event.text})
            elif event.kind == "replace":
                yield _event("replace", {"text": event.text})
            elif event.text:
                yield _event("token", {"text": event.text})
        yield _event("sources", {"sources": sources})
    except ZhikuError as exc:
        yield _event("error", {"error": str(exc)})
    except Exception:
        logger.exception("chat stream failed")
        yield _event("error", {"error": "internal error; see the server log"})
    yield _event("done", {})


def _event(name: str, data: dict[str, object]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


__all__ = ["build_router", "install_docs", "install_error_handlers"]
