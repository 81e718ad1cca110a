"""Short, one-line excerpts of what an OpenAI-compatible server sent, for error messages
(shared by the LLM and the embedding clients)."""

from __future__ import annotations

import json

EXCERPT_CHARS = 300
"""Longest excerpt of a server's reply quoted in an error."""


def one_line(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text` on one line, cut to `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_detail(body: str) -> str:
    """The message of an error body (`{"error": {"message": ...}}`, `{"detail": ...}`...)."""
    try:
        data = json.loads(body)
    except ValueError:
        return one_line(body) or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            for key in ("message", "detail", "msg"):
                if error.get(key):
                    return one_line(str(error[key]))
        elif error:
            return one_line(str(error))
        if data.get("detail"):
            return one_line(str(data["detail"]))
    return one_line(body)
