"""Uploads as the docs routes take them: each file copied to a private staging folder within
the size limit, then added to the knowledge base; the results as one response whose status
follows from why the files were refused."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

from fastapi import UploadFile
from pydantic import BaseModel, Field

from rag.api.errors import status_of
from rag.errors import FileTooLargeError, ZhikuError
from rag.kb.names import safe_file_name
from rag.services import FileResult, Services


class FileOutcome(BaseModel):
    """What happened to one file."""

    name: str = Field(description="The name the document is stored under.")
    status: Literal["ok", "unchanged", "error"] = Field(
        description="ok: indexed; unchanged: the same content is indexed already; error: refused"
    )
    chunks: int = Field(description="Chunks the file was split into.")
    error: str | None = Field(description="Why the file was refused, and what to do.")


class UploadResponse(BaseModel):
    """Each file's result. All refused: the status of their reason (one reason for all,
    e.g. 415 for files of unknown types, 413 too large, 422 unreadable), 400 for mixed
    reasons; otherwise 200."""

    files: list[FileOutcome]
    chunks: int = Field(description="Chunks added, over the files that are `ok`.")
    error: str | None = Field(
        default=None, description="Only when every file was refused: the first file's error."
    )


def ingest_upload(
    services: Services, kb: str, upload: UploadFile, tmp: Path, stored_as: str | None = None
) -> FileResult:
    """Copy one upload to a private temp file (refusing it past the size limit), then add it."""
    original_name = upload.filename or "unnamed"
    try:
        name = safe_file_name(stored_as or original_name)
        services.kb.check_file_type(name)
        target = tmp / f"{len(list(tmp.iterdir()))}-{name}"
        _copy_limited(upload, target, services.settings.server.max_upload_bytes)
        if upload.size is not None and upload.size > services.settings.server.max_upload_bytes:
            raise FileTooLargeError(_too_large(services.settings.server.max_upload_mb))
    except ZhikuError as exc:
        return FileResult(original_name, "error", error=str(exc), error_type=type(exc))
    return services.kb.add_files(kb, [(name, target)])[0]


def _copy_limited(upload: UploadFile, target: Path, limit: int) -> None:
    copied = 0
    with open(target, "wb") as out:
        while block := upload.file.read(1 << 20):
            copied += len(block)
            if copied > limit:
                raise FileTooLargeError(_too_large(limit / 1024 / 1024))
            out.write(block)


def _too_large(limit_mb: float) -> str:
    return f"file is larger than the upload limit of {limit_mb:g} MB (MAX_UPLOAD_MB); split it"


def upload_response(results: list[FileResult]) -> tuple[UploadResponse, int]:
    """The response to an upload (or rebuild) and its status."""
    body = UploadResponse(
        files=[
            FileOutcome(name=r.name, status=r.status, chunks=r.chunks, error=r.error)
            for r in results
        ],
        chunks=sum(r.chunks for r in results if r.status == "ok"),
    )
    error, status = outcome_status(results)
    if error is not None:  # unset otherwise: the field is left out of the response
        body.error = error
    return body, status


class Outcome(Protocol):
    """One file's or URL's result (`FileResult`, `UrlResult`)."""

    @property
    def status(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def error_type(self) -> type[ZhikuError] | None: ...


def outcome_status(results: Sequence[Outcome]) -> tuple[str | None, int]:
    """The error and status of a request of several files (or URLs): 200 when one went in
    (or none was given); when all failed, the first error, and the status of their common
    reason (all too large, all of an unknown type...), 400 for mixed reasons."""
    failed = [r for r in results if r.status == "error"]
    if not results or len(failed) < len(results):
        return None, 200
    statuses = {status_of(r.error_type or ZhikuError) for r in failed}
    return failed[0].error, statuses.pop() if len(statuses) == 1 else 400
