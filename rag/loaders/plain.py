"""Plain text and source code: decoded (see `_encoding`), one Section per file.

Source code and config files keep their indentation (`verbatim`); the text splitter
chunks them later.
"""

from __future__ import annotations

from pathlib import Path

from rag.loaders._common import LoadLimits, Section
from rag.loaders._encoding import read_text_file


def load_text(path: Path, limits: LoadLimits) -> list[Section]:
    """The whole text file as one Section, whitespace runs collapsed."""
    del limits
    return [Section(read_text_file(path))]


def load_code(path: Path, limits: LoadLimits) -> list[Section]:
    """A source or config file as one Section, indentation kept."""
    del limits
    return [Section(read_text_file(path), verbatim=True)]
