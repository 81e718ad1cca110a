"""`ClientTimeoutProtocol` in a real uvicorn on loopback, with a tiny ASGI app and a short
client timeout: connections that never complete a request are closed, others are not."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from rag.api.serving import with_client_timeout

TIMEOUT_S = 0.5
# How long a test waits for the server to close a connection; far above TIMEOUT_S so that a
# loaded machine does not fail it, far below "forever", which is what it was before.
CLOSED_WITHIN_S = 10.0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echoes the body's length; /slow-reader waits before reading the body."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow-reader":
        await asyncio.sleep(4 * TIMEOUT_S)
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        http=with_client_timeout(TIMEOUT_S),
        timeout_keep_alive=60,  # so that only the client timeout can close a connection here
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(10)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=CLOSED_WITHIN_S)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server closes the connection (EOF or reset) before CLOSED_WITHIN_S."""
    try:
        while True:
            if sock.recv(4096) == b"":
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def response(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n\r\n") and b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        ).split(b":")[1]
    )
    while len(rest) < length:
        rest += sock.recv(4096)
    return head.split(b"\r\n")[0] + b" " + rest


def test_a_connection_that_sends_nothing_is_closed(port):
    with connect(port) as sock:
        assert closed_by_server(sock)


def test_half_a_request_head_is_closed(port):
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert closed_by_server(sock)


def test_a_head_sent_byte_by_byte_does_not_reset_the_deadline(port):
    with connect(port) as sock:
        sock.settimeout(TIMEOUT_S / 5)  # one byte every TIMEOUT_S / 5 seconds at most
        started = time.monotonic()
        head = iter(b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 10_000)
        closed = False
        while not closed and time.monotonic() - started < CLOSED_WITHIN_S:
            try:
                sock.sendall(bytes([next(head)]))
                closed = sock.recv(1) == b""
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
        assert closed


def test_a_body_that_stops_is_closed(port):
    with connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        assert closed_by_server(sock)


def test_a_complete_request_is_answered_and_kept_alive(port):
    with connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        assert response(sock) == b"HTTP/1.1 200 OK 3"
        time.sleep(3 * TIMEOUT_S)  # idle between requests: uvicorn's keep-alive applies
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response(sock) == b"HTTP/1.1 200 OK 0"


def test_a_body_the_app_is_slow_to_read_is_not_cut(port):
    """The server pauses reading (flow control) until the app reads: not the client's fault."""
    body = b"x" * (1024 * 1024)
    with connect(port) as sock:
        head = f"POST /slow-reader HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
        sock.sendall(head.encode() + body)
        assert response(sock) == f"HTTP/1.1 200 OK {len(body)}".encode()
