"""Links to a document's original and its page images that the UI can put in a page.

With API_TOKEN set, every /api route wants `Authorization: Bearer …`, which a browser does
not send for an `<img>` or a download link. So the UI hands out signed links instead: the
document's two GET routes also accept `expires` and `sig`, an HMAC of the knowledge base,
the document and the expiry time. A link grants reading that one document until it expires,
nothing else. The key comes from API_TOKEN (every process serving the same token accepts
the same links); without a token /api is open and the signature is not checked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from urllib.parse import quote, urlencode

LINK_TTL_S = 3600
"""A link stays valid for one to two hours (expiry times are rounded up to the hour, so the
same page image gets the same URL for a while and the browser's cache can keep it)."""
MAX_HIGHLIGHT_CHARS = 1000
"""Longest passage a page image highlights (the API refuses more; the URL carries it)."""


class DocumentLinks:
    """Signs and checks document links; `prefix`: where the API is, relative to the UI's
    page (relative, so the links work behind a proxy that serves the app under a path)."""

    def __init__(
        self,
        secret: bytes,
        prefix: str = "api",
        ttl_s: int = LINK_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self.prefix = prefix.strip("/")
        self.ttl_s = ttl_s
        self._clock = clock

    @classmethod
    def for_token(
        cls, token: str | None, prefix: str = "api", clock: Callable[[], float] = time.time
    ) -> DocumentLinks:
        """Links keyed by the API token (a random key when there is none)."""
        if token:
            secret = hmac.new(token.encode(), b"zhiku document links", hashlib.sha256).digest()
        else:
            secret = secrets.token_bytes(32)
        return cls(secret, prefix, clock=clock)

    def original(self, kb: str, name: str) -> str:
        """The link that downloads document `name` of `kb`."""
        return f"{self._path(kb, name)}?{urlencode(self._signed(kb, name))}"

    def page(self, kb: str, name: str, page: int, highlight: str | None = None) -> str:
        """The link to page `page` of PDF `name` as a PNG, `highlight`'s area marked."""
        query = self._signed(kb, name)
        if highlight:
            query["highlight"] = highlight[:MAX_HIGHLIGHT_CHARS]
        return f"{self._path(kb, name)}/pages/{page}.png?{urlencode(query)}"

    def valid(self, kb: str, name: str, expires: str, sig: str) -> bool:
        """Whether `sig` signs (`kb`, `name`, `expires`) and `expires` has not passed."""
        if not expires.isdigit() or int(expires) < self._clock():
            return False
        return hmac.compare_digest(sig.encode(), self._signature(kb, name, expires).encode())

    def _path(self, kb: str, name: str) -> str:
        return f"{self.prefix}/kbs/{quote(kb, safe='')}/docs/{quote(name, safe='')}"

    def _signed(self, kb: str, name: str) -> dict[str, str]:
        hour = 3600
        expires = str((int(self._clock() + self.ttl_s) // hour + 1) * hour)
        return {"expires": expires, "sig": self._signature(kb, name, expires)}

    def _signature(self, kb: str, name: str, expires: str) -> str:
        message = "\n".join((kb, name, expires)).encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]
