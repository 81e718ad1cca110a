"""Web pages added by URL: how their original is stored, and how it is read back.

The original of a fetched page (`<host>_<path>.html`) is the page itself, decoded and saved as
UTF-8, after two lines zhiku writes: a comment naming the URL it came from and its type, and
a UTF-8 charset declaration (for a browser opening the file). A `text/plain` page is stored
escaped in a `<pre>`. The URL is read back from the original at every load, so a rebuild or a
repair keeps it without any other record, and every chunk carries it as metadata `url`.

Reading: the main text of an HTML page is extracted with trafilatura (the article, without
navigation, footers, comments or ads); its headings, paragraphs, lists and tables then go
through the same walker as an uploaded HTML file (rag/loaders/web.py), the page's title as
the root of `title_path`. A page trafilatura finds no main text in is read whole. An HTML
file without the comment (an upload) is read as before, by `load_html`.
"""

from __future__ import annotations

import codecs
import html
import re
from pathlib import Path
from urllib.parse import quote

from rag.errors import DocumentLoadError
from rag.loaders._common import LoadLimits, Section, collapse_spaces
from rag.loaders._encoding import decode_text
from rag.loaders.web import decode_html, html_sections, load_html

_MARK = re.compile(rb"\A<!-- zhiku web page: url=(https?://\S+) type=([a-z+/.-]+) -->\n")
_MARK_BYTES = 8192
# characters a URL keeps in the comment: no space, no < > " and so never "-->"
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"
PLAIN_TEXT = "text/plain"
_MIN_MAIN_TEXT_CHARS = "50"
"""Main text shorter than this makes trafilatura fall back to the whole page's text,
navigation included. Its default, 250, is made for English; Chinese says in 50 characters
what English says in about 150, and a short Chinese article fell back (measured)."""


def page_original(url: str, content_type: str, text: str) -> bytes:
    """The stored original of page `url` whose decoded content is `text`."""
    head = (
        f"<!-- zhiku web page: url={quote(url, safe=_URL_SAFE)} type={content_type} -->\n"
        '<meta charset="utf-8">\n'
    )
    body = f"<pre>{html.escape(text)}</pre>\n" if content_type == PLAIN_TEXT else text
    return (head + body).encode("utf-8")


def decode_page(body: bytes, content_type: str, charset: str | None) -> str:
    """A fetched page's text: in the charset its server declared when that decodes it, else
    as an uploaded file would be (the page's <meta charset>, then detection)."""
    if charset:
        try:
            return body.decode(codecs.lookup(charset).name)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(body) if content_type == PLAIN_TEXT else decode_html(body)


def saved_page(data: bytes) -> tuple[str, str] | None:
    """(URL, content type) of a stored page's original, None for any other file."""
    found = _MARK.match(data[:_MARK_BYTES])
    if found is None:
        return None
    return found.group(1).decode("ascii", "replace"), found.group(2).decode("ascii")


def page_url_and_type(path: Path) -> tuple[str, str] | None:
    """(URL, content type) of the stored original at `path`, None for an uploaded file."""
    try:
        with open(path, "rb") as handle:
            return saved_page(handle.read(_MARK_BYTES))
    except OSError:
        return None


def page_url(path: Path) -> str | None:
    """The URL a stored original was fetched from, None for an uploaded file."""
    saved = page_url_and_type(path)
    return saved[0] if saved else None


def load_page_or_html(path: Path, limits: LoadLimits) -> list[Section]:
    """A stored web page's main text; any other HTML file as `load_html` reads it."""
    saved = page_url_and_type(path)
    if saved is None:
        return load_html(path, limits)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentLoadError(f"cannot read the file ({exc.strerror})") from exc
    return page_sections(data.decode("utf-8", errors="replace"), saved[1])


def page_sections(markup: str, content_type: str) -> list[Section]:
    """Sections of a page's main text, under its title (module doc)."""
    if content_type == PLAIN_TEXT:
        return html_sections(markup)
    # deferred: trafilatura takes half a second to import, and only pages need it
    import trafilatura
    from trafilatura.settings import use_config

    config = use_config()  # a fresh copy of trafilatura's defaults
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", _MIN_MAIN_TEXT_CHARS)
    metadata = trafilatura.extract_metadata(markup)
    title = collapse_spaces(metadata.title or "") if metadata is not None else ""
    root = (title,) if title else ()
    main = trafilatura.extract(
        markup,
        output_format="html",
        include_tables=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        favor_recall=True,
        deduplicate=False,
        config=config,
    )
    sections = html_sections(main, root) if main else []
    return sections or html_sections(markup, root)


__all__ = [
    "PLAIN_TEXT",
    "decode_page",
    "load_page_or_html",
    "page_original",
    "page_sections",
    "page_url",
    "page_url_and_type",
    "saved_page",
]
