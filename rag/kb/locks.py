"""Who may use one knowledge base at a time.

Per knowledge base (by name), three kinds of use:

- reading (search, list documents): any number at once, also while a write runs, since the
  store serializes its own writes against its reads;
- writing (add or update files, remove a document, rebuild, delete, check): one at a time.
  A rebuild holds the write turn for its whole run (it re-reads every original, so a file
  added meanwhile would be lost by the swap); other writes are then refused at once with
  409 rather than kept waiting for minutes. A delete cancels the running write (it stops
  between batches) and goes before writes that wait;
- exclusive (closing or swapping the store: the end of a delete or a rebuild): taken by the
  current writer, it waits for running reads and holds back new ones, so that no read ever
  meets a closed store.

After waiting, an operation looks its knowledge base up again: when it was deleted
meanwhile, that lookup answers 404.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from rag.errors import KnowledgeBaseBusyError, KnowledgeBaseNotFoundError, ZhikuError

WriteKind = Literal["write", "rebuild", "delete"]


class Operation:
    """The current write turn on one knowledge base."""

    def __init__(self, lock: KbLock, kind: WriteKind) -> None:
        self._lock = lock
        self.kind = kind
        self._cancelled: ZhikuError | None = None

    def cancel(self, error: ZhikuError) -> None:
        """Ask the operation to stop; `stop_if_cancelled` raises `error` from then on."""
        self._cancelled = error

    def stop_if_cancelled(self) -> None:
        """Called between batches: raise the cancelling error, if any."""
        if self._cancelled is not None:
            raise self._cancelled

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """No read runs on the knowledge base inside this block."""
        with self._lock.exclusive():
            yield


class KbLock:
    """The reader / writer / exclusive state of one knowledge base (see the module doc)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.holders = 0
        """Operations using or waiting for this lock (the registry drops it at 0)."""
        self._cond = threading.Condition()
        self._readers = 0
        self._exclusive = False
        self._exclusive_waiting = False
        self._writer: Operation | None = None
        self._rebuilding = False
        self._deletes_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not (self._exclusive or self._exclusive_waiting))
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self, kind: WriteKind = "write") -> Iterator[Operation]:
        with self._cond:
            if kind == "delete":
                self._wait_to_delete()
            else:
                self._wait_to_write(kind)
            operation = Operation(self, kind)
            self._writer = operation
        try:
            yield operation
        finally:
            with self._cond:
                self._writer = None
                if kind == "rebuild":
                    self._rebuilding = False
                self._cond.notify_all()

    def _wait_to_delete(self) -> None:
        if self._writer is not None:
            message = f"knowledge base {self.name!r} was deleted during this rebuild, which stopped"
            if self._writer.kind != "rebuild":
                message = (
                    f"knowledge base {self.name!r} was deleted during this upload, which "
                    "stopped; create it and upload again if you still want it"
                )
            self._writer.cancel(KnowledgeBaseNotFoundError(message))
        self._deletes_waiting += 1
        try:
            self._cond.wait_for(lambda: self._writer is None)
        finally:
            self._deletes_waiting -= 1

    def _wait_to_write(self, kind: WriteKind) -> None:
        self._refuse_during_rebuild(kind)
        if kind == "rebuild":
            self._rebuilding = True
            self._cond.notify_all()  # writes waiting for their turn are refused now
        try:
            while self._writer is not None or self._deletes_waiting:
                self._cond.wait()
                if kind != "rebuild":
                    self._refuse_during_rebuild(kind)
        except BaseException:
            if kind == "rebuild":
                self._rebuilding = False
            raise

    def _refuse_during_rebuild(self, kind: WriteKind) -> None:
        if not self._rebuilding:
            return
        if kind == "rebuild":
            raise KnowledgeBaseBusyError(
                f"knowledge base {self.name!r} is already being rebuilt; wait for that "
                "rebuild to finish"
            )
        raise KnowledgeBaseBusyError(
            f"knowledge base {self.name!r} is being rebuilt; try again when the rebuild "
            "has finished"
        )

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._exclusive_waiting = True
            self._cond.wait_for(lambda: self._readers == 0)
            self._exclusive_waiting = False
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class KbLocks:
    """The locks of the knowledge bases in use, by name; one registry per service.

    A name's lock exists while an operation uses or waits for it, so the registry does not
    grow with every name ever asked for.
    """

    def __init__(self) -> None:
        self._locks: dict[str, KbLock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def _held(self, name: str) -> Iterator[KbLock]:
        with self._guard:
            lock = self._locks.setdefault(name, KbLock(name))
            lock.holders += 1
        try:
            yield lock
        finally:
            with self._guard:
                lock.holders -= 1
                if lock.holders == 0:
                    del self._locks[name]

    @contextmanager
    def reading(self, name: str) -> Iterator[None]:
        with self._held(name) as lock, lock.reading():
            yield

    @contextmanager
    def writing(self, name: str, kind: WriteKind = "write") -> Iterator[Operation]:
        with self._held(name) as lock, lock.writing(kind) as operation:
            yield operation
