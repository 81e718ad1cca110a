"""The API token: `Authorization: Bearer <API_TOKEN>` on every /api route and on the OpenAPI
docs, when one is configured."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request

from rag.errors import AuthenticationError
from rag.services import Services


def token_checker(services: Services) -> Callable[[Request], None]:
    """A FastAPI dependency requiring the token when one is configured."""
    token = services.settings.server.api_token

    def check(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        # constant time: the comparison must not tell how much of a guess was right
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise AuthenticationError("missing or wrong API token: send Authorization: Bearer …")

    return check
