"""Errors as RFC 9457 problem details, each with a machine-readable ``reason``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem(status: int, reason: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"https://docstream.dev/problems/{reason}",
        "title": reason.replace("_", " "),
        "status": status,
        "detail": detail,
        "reason": reason,
        **extra,
    }


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(
        problem(exc.status, exc.reason, exc.detail, **exc.extra),
        status_code=exc.status,
        headers=exc.headers,
        media_type="application/problem+json",
    )


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        problem(422, "invalid_request", "the request is not valid", errors=exc.errors()),
        status_code=422,
        media_type="application/problem+json",
    )


async def read_model_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    """The database is down or restarting: say so, and when to come back, not a bare 500."""
    return JSONResponse(
        problem(503, "read_model_unavailable", "the document store is unavailable; try again"),
        status_code=503,
        headers={"Retry-After": "5"},
        media_type="application/problem+json",
    )
