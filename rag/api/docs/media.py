"""How a stored original is sent: its media type, and its name in `Content-Disposition`."""

from __future__ import annotations

import mimetypes
import re
from pathlib import PurePath
from urllib.parse import quote

MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".epub": "application/epub+zip",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".html": "text/html",
    ".htm": "text/html",
    ".json": "application/json",
    ".jsonl": "application/jsonl",
}
"""The types zhiku indexes, named here: the system's table (/etc/mime.types) varies."""
FALLBACK = "application/octet-stream"
_NOT_TOKEN = re.compile(r'[^\x20-\x7e]|["\\%]')


def media_type(name: str) -> str:
    suffix = PurePath(name).suffix.lower()
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or FALLBACK


def content_disposition(name: str) -> str:
    """`attachment` with the name twice (RFC 6266): `filename*` in UTF-8, percent-encoded
    (RFC 5987), which every current browser reads, and an ASCII `filename` for the others
    (each other character an underscore)."""
    fallback = _NOT_TOKEN.sub("_", name) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
