"""Passing the model's stream of answer pieces through a rewriting step."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator


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
