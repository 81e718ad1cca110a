"""All routes under /api: one router per feature, behind the API token, and a last route
that answers any other path under /api as JSON (404, or 405 naming the allowed methods).
The OpenAI-compatible API under /v1 likewise."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from rag.api.auth import token_checker
from rag.api.chat.chat_router import chat_router
from rag.api.conversations.conversations_router import conversations_router
from rag.api.docs.docs_router import docs_router
from rag.api.docs.urls_router import urls_router
from rag.api.docs.view_router import view_router
from rag.api.errors import error_responses
from rag.api.kbs.kbs_router import kbs_router
from rag.api.openai.openai_models import openai_error_responses
from rag.api.openai.openai_router import openai_router
from rag.api.search.search_router import search_router
from rag.asgi import OPENAI_PREFIX
from rag.services import Services

API_PREFIX = "/api"
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def api_router(services: Services) -> APIRouter:
    router = APIRouter(
        prefix=API_PREFIX,
        dependencies=[Depends(token_checker(services))],
        responses=error_responses(401) if services.settings.server.api_token else {},
    )
    routes: list[APIRoute] = []
    for feature in (
        kbs_router,
        docs_router,
        view_router,
        urls_router,
        search_router,
        chat_router,
        conversations_router,
    ):
        feature_router = feature(services)
        routes += [r for r in feature_router.routes if isinstance(r, APIRoute)]
        router.include_router(feature_router)
    _add_fallback(router, routes, API_PREFIX)
    return router


def openai_api_router(services: Services) -> APIRouter:
    """The OpenAI-compatible API under /v1, behind the same API token."""
    router = APIRouter(
        prefix=OPENAI_PREFIX,
        dependencies=[Depends(token_checker(services))],
        responses=openai_error_responses(401) if services.settings.server.api_token else {},
    )
    feature_router = openai_router(services)
    router.include_router(feature_router)
    routes = [r for r in feature_router.routes if isinstance(r, APIRoute)]
    _add_fallback(router, routes, OPENAI_PREFIX)
    return router


def _add_fallback(router: APIRouter, routes: list[APIRoute], prefix: str) -> None:
    """Last: any other path under `prefix` is answered here as JSON, not by the UI mounted
    at "/" (a route added after this one would never be reached). `routes`: the API's
    routes, with their paths below `prefix`."""

    @router.api_route("", methods=_ALL_METHODS, include_in_schema=False)
    @router.api_route("/{path:path}", methods=_ALL_METHODS, include_in_schema=False)
    def unknown_route(request: Request) -> None:
        allowed = _methods_allowed(routes, request, prefix)
        if allowed:
            raise StarletteHTTPException(
                405,
                f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise StarletteHTTPException(
            404, f"no API route {request.url.path}; the routes are listed at /docs"
        )


def _methods_allowed(routes: list[APIRoute], request: Request, prefix: str) -> list[str]:
    """The methods of the routes whose path matches the request's."""
    # the request's path as a route below `prefix` sees it, as if it were a mount
    scope = {
        "type": "http",
        "path": request.scope["path"],
        "root_path": request.scope.get("root_path", "") + prefix,
        "method": request.method,
    }
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.PARTIAL:
            methods |= route.methods or set()
    return sorted(methods)
