"""Refuse requests that a web page on another site makes the user's browser send.

With no login, the app on 127.0.0.1 answers whoever reaches it, and every web page the user
visits can reach it: a form posting to `http://127.0.0.1:7860/api/...` or to the UI's own
`/gradio_api/...` routes needs no script, and a page whose host name an attacker re-points
at 127.0.0.1 (DNS rebinding) can even read the answers. Two checks stop both:

* the `Host` header must name this server: on a loopback bind, a loopback name (a rebinding
  page sends its own name); elsewhere, ALLOWED_HOSTS when it is set;
* a state-changing request (anything but GET, HEAD, OPTIONS) that a browser sends from
  another origin is refused: its `Origin` must be this server's own (or in ALLOWED_ORIGINS),
  and without `Origin`, `Sec-Fetch-Site` must not say "cross-site" or "same-site".

Clients that are not browsers (curl, the `openai` client, scripts) send neither header and
are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from rag.asgi import send_json_error

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "localhost.localdomain"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Scope = dict[str, Any]


def allowed_host_names(bind_host: str, configured: Iterable[str]) -> frozenset[str] | None:
    """Host names the server answers to; None = any (a non-loopback bind, no ALLOWED_HOSTS)."""
    names = {name.lower() for name in configured}
    if "*" in names:
        return None
    bound = bind_host.lower().strip("[]")
    if bound in LOOPBACK_HOSTS or bound.startswith("127.") or names:
        return frozenset(names | LOOPBACK_HOSTS | {bound})
    return None


def host_name(host_header: str) -> str:
    """`example.org:7860` -> `example.org`; `[::1]:7860` -> `::1`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class OriginGuard:
    """Pure ASGI middleware applying the two checks of the module doc to every request."""

    def __init__(
        self,
        app: Any,
        allowed_hosts: frozenset[str] | None,
        allowed_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.allowed_origins = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        problem = self._problem(scope, headers)
        if problem is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await send_json_error(send, 403, problem, path=scope["path"], code="forbidden")

    def _problem(self, scope: Scope, headers: dict[str, str]) -> str | None:
        host = headers.get("host", "")
        if self.allowed_hosts is not None and host_name(host) not in self.allowed_hosts:
            return (
                f"host name {host_name(host)!r} is not served here: open the app by the "
                "address it was started on (e.g. http://127.0.0.1:7860), or add the name to "
                "ALLOWED_HOSTS in configs/server_config.py"
            )
        if scope["type"] == "http" and scope["method"] in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None:
            return None if self._same_or_allowed(origin, host) else _cross_site(origin)
        if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return _cross_site("another site")
        return None

    def _same_or_allowed(self, origin: str, host: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin in self.allowed_origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null": a sandboxed frame or a local file
        return _netloc(parts.netloc, parts.scheme) == _netloc(host.lower(), parts.scheme)


def _netloc(netloc: str, scheme: str) -> str:
    default = ":443" if scheme == "https" else ":80"
    return netloc.removesuffix(default)


def _cross_site(origin: str) -> str:
    return (
        f"request from {origin} refused: the app only accepts changes from its own pages. "
        "To call it from another web app, add that app's origin to ALLOWED_ORIGINS in "
        "configs/server_config.py"
    )
