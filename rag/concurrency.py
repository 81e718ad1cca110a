"""A bounded queue in front of the LLM: requests wait their turn, or are told to come back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rag.errors import BusyError


class RequestGate:
    """At most `limit` requests in flight or waiting; one more raises `BusyError` at once.

    The LLM itself serves one request at a time (its own lock); this only bounds how many
    wait, so that a burst gets a clear 503 + Retry-After instead of piling up without end.
    """

    def __init__(self, limit: int, retry_after_s: int = 15) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        return self._pending

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self._pending >= self.limit:
                raise BusyError(
                    f"{self._pending} questions are already waiting for the model; "
                    f"try again in {self.retry_after_s} s",
                    retry_after_s=self.retry_after_s,
                )
            self._pending += 1
        try:
            yield
        finally:
            with self._lock:
                self._pending -= 1
