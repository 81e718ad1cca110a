"""Safe names for knowledge bases and stored files (Chinese, spaces and emoji are kept)."""

from __future__ import annotations

import re
import unicodedata

from rag.errors import InvalidNameError

MAX_NAME_BYTES = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FORBIDDEN = re.compile(r'[<>:"|?*\\/]')
_WINDOWS_RESERVED = {
    "CON", "PRN", "AUX", "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}  # fmt: skip


def safe_file_name(name: str) -> str:
    """The last path component of `name`, cleaned so it can be stored under content/.

    Directory parts are dropped (`../../etc/passwd.txt` -> `passwd.txt`, `a/b.md` -> `b.md`),
    characters that are unsafe on common file systems become `_`, and a name too long for
    the file system is shortened keeping its extension.
    """
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = _FORBIDDEN.sub("_", _CONTROL.sub("", base)).strip().strip(".")
    if not base:
        raise InvalidNameError(f"file name {name!r} has no usable characters; rename the file")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    if stem.upper() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    suffix = f".{ext}" if dot else ""
    return _shorten(stem, suffix)


def _shorten(stem: str, suffix: str) -> str:
    encoded = stem.encode("utf-8")
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    if len(encoded) > room:
        stem = encoded[:room].decode("utf-8", errors="ignore").rstrip()
    return stem + suffix


def validate_kb_name(name: str) -> str:
    """A knowledge-base name is used as a folder name: refuse rather than silently alter it."""
    cleaned = unicodedata.normalize("NFC", name).strip()
    problem = None
    if not cleaned:
        problem = "is empty"
    elif cleaned in {".", ".."} or cleaned.startswith("."):
        problem = "may not start with a dot"
    elif _FORBIDDEN.search(cleaned) or _CONTROL.search(cleaned):
        problem = 'may not contain / \\ : * ? " < > | or control characters'
    elif len(cleaned.encode("utf-8")) > 100:
        problem = "is longer than 100 bytes"
    elif cleaned.upper() in _WINDOWS_RESERVED:
        problem = "is a reserved device name"
    if problem:
        raise InvalidNameError(f"knowledge-base name {name!r} {problem}; choose another name")
    return cleaned
