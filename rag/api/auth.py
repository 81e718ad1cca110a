"""The API token: `Authorization: Bearer <API_TOKEN>` on every /api route and on the OpenAPI
docs, when one is configured. A document's original and its page images also open with a
signed link the UI handed out (rag/services/links.py): a browser cannot send the token for an
image or a download."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request

from rag.errors import AuthenticationError
from rag.services import Services

SIGNED_ROUTES = frozenset({"document_original", "document_page"})
"""The routes (by name) a signed link may open: rag/api/docs/view_router.py."""


def token_checker(services: Services) -> Callable[[Request], None]:
    """A FastAPI dependency requiring the token when one is configured."""
    token = services.settings.server.api_token

    def check(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        # constant time: the comparison must not tell how much of a guess was right
        if hmac.compare_digest(given.encode(), expected.encode()):
            return
        if _signed_link(services, request):
            return
        raise AuthenticationError("missing or wrong API token: send Authorization: Bearer …")

    return check


def _signed_link(services: Services, request: Request) -> bool:
    """A GET of a document route with a valid `expires` + `sig` for its KB and document."""
    route = request.scope.get("route")
    if request.method not in ("GET", "HEAD") or getattr(route, "name", None) not in SIGNED_ROUTES:
        return False
    params, query = request.path_params, request.query_params
    return services.links.valid(
        str(params.get("name", "")),
        str(params.get("file_name", "")),
        query.get("expires", ""),
        query.get("sig", ""),
    )
