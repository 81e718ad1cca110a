"""Web pages fetched by URL, safely (server-side request forgery, limits), and stored as
documents.

addresses.py   which addresses may be fetched; literal forms read as resolvers read them
fetcher.py     `PageFetcher`: one page over httpx, connecting to the checked address only
pages.py       a page's stored name (`<host>_<path>.html`) and original
"""

from rag.webfetch.addresses import check_address, literal_address, non_public_kind
from rag.webfetch.fetcher import PAGE_TYPES, FetchedPage, FetchOptions, PageFetcher, parse_url
from rag.webfetch.pages import page_file_name, stored_page

__all__ = [
    "PAGE_TYPES",
    "FetchOptions",
    "FetchedPage",
    "PageFetcher",
    "check_address",
    "literal_address",
    "non_public_kind",
    "page_file_name",
    "parse_url",
    "stored_page",
]
