"""What the client raises: every error carries what it is about (status, reason, document)."""

from __future__ import annotations

from typing import Any


class DocstreamError(Exception):
    """Base of every error the client raises."""


class ApiError(DocstreamError):
    """The API answered with a problem (RFC 9457); ``reason`` is its machine-readable code."""

    def __init__(self, status: int, reason: str, detail: str, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.problem = problem


class DocumentFailedError(DocstreamError):
    """The document ended ``failed``; ``reason`` is the server's reason code."""

    def __init__(self, document_id: str, reason: str, message: str, stage: str | None) -> None:
        super().__init__(f"document {document_id} failed ({reason}): {message}")
        self.document_id = document_id
        self.reason = reason
        self.message = message
        self.stage = stage


class DocumentCancelledError(DocstreamError):
    def __init__(self, document_id: str) -> None:
        super().__init__(f"document {document_id} was cancelled")
        self.document_id = document_id


class WaitTimeoutError(DocstreamError, TimeoutError):
    def __init__(self, document_id: str, timeout_s: float, status: str | None) -> None:
        super().__init__(f"document {document_id} not finished after {timeout_s}s ({status})")
        self.document_id = document_id
        self.status = status


class UnreachableError(DocstreamError, ConnectionError):
    """The gateway could not be reached, or stopped answering: the connection was refused,
    or not opened within the client's ``timeout_s``. Not :class:`WaitTimeoutError`, which is
    the wait's own time limit running out."""

    def __init__(self, url: str, why: str) -> None:
        super().__init__(f"{url}: {why}")
        self.url = url
        self.why = why
