"""The REST API under /api: one router per feature (rag/api/kbs, docs, search, chat), each
with Pydantic models for what it takes and gives, so /docs shows every response's shape.

Errors are JSON `{"error": "..."}` with the status `rag/api/errors.py` maps each kind of error
to; never a traceback or a path. Also here: the API token (auth.py), the OpenAPI docs behind
it (openapi_docs.py), where uploads wait (staging.py), and the ASGI pieces in front of
everything: body limits (limits.py), host and origin checks (origin.py), serving (serving.py).
The OpenAI-compatible API under /v1 (rag/api/openai) shares the token, checks and limits.
"""

from rag.api.errors import install_error_handlers
from rag.api.openapi_docs import install_docs
from rag.api.router import api_router, openai_api_router
from rag.api.staging import UPLOAD_STAGING_DIR, clear_upload_staging, upload_staging

__all__ = [
    "UPLOAD_STAGING_DIR",
    "api_router",
    "clear_upload_staging",
    "install_docs",
    "install_error_handlers",
    "openai_api_router",
    "upload_staging",
]
