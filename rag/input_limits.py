"""Length limits on what a user types: a search query, a chat question, the chat history.

Long text costs time in every stage it passes (tokenizing, embedding, the LLM's prompt), and
a question longer than the model's context window cannot be answered anyway, so each is
refused with InputTooLongError (HTTP 413) naming the limit and the setting that raises it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.errors import InputTooLongError


def check_query(text: str, max_chars: int | None, what: str = "query") -> None:
    """Refuse `text` (a search query or chat question) over `max_chars` (MAX_QUERY_CHARS)."""
    if max_chars is not None and len(text) > max_chars:
        raise InputTooLongError(
            f"the {what} is {len(text):,} characters long; at most {max_chars:,} are accepted "
            "(MAX_QUERY_CHARS): shorten it, or search for its key sentence"
        )


def check_history(history: Sequence[tuple[str, str]], turns_read: int, max_chars: int) -> None:
    """Refuse a history whose last `turns_read` turns (the only ones the model reads:
    LLM_HISTORY_LEN) hold more than `max_chars` characters (MAX_HISTORY_CHARS)."""
    read = history[-turns_read:] if turns_read > 0 else []
    length = sum(len(question) + len(answer) for question, answer in read)
    if length > max_chars:
        raise InputTooLongError(
            f"the conversation history read with this question (its last {len(read)} turns) "
            f"is {length:,} characters long; at most {max_chars:,} are accepted "
            "(MAX_HISTORY_CHARS): start a new conversation, or send shorter turns"
        )


__all__ = ["check_history", "check_query"]
