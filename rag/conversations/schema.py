"""The conversations file's schema and how it is opened.

`PRAGMA user_version` is the schema version: a file from an older zhiku is migrated at open
(each migration adds one), one from a newer zhiku is refused with a message. A file that is
not a database is moved aside, kept for the user to look at, and a new one made.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from rag.errors import ConfigError

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
"""How long a write waits for another process's transaction to end."""

_MIGRATIONS: tuple[str, ...] = (
    # version 1
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        title TEXT NOT NULL,
        kb TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX conversations_by_owner ON conversations(owner, updated_at);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        text TEXT NOT NULL,
        sources TEXT NOT NULL DEFAULT '[]',
        rewritten TEXT,
        kb TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)
"""`PRAGMA user_version` of a file this zhiku wrote; each migration adds one."""


def open_database(path: Path) -> sqlite3.Connection:
    """The file, migrated to SCHEMA_VERSION; a file that is not a database is moved aside
    (kept for the user to look at) and a new one made."""
    try:
        return _connect(path)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise  # locked, read-only, disk full: not the file's fault, nothing is moved
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                source.rename(f"{aside}{suffix}")
        logger.error("%s is not a readable database (%s): moved to %s", path, exc, aside)
        return _connect(path)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        _migrate(db, path)
    except BaseException:
        db.close()
        raise
    return db


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"{path} was written by a newer zhiku (schema {version}, this one reads up to "
                f"{SCHEMA_VERSION}): upgrade zhiku, or move the file away to start anew"
            )
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            for statement in filter(str.strip, script.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version={number}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
