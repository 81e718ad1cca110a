"""Splitting documents into chunks: one interface (`TextSplitter`), picked by TEXT_SPLITTER."""

from __future__ import annotations

from collections.abc import Callable

from langchain_text_splitters import RecursiveCharacterTextSplitter, TextSplitter

from rag.errors import ConfigError
from rag.splitters.chinese import ChineseRecursiveTextSplitter


def _plain_recursive(chunk_size: int, overlap: int) -> TextSplitter:
    return RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=overlap)


SPLITTERS: dict[str, Callable[[int, int], TextSplitter]] = {
    "chinese_recursive": lambda size, overlap: ChineseRecursiveTextSplitter(
        chunk_size=size, chunk_overlap=overlap
    ),
    "recursive": _plain_recursive,
}


def build_splitter(name: str, chunk_size: int, overlap: int) -> TextSplitter:
    """The splitter called `name` (TEXT_SPLITTER in configs/kb_config.py)."""
    try:
        make = SPLITTERS[name]
    except KeyError:
        raise ConfigError(
            f"TEXT_SPLITTER={name!r} is not a splitter; valid: {', '.join(sorted(SPLITTERS))}"
        ) from None
    return make(chunk_size, overlap)


__all__ = ["SPLITTERS", "ChineseRecursiveTextSplitter", "build_splitter"]
