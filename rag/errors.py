"""Errors zhiku raises. Each message says what went wrong and what to do about it.

The API maps them to HTTP statuses (one table, `ERROR_STATUS` in rag/api/errors.py), the
CLI to a one-line message and a non-zero exit code, the UI to a visible notice.
"""


class ZhikuError(Exception):
    """Base class: a problem the user can act on, described in the message."""


class BadRequestError(ZhikuError):
    """A request that cannot be served as sent."""


class ConfigError(ZhikuError):
    """A configuration key or value is wrong."""


class ModelUnavailableError(ZhikuError):
    """A configured model cannot be loaded (missing file, missing package, wrong device)."""


class ModelNotFoundError(ZhikuError):
    """No model of that name (the OpenAI-compatible API's `model`)."""


class KnowledgeBaseNotFoundError(ZhikuError):
    """No knowledge base of that name."""


class KnowledgeBaseExistsError(ZhikuError):
    """A knowledge base of that name exists already."""


class KnowledgeBaseBusyError(ZhikuError):
    """The knowledge base is being rebuilt (or an earlier rebuild's folder is in the way);
    the message says when to try again."""


class RebuildFailedError(ZhikuError):
    """Some originals could not be indexed again; the knowledge base was left as it was."""


class DocumentNotFoundError(ZhikuError):
    """No document of that name in the knowledge base."""


class InvalidNameError(ZhikuError):
    """A knowledge-base or file name that cannot be stored safely."""


class UnsupportedFileTypeError(ZhikuError):
    """A file whose type (extension) cannot be read."""


class FileTooLargeError(ZhikuError):
    """A file over the upload limit (MAX_UPLOAD_MB)."""


class UrlRefusedError(ZhikuError):
    """A web address that may not be fetched: not http(s), with a password in it, or naming a
    private, loopback or link-local address (server-side request forgery) while
    ALLOW_PRIVATE_URLS is off."""


class PageFetchError(ZhikuError):
    """A web page that could not be fetched: no such host, no connection, a timeout, an
    error status, too many redirects."""


class DocumentLoadError(ZhikuError):
    """A file of a supported type whose content cannot be read (corrupt, empty, encrypted...)."""


class EmbeddingMismatchError(ZhikuError):
    """A knowledge base built with another embedding model than the configured one."""


class BusyError(ZhikuError):
    """Too many requests are waiting for the model; retry later."""

    def __init__(self, message: str, retry_after_s: int = 15) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuthenticationError(ZhikuError):
    """A request without the configured API token."""


class InputTooLongError(ZhikuError):
    """A query, question or conversation history over its configured length."""


class ConversationNotFoundError(ZhikuError):
    """No stored conversation of that id for this user (another user's is not found either)."""


class ConversationLimitError(ZhikuError):
    """A user keeps the most conversations allowed, or a conversation the most turns."""
