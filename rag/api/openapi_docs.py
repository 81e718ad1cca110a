"""The OpenAPI docs at /docs, /redoc and /openapi.json, behind the API token when one is set
(the app is built with FastAPI's own docs routes switched off)."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from rag.api.auth import token_checker
from rag.services import Services


def install_docs(app: FastAPI, services: Services) -> None:
    guarded = [Depends(token_checker(services))]

    @app.get("/openapi.json", include_in_schema=False, dependencies=guarded)
    def openapi() -> dict[str, object]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False, dependencies=guarded)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} API")

    @app.get("/redoc", include_in_schema=False, dependencies=guarded)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} API")
