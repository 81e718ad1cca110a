"""Splitting documents into chunks: one interface (`TextSplitter`), picked by TEXT_SPLITTER."""

from __future__ import annotations

from langchain_text_splitters import RecursiveCharacterTextSplitter, TextSplitter

from rag.errors import ConfigError
from rag.splitters.chinese import ChineseRecursiveTextSplitter, weighted_length

SPLITTERS: dict[str, type[RecursiveCharacterTextSplitter]] = {
    "chinese_recursive": ChineseRecursiveTextSplitter,
    "recursive": RecursiveCharacterTextSplitter,
}


def build_splitter(
    name: str, chunk_size: int, overlap: int, narrow_char_weight: float = 1.0
) -> TextSplitter:
    """The splitter called `name` (TEXT_SPLITTER in configs/kb_config.py); lengths count a
    CJK character 1 and any other `narrow_char_weight` (CHUNK_NARROW_CHAR_WEIGHT)."""
    try:
        make = SPLITTERS[name]
    except KeyError:
        raise ConfigError(
            f"TEXT_SPLITTER={name!r} is not a splitter; valid: {', '.join(sorted(SPLITTERS))}"
        ) from None
    return make(
        chunk_size=chunk_size,
        chunk_overlap=overlap,
        length_function=weighted_length(narrow_char_weight),
    )


__all__ = ["SPLITTERS", "ChineseRecursiveTextSplitter", "build_splitter", "weighted_length"]
