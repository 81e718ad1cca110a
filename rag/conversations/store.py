"""Conversations on disk: one SQLite file beside the knowledge bases.

`<kb-root>/.conversations.sqlite` (KB names cannot start with a dot, so no knowledge base
can take its name) holds every user's conversations: a title, the knowledge base last asked,
and the messages with their sources as JSON. A conversation names its knowledge base by
name only, so deleting a knowledge base leaves the conversations asked of it as they were.

Every query names the owner: a conversation of another owner is not found, never shown.
The file is in WAL mode and written in `BEGIN IMMEDIATE` transactions under one lock, so
threads of the app (and a second process, which waits for the lock) never interleave the
count-then-insert of a limit. The schema and how the file is opened: schema.py.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rag.conversations.schema import open_database
from rag.errors import (
    BadRequestError,
    ConversationLimitError,
    ConversationNotFoundError,
    InputTooLongError,
)

DB_NAME = ".conversations.sqlite"
MAX_TITLE_CHARS = 200
TITLE_CHARS = 60
"""A new conversation's title: its first question, cut to this many characters."""

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class StoredMessage:
    """A question ("user") or an answer ("assistant"), with the answer's sources (as
    `Source.as_dict()`), the standalone question it was searched as, and the KB asked."""

    role: Role
    text: str
    sources: tuple[dict[str, Any], ...] = ()
    rewritten: str | None = None
    kb: str | None = None
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    title: str
    kb: str | None
    """The knowledge base last asked (None: plain chat); only its name."""
    created_at: float
    updated_at: float
    messages: int


@dataclass(frozen=True)
class Conversation:
    info: ConversationInfo
    messages: tuple[StoredMessage, ...]

    def history(self) -> list[tuple[str, str]]:
        """(question, answer) pairs, in order: what the model reads back."""
        pairs = []
        question: str | None = None
        for message in self.messages:
            if message.role == "user":
                question = message.text
            elif question is not None:
                pairs.append((question, message.text))
                question = None
        return pairs


@dataclass(frozen=True)
class StoreLimits:
    max_conversations: int = 1000
    """Per owner (MAX_CONVERSATIONS)."""
    max_turns: int = 500
    """Questions per conversation (MAX_CONVERSATION_TURNS)."""
    max_message_chars: int = 50_000
    """Characters of one question or answer (MAX_MESSAGE_CHARS)."""


def new_id() -> str:
    """A conversation id: random, so that one cannot be guessed from another."""
    return secrets.token_hex(16)


def title_of(question: str) -> str:
    """A conversation's first title: its first question on one line, cut short."""
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


