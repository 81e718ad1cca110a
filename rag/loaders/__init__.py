"""Document loaders: one uploaded file → LangChain `Document`s with uniform metadata.

`load_file(path, name)` picks a loader by extension from `LOADERS`, a read-only registry.
Every Document has metadata `source` (the user-facing file name), `page` (1-based PDF page,
slide or image frame number, else None) and `title_path` (" > "-joined heading path, "" if
none); XLSX/XLS/ODS Documents also have `sheet`, web pages added by URL `url` (the page's
address); table rows (one row a line, with its header) have `table` = True. The text of a
file inside the file (an e-mail's attachment) has `source` "mail.eml/attachment.pdf" and
`part` "attachment.pdf". A file whose format marks no headings but whose first line is a
title gets that line as its title path (`_title.py`). Text is normalised: NUL and control
characters dropped, whitespace runs collapsed, paragraph breaks kept as "\\n\\n".

Why these libraries and not `unstructured`: on first use `unstructured` downloads a spaCy
model and fails offline on every file type (measured: partition_html raised "Failed to
download spaCy model"); it also takes ~5 s to import, and its element classification (Title
vs NarrativeText, without a tagger) is what produced bare heading chunks in an ancestor app.
The dedicated libraries are offline, fast and give direct control over what matters here:
pypdf (page numbers, line re-joining), python-docx (heading styles, tables in reading order),
openpyxl, python-pptx, ebooklib, BeautifulSoup + lxml, and the stdlib csv/json; for older
formats xlrd, striprtf, odfpy, extract-msg, the stdlib email, and Debian's antiword and
catppt run as subprocesses (`_tools.py`). Nothing is patched globally. Images and scanned
PDF pages are read by OCR (rag/ocr) when `load_file` is given an `OcrPool`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from types import MappingProxyType

from langchain_core.documents import Document

from rag.errors import DocumentLoadError, UnsupportedFileTypeError
from rag.loaders._common import (
    DEFAULT_MAX_UNZIPPED_BYTES,
    Loader,
    LoadLimits,
    Section,
    normalize_text,
)
from rag.loaders._parts import read_part
from rag.loaders._title import carry_title
from rag.loaders.image import IMAGE_EXTENSIONS, load_image
from rag.loaders.legacy_office import load_doc, load_ppt, load_rtf, load_xls
from rag.loaders.mail import load_eml, load_msg
from rag.loaders.markdown import load_markdown
from rag.loaders.opendocument import load_odp, load_ods, load_odt
from rag.loaders.pdf import load_pdf
from rag.loaders.plain import load_code, load_text
from rag.loaders.slides import load_pptx
from rag.loaders.spreadsheet import load_csv, load_tsv, load_xlsx
from rag.loaders.structured import load_json, load_jsonl
from rag.loaders.web import load_epub
from rag.loaders.webpage import load_page_or_html, page_url
from rag.loaders.word import load_docx
from rag.ocr import OcrPool, Progress

__all__ = [
    "DEFAULT_MAX_UNZIPPED_BYTES",
    "LOADERS",
    "SUPPORTED_EXTENSIONS",
    "load_file",
]

_CODE_EXTENSIONS = (
    ".bash", ".c", ".cc", ".cfg", ".conf", ".cpp", ".cs", ".css", ".go", ".h", ".hpp",
    ".ini", ".java", ".js", ".jsx", ".kt", ".log", ".lua", ".php", ".pl", ".properties",
    ".py", ".r", ".rb", ".rs", ".rst", ".scala", ".scss", ".sh", ".sql", ".swift", ".tex",
    ".toml", ".ts", ".tsx", ".vue", ".xml", ".yaml", ".yml",
)  # fmt: skip


def _load_part(name: str, data: bytes, limits: LoadLimits) -> list[Section]:
    """A file attached to another (an e-mail's attachment), read by the loader of its own
    extension (`_parts.py`); the registry below is looked up when it is called."""
    return read_part(name, data, limits, LOADERS, TITLE_LINE_FORMATS)


LOADERS: MappingProxyType[str, Loader] = MappingProxyType(
    {
        ".txt": load_text,
        ".text": load_text,
        ".md": load_markdown,
        ".markdown": load_markdown,
        ".pdf": load_pdf,
        ".docx": load_docx,
        ".html": load_page_or_html,
        ".htm": load_page_or_html,
        ".csv": load_csv,
        ".tsv": load_tsv,
        ".xlsx": load_xlsx,
        ".pptx": load_pptx,
        ".epub": load_epub,
        ".json": load_json,
        ".jsonl": load_jsonl,
        **dict.fromkeys(_CODE_EXTENSIONS, load_code),
        ".doc": load_doc,
        ".xls": load_xls,
        ".ppt": load_ppt,
        ".rtf": load_rtf,
        ".odt": load_odt,
        ".ods": load_ods,
        ".odp": load_odp,
        ".eml": partial(load_eml, load_part=_load_part),
        ".msg": partial(load_msg, load_part=_load_part),
        **dict.fromkeys(IMAGE_EXTENSIONS, load_image),
    }
)
"""Extension (lower case, with the dot) → loader function."""

SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(LOADERS))

TITLE_LINE_FORMATS = frozenset(
    {".txt", ".text", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm", *IMAGE_EXTENSIONS}
    | {".doc", ".rtf", ".odt"}
)
"""Prose formats whose first line may be the document's title (`_title.py`); not tables,
records or slides, whose first line is data."""
_PAGE_FORMATS = frozenset({".html", ".htm"})
"""Formats a web page fetched by URL is stored as (rag/loaders/webpage.py): their Documents
carry metadata `url`."""


def load_file(
    path: Path,
    name: str,
    *,
    max_unzipped_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES,
    pdf_tables: bool = True,
    ocr: OcrPool | None = None,
    progress: Progress | None = None,
) -> list[Document]:
    """Load one file into Documents.

    `name` is the user-facing file name (its extension picks the loader; `path` may be a
    temporary file). Raises UnsupportedFileTypeError for an unknown extension and
    DocumentLoadError (message prefixed with `name`) for an empty, corrupt, encrypted,
    scanned-without-OCR or otherwise unreadable file. `pdf_tables` (PDF_TABLES): ruled PDF
    tables as rows with their header; `ocr` reads images and scanned PDF pages (None: OCR
    off); `progress` gets status lines as they are read ("OCR page 3/10").
    """
    loader = _loader_for(path, name)
    try:
        _check_not_empty(path)
        limits = LoadLimits(
            max_unzipped_bytes=max_unzipped_bytes,
            pdf_tables=pdf_tables,
            ocr=ocr,
            progress=progress,
        )
        sections = loader(path, limits)
    except DocumentLoadError as exc:
        raise DocumentLoadError(f"{name}: {exc}") from exc
    except RecursionError as exc:
        raise DocumentLoadError(f"{name}: the file is nested too deeply to read") from exc
    except Exception as exc:  # a library's own error on a malformed file
        raise DocumentLoadError(
            f"{name}: could not read this {_extension(path, name)} file "
            f"({type(exc).__name__}: {exc}) — it may be corrupt; save it again and re-upload"
        ) from exc
    if _extension(path, name) in TITLE_LINE_FORMATS:
        sections = carry_title(sections)
    url = page_url(path) if _extension(path, name) in _PAGE_FORMATS else None
    documents = [doc for doc in (_to_document(s, name, url) for s in sections) if doc is not None]
    if not documents:
        raise DocumentLoadError(
            f"{name}: no text found (the file is empty or contains only whitespace, images "
            "or empty tables) — check the file and upload one with text"
        )
    return documents


def _extension(path: Path, name: str) -> str:
    suffix = Path(name).suffix or path.suffix
    return suffix.lower()


def _loader_for(path: Path, name: str) -> Loader:
    extension = _extension(path, name)
    loader = LOADERS.get(extension)
    if loader is None:
        shown = extension or "(no extension)"
        allowed = ", ".join(ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS)
        raise UnsupportedFileTypeError(
            f"{name}: file type {shown} is not supported — convert it to one of: {allowed}"
        )
    return loader


def _check_not_empty(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentLoadError(f"cannot read the file ({exc.strerror})") from exc
    if size == 0:
        raise DocumentLoadError("empty file (0 bytes) — upload a file with content")


def _to_document(section: Section, name: str, url: str | None) -> Document | None:
    text = normalize_text(section.text, keep_indent=section.verbatim)
    if not text:
        return None
    metadata: dict[str, object] = {
        "source": f"{name}/{section.part}" if section.part else name,
        "page": section.page,
        "title_path": section.title_path,
    }
    if section.part:  # a file inside the file (an e-mail attachment): `_parts.py`
        metadata["part"] = section.part
    if section.sheet is not None:
        metadata["sheet"] = section.sheet
    if url is not None:
        metadata["url"] = url
    if section.table:
        metadata["table"] = True
    return Document(page_content=text, metadata=metadata)
