"""Checks for zip-based formats (docx, xlsx, pptx, epub) before any library decompresses them."""

from __future__ import annotations

import zipfile
from pathlib import Path

from rag.errors import DocumentLoadError

_MB = 1024 * 1024


def check_zip(path: Path, kind: str, max_unzipped_bytes: int) -> None:
    """Raise DocumentLoadError unless `path` is a readable zip within the size limit.

    Only the central directory is read (declared sizes); nothing is decompressed. Python's
    zipfile never inflates a member past its declared size, so the sum bounds the work.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise DocumentLoadError(
            f"not a valid {kind} (corrupt or not a zip) — open it in its program, "
            f"save it again as {kind} and upload it again"
        ) from exc
    except OSError as exc:
        raise DocumentLoadError(f"cannot read the file ({exc.strerror})") from exc
    if total > max_unzipped_bytes:
        raise DocumentLoadError(
            f"zip bomb? this {kind} would unpack to {total / _MB:.0f} MB, more than the "
            f"{max_unzipped_bytes / _MB:.0f} MB limit — upload a smaller file"
        )