class ConversationStore:
    """Every owner's conversations in `<root>/.conversations.sqlite`."""

    def __init__(self, root: Path, limits: StoreLimits | None = None) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / DB_NAME
        self.limits = limits or StoreLimits()
        self._lock = threading.Lock()
        self._db = open_database(self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before any read of it (no check-then-act race)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ---- conversations ----------------------------------------------------------------

    def create(self, owner: str, title: str, kb: str | None = None) -> ConversationInfo:
        """A new, empty conversation; ConversationLimitError when the owner has the most."""
        title = self._checked_title(title)
        now = time.time()
        conversation_id = new_id()
        with self._write() as db:
            self._insert(db, owner, conversation_id, title, kb, now)
        return ConversationInfo(conversation_id, title, kb, now, now, 0)

    def list_conversations(self, owner: str) -> list[ConversationInfo]:
        """The owner's conversations, the one last written first."""
        rows = self._read(
            f"{_INFO_SELECT} WHERE c.owner = ? GROUP BY c.id "
            "ORDER BY c.updated_at DESC, c.rowid DESC",
            (owner,),
        )
        return [ConversationInfo(*row) for row in rows]

    def info(self, owner: str, conversation_id: str) -> ConversationInfo:
        rows = self._read(
            f"{_INFO_SELECT} WHERE c.owner = ? AND c.id = ? GROUP BY c.id",
            (owner, conversation_id),
        )
        if not rows:
            raise _not_found(conversation_id)
        return ConversationInfo(*rows[0])

    def get(self, owner: str, conversation_id: str) -> Conversation:
        """The conversation with its messages (ConversationNotFoundError: none of this
        owner's)."""
        info = self.info(owner, conversation_id)
        rows = self._read(
            "SELECT role, text, sources, rewritten, kb, created_at FROM messages "
            "WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        messages = tuple(
            StoredMessage(role, text, tuple(json.loads(sources)), rewritten, kb, created)
            for role, text, sources, rewritten, kb, created in rows
        )
        return Conversation(info, messages)

    def append(
        self,
        owner: str,
        conversation_id: str,
        messages: Sequence[StoredMessage],
        title: str | None = None,
    ) -> None:
        """Add `messages` at the end; the conversation's KB becomes the last one asked.
        With `title`, the conversation is created first, in the same transaction (a
        conversation is never kept without its first turn)."""
        for message in messages:
            self.check_message(message.text)
        questions = sum(1 for m in messages if m.role == "user")
        kb = next((m.kb for m in reversed(messages) if m.role == "user"), None)
        now = time.time()
        with self._write() as db:
            if title is not None:
                self._insert(db, owner, conversation_id, self._checked_title(title), kb, now)
            self._check_room(db, owner, conversation_id, questions)
            db.executemany(
                "INSERT INTO messages(conversation_id, role, text, sources, rewritten, kb, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        conversation_id,
                        m.role,
                        m.text,
                        _json(m.sources),
                        m.rewritten,
                        m.kb,
                        m.created_at,
                    )
                    for m in messages
                ],
            )
            db.execute(
                "UPDATE conversations SET updated_at = ?, kb = ? WHERE id = ?",
                (now, kb, conversation_id),
            )

    def check_room(self, owner: str, conversation_id: str | None) -> None:
        """Refuse now, before a question is answered, one that could not be kept: in
        conversation `conversation_id`, or (None) in a new one."""
        with self._write() as db:
            if conversation_id is None:
                self._check_count(db, owner)
            else:
                self._check_room(db, owner, conversation_id, 1)

    def _check_count(self, db: sqlite3.Connection, owner: str) -> None:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM conversations WHERE owner = ?", (owner,)
        ).fetchone()
        if count >= self.limits.max_conversations:
            raise ConversationLimitError(
                f"{count} conversations are kept, the most allowed "
                f"(MAX_CONVERSATIONS = {self.limits.max_conversations}): delete old ones "
                "to start a new one"
            )

    def _insert(
        self,
        db: sqlite3.Connection,
        owner: str,
        conversation_id: str,
        title: str,
        kb: str | None,
        now: float,
    ) -> None:
        self._check_count(db, owner)
        db.execute(
            "INSERT INTO conversations(id, owner, title, kb, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (conversation_id, owner, title, kb, now, now),
        )

    def _check_room(
        self, db: sqlite3.Connection, owner: str, conversation_id: str, questions: int
    ) -> None:
        found = db.execute(
            "SELECT (SELECT COUNT(*) FROM messages WHERE conversation_id = c.id "
            "AND role = 'user') FROM conversations c WHERE c.id = ? AND c.owner = ?",
            (conversation_id, owner),
        ).fetchone()
        if found is None:
            raise _not_found(conversation_id)
        if found[0] + questions > self.limits.max_turns:
            raise ConversationLimitError(
                f"this conversation has {found[0]} questions, the most kept "
                f"(MAX_CONVERSATION_TURNS = {self.limits.max_turns}): start a new conversation"
            )

    def rename(self, owner: str, conversation_id: str, title: str) -> ConversationInfo:
        title = self._checked_title(title)
        with self._write() as db:
            changed = db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND owner = ?",
                (title, conversation_id, owner),
            ).rowcount
        if not changed:
            raise _not_found(conversation_id)
        return self.info(owner, conversation_id)

    def delete(self, owner: str, conversation_id: str) -> None:
        """The conversation and its messages (ON DELETE CASCADE)."""
        with self._write() as db:
            deleted = db.execute(
                "DELETE FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            ).rowcount
        if not deleted:
            raise _not_found(conversation_id)

    # ---- checks and settings ----------------------------------------------------------

    def check_message(self, text: str) -> None:
        limit = self.limits.max_message_chars
        if len(text) > limit:
            raise InputTooLongError(
                f"a message of {len(text):,} characters cannot be kept; at most {limit:,} are "
                "(MAX_MESSAGE_CHARS): shorten it"
            )

    def _checked_title(self, title: str) -> str:
        title = " ".join(title.split())
        if not title:
            raise BadRequestError("a conversation's title cannot be empty; type a title")
        if len(title) > MAX_TITLE_CHARS:
            raise InputTooLongError(
                f"the title is {len(title):,} characters long; at most {MAX_TITLE_CHARS} are "
                "accepted: shorten it"
            )
        return title

    def secret(self, key: str) -> str:
        """A random value made once and kept in the file (e.g. the key the browser's copy of
        the session id is encrypted with, so that it survives a restart)."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                (key, secrets.token_urlsafe(24)),
            )
            (value,) = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(value)


_INFO_SELECT = (
    "SELECT c.id, c.title, c.kb, c.created_at, c.updated_at, COUNT(m.id) "
    "FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id"
)


def _json(sources: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(sources), ensure_ascii=False)


def _not_found(conversation_id: str) -> ConversationNotFoundError:
    return ConversationNotFoundError(
        f"no conversation {conversation_id!r}; list yours with GET /api/conversations"
    )
