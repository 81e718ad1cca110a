"""Adding web pages to a knowledge base by URL: fetch each page (rag/webfetch/), store it as
an original named after its URL, and index the originals as files are indexed.

Each URL gets its own result, as each uploaded file does. A URL is stored under the name
its final address (after redirects) gives, so adding the same URL again updates that
document ("unchanged" when the page is the same). Another page whose name comes out the
same (`/a/b` and `/a_b`) gets a name ending in a hash of its URL instead of replacing it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ZhikuError
from rag.ingestion import FileResult, FileStatus
from rag.services.knowledge import KnowledgeBaseService
from rag.webfetch import PageFetcher, page_file_name, stored_page


@dataclass(frozen=True)
class UrlResult:
    """What happened to one URL."""

    url: str
    """As given."""
    name: str
    """The document it is stored as; "" when it was not fetched."""
    status: FileStatus
    chunks: int = 0
    error: str | None = None
    error_type: type[ZhikuError] | None = None
    """The kind of failure (the API maps it to a status)."""


@dataclass(frozen=True)
class _Fetched:
    position: int
    url: str
    name: str
    path: Path


class WebPageService:
    """Adds web pages to knowledge bases (module doc)."""

    def __init__(self, kb: KnowledgeBaseService, fetcher: PageFetcher, staging: Path) -> None:
        """`staging`: the folder under which fetched pages wait while they are indexed."""
        self.kb = kb
        self.fetcher = fetcher
        self.staging = staging

    def add_urls(
        self,
        kb: str,
        urls: Sequence[str],
        on_progress: Callable[[UrlResult], None] | None = None,
    ) -> list[UrlResult]:
        """Fetch and add (or update) each URL; one bad URL never stops the others. Results
        in the order of `urls`; `on_progress` gets each as soon as it is known. 404 for a
        missing knowledge base before anything is fetched."""
        self.kb.summary(kb)
        self.staging.mkdir(parents=True, exist_ok=True)
        results: dict[int, UrlResult] = {}

        def finish(position: int, result: UrlResult) -> None:
            results[position] = result
            if on_progress:
                on_progress(result)

        with tempfile.TemporaryDirectory(prefix="urls-", dir=self.staging) as tmp:
            fetched = []
            for position, url in enumerate(urls):
                try:
                    fetched.append(self._fetch(kb, position, url, Path(tmp)))
                except ZhikuError as exc:
                    finish(position, UrlResult(url, "", "error", 0, str(exc), type(exc)))
            files = [(page.name, page.path) for page in fetched]
            for page, added in zip(fetched, self.kb.add_files(kb, files), strict=True):
                finish(page.position, _url_result(page.url, added))
        return [results[position] for position in sorted(results)]

    def _fetch(self, kb: str, position: int, url: str, folder: Path) -> _Fetched:
        page = self.fetcher.fetch(url)
        name = page_file_name(page.url)
        if self.kb.doc(kb, name) is not None and self.kb.page_url(kb, name) != page.url:
            name = page_file_name(page.url, distinct=True)
        path = folder / f"{position}{Path(name).suffix}"
        path.write_bytes(stored_page(page))
        return _Fetched(position, url, name, path)


def _url_result(url: str, added: FileResult) -> UrlResult:
    return UrlResult(url, added.name, added.status, added.chunks, added.error, added.error_type)


__all__ = ["UrlResult", "WebPageService"]
