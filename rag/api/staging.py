"""Where uploads wait while they are indexed."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

UPLOAD_STAGING_DIR = ".uploads"
"""Folder under the KB root where uploads wait while they are indexed (KB names cannot start
with a dot). Staying under the KB root keeps users' files out of /tmp; the app empties it at
start-up, so a killed upload leaves nothing behind for long."""


def upload_staging(kb_root: Path) -> tempfile.TemporaryDirectory[str]:
    """A private temporary folder for one upload request, removed when it ends."""
    staging = kb_root / UPLOAD_STAGING_DIR
    staging.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="upload-", dir=staging)


def clear_upload_staging(kb_root: Path) -> None:
    """Remove uploads left by a process that was killed mid-request."""
    shutil.rmtree(kb_root / UPLOAD_STAGING_DIR, ignore_errors=True)
