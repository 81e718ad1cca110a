"""The model's stream of answer pieces, and passing it through a rewriting step; either
ends the model's generation when the consumer stops early."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from langchain_core.runnables import Runnable


def closing(
    pieces: Iterable[str], rewrite: Callable[[Iterator[str]], Iterator[str]]
) -> Iterator[str]:
    """`rewrite(pieces)`, closing `pieces` when it ends or is stopped: a consumer that stops
    early (to ask again after a refusal) ends the model's generation too."""
    source = iter(pieces)
    try:
        yield from rewrite(source)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def text_stream(llm: Runnable[Any, Any], prompt: str, **call: Any) -> Iterator[str]:
    """The model's answer to `prompt` as text pieces, straight from its own `stream` (given
    the `call` keyword arguments), closed as soon as this is.

    Not `(prompt | llm | StrOutputParser()).stream(...)`: a LangChain sequence whose stream
    is closed early reads its input to the end for tracing (langchain-core 1.7,
    `_transform_stream_with_config`), and the parser's input is the model's answer: closing
    it waited for the whole answer (20 s for 400 pieces, measured) instead of ending it, so
    Stop in the UI and a client gone from the API left the model generating."""
    pieces = llm.stream(prompt, **call)
    try:
        for piece in pieces:
            yield piece if isinstance(piece, str) else str(getattr(piece, "content", piece))
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
