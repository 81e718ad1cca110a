"""Document loaders: one uploaded file → LangChain `Document`s with uniform metadata.

`load_file(path, name)` picks a loader by extension from `LOADERS`, a read-only registry.
Every Document has metadata `source` (the user-facing file name), `page` (1-based PDF page,
PPTX slide or image frame number, else None) and `title_path` (" > "-joined heading path, ""
if none); XLSX Documents also have `sheet`. A file whose format marks no headings but whose first
line is a title gets that line as its title path (`_title.py`). Text is normalised: NUL and
control characters dropped, whitespace runs collapsed, paragraph breaks kept as "\\n\\n".

Why these libraries and not `unstructured`: on first use `unstructured` downloads a spaCy
model and fails offline on every file type (measured: partition_html raised "Failed to
download spaCy model"); it also takes ~5 s to import, and its element classification (Title
vs NarrativeText, without a tagger) is what produced bare heading chunks in an ancestor app.
The dedicated libraries are offline, fast and give direct control over what matters here:
pypdf (page numbers, line re-joining), python-docx (heading styles, tables in reading order),
openpyxl, python-pptx, ebooklib, BeautifulSoup + lxml, and the stdlib csv/json. Nothing is
patched globally. Images and scanned PDF pages are read by OCR (rag/ocr) when `load_file` is
given an `OcrPool`.
"""

from __future__ import annotations

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
from rag.loaders._title import carry_title
from rag.loaders.image import IMAGE_EXTENSIONS, load_image
from rag.loaders.markdown import load_markdown
from rag.loaders.pdf import load_pdf
from rag.loaders.plain import load_code, load_text
from rag.loaders.slides import load_pptx
from rag.loaders.spreadsheet import load_csv, load_tsv, load_xlsx
from rag.loaders.structured import load_json, load_jsonl
from rag.loaders.web import load_epub, load_html
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

LOADERS: MappingProxyType[str, Loader] = MappingProxyType(
    {
        ".txt": load_text,
        ".text": load_text,
        ".md": load_markdown,
        ".markdown": load_markdown,
        ".pdf": load_pdf,
        ".docx": load_docx,
        ".html": load_html,
        ".htm": load_html,
        ".csv": load_csv,
        ".tsv": load_tsv,
        ".xlsx": load_xlsx,
        ".pptx": load_pptx,
        ".epub": load_epub,
        ".json": load_json,
        ".jsonl": load_jsonl,
        **dict.fromkeys(_CODE_EXTENSIONS, load_code),
        **dict.fromkeys(IMAGE_EXTENSIONS, load_image),
    }
)
"""Extension (lower case, with the dot) → loader function."""

SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(LOADERS))

TITLE_LINE_FORMATS = frozenset(
    {".txt", ".text", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm", *IMAGE_EXTENSIONS}
)
"""Prose formats whose first line may be the document's title (`_title.py`); not tables,
records or slides, whose first line is data."""


def load_file(
    path: Path,
    name: str,
    *,
    max_unzipped_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES,
    ocr: OcrPool | None = None,
    progress: Progress | None = None,
) -> list[Document]:
    """Load one file into Documents.

    `name` is the user-facing file name (its extension picks the loader; `path` may be a
    temporary file). `ocr` reads images and scanned PDF pages (None: OCR off); `progress`
    gets status lines as they are read ("OCR page 3/10"). Raises UnsupportedFileTypeError
    for an unknown extension and DocumentLoadError (message prefixed with `name`) for an
    empty, corrupt, encrypted, scanned-without-OCR or otherwise unreadable file.
    """
    loader = _loader_for(path, name)
    try:
        _check_not_empty(path)
        sections = loader(path, LoadLimits(max_unzipped_bytes, ocr, progress))
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
    documents = [doc for doc in (_to_document(s, name) for s in sections) if doc is not None]
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


def _to_document(section: Section, name: str) -> Document | None:
    text = normalize_text(section.text, keep_indent=section.verbatim)
    if not text:
        return None
    metadata: dict[str, object] = {
        "source": name,
        "page": section.page,
        "title_path": section.title_path,
    }
    if section.sheet is not None:
        metadata["sheet"] = section.sheet
    return Document(page_content=text, metadata=metadata)
