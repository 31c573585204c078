"""Errors as RFC 9457 problem details, each with a machine-readable ``reason``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem document; ``reason`` is the machine-readable code to act on."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["https://docstream.dev/problems/not_found"])
    title: str = Field(examples=["not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["no such document"])
    reason: str = Field(examples=["not_found"])


#: What each status code means on every route that can answer it (the OpenAPI description).
_MEANING = {
    400: "the request body cannot be parsed",
    401: "no credential, or a bad or expired one",
    404: "no such document (another user's documents answer the same)",
    409: "the request conflicts with the document's state",
    410: "the file is no longer stored",
    413: "the file is too large",
    415: "the body or the file is of a type that is not accepted",
    416: "the range cannot be satisfied",
    422: "the request is not valid (see reason)",
    503: "the queue or the document store is unavailable; retry after Retry-After",
}


def problem_responses(*statuses: int, **examples: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem answers. ``examples`` maps a status (as
    ``s409``) to the reason shown as its example; every route also answers 401 and 422."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted({401, 422, *statuses}):
        reason = examples.get(f"s{status}", _DEFAULT_REASON[status])
        example = problem(status, reason, _MEANING[status])
        responses[status] = {
            "description": _MEANING[status],
            "content": {
                PROBLEM_JSON: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": example,
                }
            },
        }
    return responses


_DEFAULT_REASON = {
    400: "malformed_multipart",
    401: "missing_credentials",
    404: "not_found",
    409: "already_finished",
    410: "blob_missing",
    413: "too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "invalid_request",
    503: "queue_unavailable",
}


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
        media_type=PROBLEM_JSON,
    )


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        # jsonable: an error's context can hold exceptions or bytes the JSON encoder refuses
        problem(
            422,
            "invalid_request",
            "the request is not valid",
            errors=jsonable_encoder(exc.errors(), custom_encoder={bytes: _text_of}),
        ),
        status_code=422,
        media_type=PROBLEM_JSON,
    )


async def read_model_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    """The database is down or restarting: say so, and when to come back, not a bare 500."""
    return JSONResponse(
        problem(503, "read_model_unavailable", "the document store is unavailable; try again"),
        status_code=503,
        headers={"Retry-After": "5"},
        media_type=PROBLEM_JSON,
    )


def _text_of(value: bytes) -> str:
    return value.decode("utf-8", "replace")


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (unknown path, wrong method) as problem documents too. A 405
    lists every method the path has: Starlette's own Allow names only the first route that
    matched the path, and a path here can have a route per method."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    reason = {400: "malformed_body", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    if exc.status_code == 405:
        methods: set[str] = set()
        for route in request.app.routes:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE and isinstance(route, Route | APIRoute) and route.methods:
                methods |= route.methods
        headers["Allow"] = ", ".join(sorted(methods))
    return JSONResponse(
        problem(exc.status_code, reason, str(exc.detail)),
        status_code=exc.status_code,
        headers=headers,
        media_type=PROBLEM_JSON,
    )
