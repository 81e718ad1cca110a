"""Documents of a knowledge base: list, upload (add or update), replace one, remove one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Response, UploadFile
from pydantic import BaseModel, Field

from rag.api.docs.docs_service import UploadResponse, ingest_upload, upload_response
from rag.api.errors import ErrorResponse, error_responses
from rag.api.staging import upload_staging
from rag.errors import BadRequestError, DocumentNotFoundError
from rag.services import Services

# every file refused: the body lists each one, with their reason's status; the request
# itself refused (a body over MAX_UPLOAD_MB, no `files` field): only `error`
_REFUSED: dict[int | str, dict[str, Any]] = {
    status: {
        "model": UploadResponse | ErrorResponse,
        "description": "Every file refused, or the request itself (`error` only)",
    }
    for status in (400, 413, 415, 422)
}


class DocumentInfo(BaseModel):
    name: str
    chunks: int
    bytes: int = Field(description="Size of the original file.")
    updated_at: float = Field(description="When it was last added or updated (Unix time).")


class DocumentList(BaseModel):
    docs: list[DocumentInfo]


class DocumentDeleted(BaseModel):
    deleted: str = Field(description="The name of the document removed.")


def docs_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/kbs/{name}/docs", tags=["documents"])

    @router.get("", response_model=DocumentList, responses=error_responses(400, 404, 422))
    def list_docs(name: str) -> DocumentList:
        return DocumentList(
            docs=[DocumentInfo.model_validate(d) for d in services.kb.list_docs(name)]
        )

    @router.post(
        "",
        response_model=UploadResponse,
        response_model_exclude_unset=True,  # `error` only when every file was refused
        responses={**error_responses(404, 409), **_REFUSED},
    )
    def upload(
        name: str, files: Annotated[list[UploadFile], File()], response: Response
    ) -> UploadResponse:
        """Add or update files; the request body as a whole is capped by MAX_UPLOAD_MB."""
        services.kb.list_docs(name)  # a missing KB is a 404 before any file is looked at
        with upload_staging(services.kb.root) as tmp:
            results = [ingest_upload(services, name, upload, Path(tmp)) for upload in files]
        body, response.status_code = upload_response(results)
        return body

    @router.put(
        "/{file_name}",
        response_model=UploadResponse,
        response_model_exclude_unset=True,
        responses={**error_responses(404, 409), **_REFUSED},
    )
    def update_doc(
        name: str, file_name: str, files: Annotated[list[UploadFile], File()], response: Response
    ) -> UploadResponse:
        """Replace document `file_name` with the uploaded file (its old chunks are removed)."""
        services.kb.list_docs(name)  # a missing KB is a 404 first
        if len(files) != 1:
            raise BadRequestError("send exactly one file in the `files` field to update")
        if services.kb.doc(name, file_name) is None:
            raise DocumentNotFoundError(f"no document {file_name!r} in {name!r}; upload it")
        with upload_staging(services.kb.root) as tmp:
            result = ingest_upload(services, name, files[0], Path(tmp), stored_as=file_name)
        body, response.status_code = upload_response([result])
        return body

    @router.delete(
        "/{file_name}",
        response_model=DocumentDeleted,
        responses=error_responses(400, 404, 409, 422),
    )
    def delete_doc(name: str, file_name: str) -> DocumentDeleted:
        services.kb.delete_doc(name, file_name)
        return DocumentDeleted(deleted=file_name)

    return router
