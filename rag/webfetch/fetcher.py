"""Fetching one web page, safely: http(s) only, public addresses only (unless allowed), within
a time and a size limit, of a type zhiku reads, redirects followed by hand.

Server-side request forgery: the host of every URL (the one given and each redirect's) is
resolved once, every address it resolves to is checked (rag/webfetch/addresses.py), and the
connection goes to a checked address itself (the next one when it does not connect): the
request is sent to `http(s)://<address>/…`
with the original `Host` header, and for https the original name as the TLS server name
(SNI), against which the certificate is verified as usual. A resolver that answers a public
address to the check and a private one to the connection (DNS rebinding) is never asked a
second time. Proxies from the environment are not used (a proxy would connect by name), and
neither cookies nor credentials are sent.

The body is streamed and given up as soon as it passes `max_bytes` (decoded size: a
compressed bomb stops too) or the page takes longer than `timeout_s` in all.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from rag.errors import FileTooLargeError, PageFetchError, UnsupportedFileTypeError, UrlRefusedError
from rag.webfetch.addresses import (
    IPAddress,
    Resolver,
    check_address,
    literal_address,
    system_resolver,
)

PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
"""Content types fetched: HTML (main text extracted) and plain text."""
_ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8"
_USER_AGENT = "zhiku (local knowledge base; fetches pages its user adds)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchOptions:
    timeout_s: float = 20.0
    """Seconds the whole fetch may take, redirects included (URL_TIMEOUT_S)."""
    max_bytes: int = 20 * 1024 * 1024
    """Largest body read (URL_MAX_MB)."""
    allow_private: bool = False
    """Fetch from private, loopback and link-local addresses too (ALLOW_PRIVATE_URLS)."""
    max_redirects: int = 5


@dataclass(frozen=True)
class FetchedPage:
    url: str
    """Where the page was found: the URL after redirects, without its #fragment."""
    content_type: str
    """One of PAGE_TYPES."""
    charset: str | None
    """The charset the server declared, if any."""
    body: bytes = field(repr=False)


class PageFetcher:
    """Fetches pages as the module doc says; one fetch at a time per call, no shared state."""

    def __init__(
        self,
        options: FetchOptions | None = None,
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
        check: Callable[[str, IPAddress], None] = check_address,
    ) -> None:
        """`resolver`: host name -> addresses; `verify`: the TLS certificate check (True:
        the system's CAs); `check`: raises for an address that may not be fetched (unless
        `allow_private`). Tests give their own, to stand a loopback server in for a public
        site."""
        self.options = options or FetchOptions()
        self.resolver = resolver
        self.verify = verify
        self.check = check

    def fetch(self, url: str) -> FetchedPage:
        """The page at `url`. Raises UrlRefusedError (scheme, credentials, address),
        PageFetchError (host, connection, timeout, HTTP error, redirects),
        UnsupportedFileTypeError (not a page) and FileTooLargeError (over the limit)."""
        current = parse_url(url)
        deadline = _Deadline(time.monotonic() + self.options.timeout_s, self.options.timeout_s)
        with httpx.Client(trust_env=False, verify=self.verify, follow_redirects=False) as client:
            for _ in range(self.options.max_redirects + 1):
                response = self._send(client, current, deadline)
                try:
                    if response.status_code not in _REDIRECTS:
                        return _read(current, response, self.options.max_bytes, deadline)
                    current = _redirect_target(current, response)
                finally:
                    response.close()
        raise PageFetchError(
            f"{url}: more than {self.options.max_redirects} redirects; "
            "add the address the page finally lives at"
        )

    def addresses(self, url: httpx.URL) -> list[IPAddress]:
        """The checked addresses to connect to for `url` (resolved once), in order."""
        host = url.raw_host.decode("ascii")  # an international name in its DNS form
        literal = literal_address(host)
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = [literal] if literal is not None else self.resolver(host, port)
        if not addresses:
            raise PageFetchError(f"the host {host!r} has no address; check the URL")
        if not self.options.allow_private:
            for address in addresses:
                self.check(host, address)
        return addresses

    def _send(self, client: httpx.Client, url: httpx.URL, deadline: _Deadline) -> httpx.Response:
        """The response (streamed) from the first of the checked addresses that connects
        (a host's IPv6 address may be unreachable from here while its IPv4 one is not)."""
        addresses = self.addresses(url)
        for address in addresses:
            try:
                return client.send(_request(client, url, address, deadline), stream=True)
            except httpx.TimeoutException as exc:
                raise PageFetchError(deadline.message(url)) from exc
            except httpx.ConnectError as exc:
                failure: httpx.HTTPError = exc  # the next address may connect
            except httpx.HTTPError as exc:
                failure = exc
                break
        raise PageFetchError(
            f"cannot fetch {url} ({type(failure).__name__}: {failure}); check the address, or "
            "download the page in a browser and upload the file"
        ) from failure


