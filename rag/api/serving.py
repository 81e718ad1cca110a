"""Serving the app with uvicorn: a bounded stop, and clients that cannot hold a connection.

* On SIGTERM or Ctrl-C uvicorn waits for the requests in flight, by default for as long as
  they take (a streamed answer, a search, an upload being indexed); here for at most
  SHUTDOWN_TIMEOUT_S seconds, after which they are cancelled and the process exits. Work cut
  short is what a crash leaves, and the start-up check repairs it.
* uvicorn closes a keep-alive connection idle after a response (5 s), but not one that
  never completes a request: a client that connects and sends nothing, or half a request
  line or header, or stops in the middle of a body, holds its connection (and a file
  descriptor) forever. `ClientTimeoutProtocol` closes it after CLIENT_TIMEOUT_S seconds:
  the request line and headers must arrive within that time, and a body may not pause
  longer than that between two reads.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

# Seconds an idle keep-alive connection stays open after a response (uvicorn's default).
KEEP_ALIVE_S = 5


class ClientTimeoutProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose client keeps the server
    waiting for a request's line and headers, or for the next part of its body, longer than
    `client_timeout_s` (set by `with_client_timeout`)."""

    client_timeout_s: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_client()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_client()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_client_timer()
        super().connection_lost(exc)

    def _watch_client(self) -> None:
        """Arm, re-arm or stop the timer by what the server waits for now."""
        state = self.conn.their_state
        if state is h11.IDLE:
            # a request line and headers: one deadline from their first byte (or from the
            # connection), so that sending a byte now and then does not keep it open
            if self._client_timer is None and not self.transport.is_closing():
                self._start_client_timer()
        elif state is h11.SEND_BODY:
            self._stop_client_timer()  # a body: the time since its last part
            self._start_client_timer()
        else:
            self._stop_client_timer()  # a whole request, or the connection is done

    def _start_client_timer(self) -> None:
        self._client_timer = self.loop.call_later(self.client_timeout_s, self._client_timed_out)

    def _stop_client_timer(self) -> None:
        if self._client_timer is not None:
            self._client_timer.cancel()
            self._client_timer = None

    def _client_timed_out(self) -> None:
        self._client_timer = None
        if self.transport.is_closing() or self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            return
        if self.flow.read_paused:
            # the app is slow to read the body, so the server itself keeps the client waiting
            self._start_client_timer()
            return
        self.logger.info("closed a connection whose client sent no complete request")
        self.transport.close()


def with_client_timeout(seconds: float) -> type[ClientTimeoutProtocol]:
    """`ClientTimeoutProtocol` with its timeout set, for uvicorn's `http` option."""
    return type("ClientTimeoutProtocol", (ClientTimeoutProtocol,), {"client_timeout_s": seconds})


def serve(app: Any, host: str, port: int, shutdown_timeout_s: int, client_timeout_s: float) -> None:
    """Run `app` until SIGTERM or Ctrl-C; see the module doc for the timeouts."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=with_client_timeout(client_timeout_s),
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=shutdown_timeout_s,
    )


__all__ = ["ClientTimeoutProtocol", "serve", "with_client_timeout"]
