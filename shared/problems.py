"""HTTP errors as RFC 9457 problem details with a machine-readable ``reason``: the shape every
service's HTTP errors share (ingest's, in services/ingest/errors.py, are built with
:func:`problem` too).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"

#: Starlette's own errors (a path no route has, a method the path's route does not take).
_REASONS = {400: "malformed_body", 404: "not_found", 405: "method_not_allowed"}


def problem(status: int, reason: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"https://docstream.dev/problems/{reason}",
        "title": reason.replace("_", " "),
        "status": status,
        "detail": detail,
        "reason": reason,
        **extra,
    }


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's errors (unknown path, wrong method) as problem documents rather than
    FastAPI's ``{"detail": ...}``; its headers (a 405's ``Allow``) are kept."""
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        problem(exc.status_code, _REASONS.get(exc.status_code, "http_error"), str(exc.detail)),
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
        media_type=PROBLEM_JSON,
    )
