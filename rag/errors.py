"""Errors zhiku raises. Each message says what went wrong and what to do about it.

The API maps them to HTTP statuses (`http_status`), the CLI to a one-line message and a
non-zero exit code, the UI to a visible notice.
"""


class ZhikuError(Exception):
    """Base class: a problem the user can act on, described in the message."""

    http_status = 400


class BadRequestError(ZhikuError):
    """A request that cannot be served as sent."""


class ConfigError(ZhikuError):
    """A configuration key or value is wrong."""


class ModelUnavailableError(ZhikuError):
    """A configured model cannot be loaded (missing file, missing package, wrong device)."""

    http_status = 503


class KnowledgeBaseNotFoundError(ZhikuError):
    http_status = 404


class KnowledgeBaseExistsError(ZhikuError):
    http_status = 409


class KnowledgeBaseBusyError(ZhikuError):
    """The knowledge base is being rebuilt (or an earlier rebuild's folder is in the way);
    the message says when to try again."""

    http_status = 409


class RebuildFailedError(ZhikuError):
    """Some originals could not be indexed again; the knowledge base was left as it was."""

    http_status = 422


class DocumentNotFoundError(ZhikuError):
    http_status = 404


class InvalidNameError(ZhikuError):
    """A knowledge-base or file name that cannot be stored safely."""

    http_status = 400


class UnsupportedFileTypeError(ZhikuError):
    http_status = 415


class FileTooLargeError(ZhikuError):
    http_status = 413


class DocumentLoadError(ZhikuError):
    """A file of a supported type whose content cannot be read (corrupt, empty, encrypted...)."""

    http_status = 422


class EmbeddingMismatchError(ZhikuError):
    """A knowledge base built with another embedding model than the configured one."""

    http_status = 409


class BusyError(ZhikuError):
    """Too many requests are waiting for the model; retry later."""

    http_status = 503

    def __init__(self, message: str, retry_after_s: int = 15) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuthenticationError(ZhikuError):
    http_status = 401


class InputTooLongError(ZhikuError):
    """A query, question or conversation history over its configured length."""

    http_status = 413
