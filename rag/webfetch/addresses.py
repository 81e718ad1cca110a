"""Which web addresses may be fetched (server-side request forgery).

A URL names its host as a name or as an address literal, and literals come in more forms
than `ipaddress` reads: resolvers also take the inet_aton forms (`2130706433`, `0x7f.1`,
`0177.0.0.1`, `127.1` are all 127.0.0.1). `literal_address` reads them all, so a literal is
checked as the address it will reach; a name is resolved once (`system_resolver`) and every
address it resolves to is checked: one private answer refuses the name.

An IPv6 address that carries an IPv4 one (IPv4-mapped `::ffff:127.0.0.1`, 6to4
`2002:7f00:1::`, NAT64 `64:ff9b::7f00:1`) is judged by the IPv4 address too.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address

from rag.errors import PageFetchError, UrlRefusedError

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]
"""(host name, port) -> the addresses it resolves to."""

_INET_ATON_PART = r"(?:0x[0-9a-f]*|[0-9]+)"
_INET_ATON = re.compile(rf"{_INET_ATON_PART}(?:\.{_INET_ATON_PART})*", re.IGNORECASE)
_NAT64 = IPv6Network("64:ff9b::/96")


def literal_address(host: str) -> IPAddress | None:
    """The address `host` names literally (any form a resolver takes), None for a name.

    A host that looks numeric but is no address (`1.2.3.4.5`, `999.1.1.1`) is refused:
    resolvers disagree about such names."""
    try:
        return ip_address(host.strip("[]"))
    except ValueError:
        pass
    if not _INET_ATON.fullmatch(host.rstrip(".")):
        return None
    try:
        return IPv4Address(socket.inet_aton(host.rstrip(".")))
    except OSError:
        raise UrlRefusedError(
            f"{host!r} looks like an IP address but is not a valid one; check the URL"
        ) from None


def non_public_kind(address: IPAddress) -> str | None:
    """What kind of non-public address `address` is ("loopback", "private", ...), or None
    when it is a public (global unicast) address."""
    if isinstance(address, IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or _nat64_inner(address)
        if inner is not None and (kind := non_public_kind(inner)):
            return kind
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return kind
    return None if address.is_global else "non-public"


def _nat64_inner(address: IPv6Address) -> IPv4Address | None:
    if address in _NAT64:
        return IPv4Address(address.packed[-4:])
    return None


def check_address(host: str, address: IPAddress) -> None:
    """Refuse `address` (what `host` names) unless it is public (UrlRefusedError)."""
    kind = non_public_kind(address)
    if kind is None:
        return
    named = "" if host.strip("[]") == str(address) else f" ({host} is {address})"
    raise UrlRefusedError(
        f"{address} is a {kind} address{named}: pages on private networks and on this "
        "machine are not fetched, so that a URL cannot reach services only the server can "
        "(SSRF); to add intranet pages, set ALLOW_PRIVATE_URLS = True in "
        "configs/server_config.py (or ZHIKU_ALLOW_PRIVATE_URLS=true)"
    )


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` resolves to, in the system resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise PageFetchError(
            f"cannot find the host {host!r} ({exc}); check the address and the network"
        ) from exc
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


__all__ = [
    "IPAddress",
    "Resolver",
    "check_address",
    "literal_address",
    "non_public_kind",
    "system_resolver",
]