def _request(
    client: httpx.Client, url: httpx.URL, address: IPAddress, deadline: _Deadline
) -> httpx.Request:
    """GET `url` sent to `address`, the name kept as Host and as the TLS server name."""
    headers = {
        "Host": url.netloc.decode("ascii"),
        "User-Agent": _USER_AGENT,
        "Accept": _ACCEPT,
        "Accept-Encoding": "gzip, deflate",
    }
    extensions = {}
    if url.scheme == "https" and literal_address(url.raw_host.decode("ascii")) is None:
        extensions["sni_hostname"] = url.raw_host.decode("ascii")
    return client.build_request(
        "GET",
        url.copy_with(host=str(address)),
        headers=headers,
        extensions=extensions,
        timeout=deadline.remaining(url),
    )


@dataclass(frozen=True)
class _Deadline:
    """When the whole fetch must be done (URL_TIMEOUT_S)."""

    at: float
    timeout_s: float

    def remaining(self, url: httpx.URL) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise PageFetchError(self.message(url))
        return left

    def message(self, url: httpx.URL) -> str:
        return (
            f"{url} did not arrive within {self.timeout_s:g} s (URL_TIMEOUT_S); try again "
            "later, or raise URL_TIMEOUT_S"
        )


def parse_url(url: str) -> httpx.URL:
    """`url` as an absolute http(s) URL without credentials or #fragment (UrlRefusedError)."""
    text = url.strip()
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise UrlRefusedError(f"{text!r} is not a valid URL ({exc})") from exc
    if parsed.scheme not in ("http", "https"):
        shown = f"{parsed.scheme}://" if parsed.scheme else "no scheme"
        raise UrlRefusedError(
            f"{text!r}: only http:// and https:// pages can be added, not {shown}; "
            "give the page's web address (https://…)"
        )
    if not parsed.host:
        raise UrlRefusedError(f"{text!r} names no host; give a full address (https://host/…)")
    if parsed.userinfo:
        raise UrlRefusedError(
            f"{parsed.copy_with(username=None, password=None)}: a user name or password in "
            "the URL is not accepted (it would be stored with the page); pages that need a "
            "login cannot be added: save the page in the browser and upload the file"
        )
    return parsed.copy_with(fragment=None)


def _redirect_target(current: httpx.URL, response: httpx.Response) -> httpx.URL:
    location = response.headers.get("location")
    if not location:
        raise PageFetchError(f"{current}: redirect ({response.status_code}) without a Location")
    try:
        target = current.join(location)
    except (httpx.InvalidURL, ValueError) as exc:
        raise PageFetchError(f"{current}: redirect to an invalid URL {location!r}") from exc
    try:
        return parse_url(str(target))
    except UrlRefusedError as exc:
        raise UrlRefusedError(f"{current} redirects to {exc}") from exc


def _read(url: httpx.URL, response: httpx.Response, limit: int, deadline: _Deadline) -> FetchedPage:
    """The response's body as a page, refused when it is not a page or too large."""
    if response.status_code >= 400:
        raise PageFetchError(
            f"{url}: the server answered {response.status_code} {response.reason_phrase}; "
            "check the address (pages that need a login cannot be added: save the page in "
            "the browser and upload the file)"
        )
    content_type = _media_type(response)
    if content_type not in PAGE_TYPES:
        raise UnsupportedFileTypeError(
            f"{url} is {content_type or 'of no declared type'}, not a web page "
            f"({', '.join(PAGE_TYPES)}); download the file and upload it instead"
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FileTooLargeError(_too_large(url, limit))
    body = bytearray()
    try:
        for block in response.iter_bytes():
            body += block
            if len(body) > limit:
                raise FileTooLargeError(_too_large(url, limit))
            deadline.remaining(url)  # a page that trickles in slowly ends here too
    except httpx.TimeoutException as exc:
        raise PageFetchError(deadline.message(url)) from exc
    except httpx.HTTPError as exc:
        raise PageFetchError(f"{url}: the page arrived broken ({exc}); try again") from exc
    return FetchedPage(str(url), content_type, response.charset_encoding, bytes(body))


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _too_large(url: httpx.URL, limit: int) -> str:
    return (
        f"{url} is larger than {limit / 1024 / 1024:g} MB (URL_MAX_MB); raise URL_MAX_MB, "
        "or save the part you need and upload it"
    )


__all__ = ["PAGE_TYPES", "FetchOptions", "FetchedPage", "PageFetcher", "parse_url"]
