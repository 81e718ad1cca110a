"""Knowledge bases: list, create, delete, rebuild."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from rag.api.docs.docs_service import UploadResponse, upload_response
from rag.api.errors import error_responses
from rag.services import Services


class CreateKnowledgeBase(BaseModel):
    name: str = Field(description="Knowledge-base name; Chinese is fine, no slashes.")
    description: str = ""


class KnowledgeBaseInfo(BaseModel):
    name: str
    docs: int = Field(description="Number of documents.")
    chunks: int = Field(description="Number of chunks over all documents.")
    description: str
    embedding_model: str = Field(description="The embedding model its vectors were made with.")


class KnowledgeBaseList(BaseModel):
    kbs: list[KnowledgeBaseInfo]


class KnowledgeBaseCreated(BaseModel):
    name: str
    docs: int = 0
    chunks: int = 0


class KnowledgeBaseDeleted(BaseModel):
    deleted: str = Field(description="The name of the knowledge base deleted.")


def kbs_router(services: Services) -> APIRouter:
    router = APIRouter(prefix="/kbs", tags=["knowledge bases"])

    @router.get("", response_model=KnowledgeBaseList)
    def list_kbs() -> KnowledgeBaseList:
        return KnowledgeBaseList(
            kbs=[
                KnowledgeBaseInfo(
                    name=s.name,
                    docs=s.docs,
                    chunks=s.chunks,
                    description=s.description,
                    embedding_model=s.embedding_model,
                )
                for s in services.kb.list_kbs()
            ]
        )

    @router.post(
        "",
        status_code=201,
        response_model=KnowledgeBaseCreated,
        responses=error_responses(400, 409, 422),
    )
    def create_kb(body: CreateKnowledgeBase) -> KnowledgeBaseCreated:
        summary = services.kb.create_kb(body.name, body.description)
        return KnowledgeBaseCreated(name=summary.name, docs=0, chunks=0)

    @router.delete(
        "/{name}", response_model=KnowledgeBaseDeleted, responses=error_responses(400, 404, 422)
    )
    def delete_kb(name: str) -> KnowledgeBaseDeleted:
        """Delete a knowledge base; a running rebuild or upload of it is cancelled (404)."""
        services.kb.delete_kb(name)
        return KnowledgeBaseDeleted(deleted=name)

    @router.post(
        "/{name}/rebuild",
        response_model=UploadResponse,
        response_model_exclude_unset=True,
        responses=error_responses(400, 404, 409, 422),
    )
    def rebuild(name: str, response: Response) -> UploadResponse:
        """Re-embed every original with the current model. 409 while a rebuild of it runs;
        422, the knowledge base unchanged, when an original fails."""
        body, response.status_code = upload_response(services.kb.rebuild_kb(name))
        return body

    return router
