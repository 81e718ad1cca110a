"""A fetched page as a document: its file name and its stored original."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote

import httpx

from rag.kb.names import safe_file_name
from rag.loaders.webpage import decode_page, page_original
from rag.webfetch.fetcher import FetchedPage

PAGE_SUFFIX = ".html"
_READABLE_BYTES = 150
"""A longer name is cut and given a hash of its URL, so two long URLs never share a name."""
_HASH_CHARS = 10
_PAGE_EXTENSIONS = (".html", ".htm", ".shtml", ".xhtml")


def page_file_name(url: str, distinct: bool = False) -> str:
    """The name page `url` is stored under: `<host>_<path>_<query>.html`, e.g.
    `https://example.com/docs/intro.html?lang=zh` -> `example.com_docs_intro_lang=zh.html`.

    Cleaned as every stored name is (rag/kb/names.py). A name over 150 bytes, or any name
    with `distinct` (its readable form is another page's already), is cut and ends with a
    hash of the URL."""
    parsed = httpx.URL(url)
    host = parsed.host + (f"_{parsed.port}" if parsed.port else "")
    path = unquote(parsed.path).strip("/")
    for extension in _PAGE_EXTENSIONS:
        path = path.removesuffix(extension)
    query = unquote(parsed.query.decode("ascii", "replace"))
    stem = "_".join(part for part in (host, path.replace("/", "_"), query) if part)
    stem = safe_file_name(stem + PAGE_SUFFIX).removesuffix(PAGE_SUFFIX)
    if distinct or len(stem.encode("utf-8")) > _READABLE_BYTES:
        digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:_HASH_CHARS]
        cut = stem.encode("utf-8")[: _READABLE_BYTES - _HASH_CHARS - 1]
        stem = f"{cut.decode('utf-8', errors='ignore').rstrip()}_{digest}"
    return stem + PAGE_SUFFIX


def stored_page(page: FetchedPage) -> bytes:
    """The original stored for `page` (rag/loaders/webpage.py: its URL in a comment first)."""
    text = decode_page(page.body, page.content_type, page.charset)
    return page_original(page.url, page.content_type, text)


__all__ = ["PAGE_SUFFIX", "page_file_name", "stored_page"]
