"""Errors as RFC 9457 problem details, each with a machine-readable ``reason``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from shared.problems import PROBLEM_JSON, problem


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


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(
        problem(exc.status, exc.reason, exc.detail, **exc.extra),
        status_code=exc.status,
        headers=exc.headers,
        media_type=PROBLEM_JSON,
    )


#: Where the schema refuses a value the README gives a reason of its own (a missing value
#: stays ``invalid_request``).
_OWN_REASONS = {
    ("query", "cursor"): "invalid_cursor",
    ("header", "Idempotency-Key"): "invalid_idempotency_key",
    ("body", "url"): "invalid_url",  # a webhook's URL that is not http(s)://
}


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's refusals of what the schema forbids. A body that is not JSON at all is 400
    ``malformed_body`` (FastAPI reports it as a validation error, type ``json_invalid``):
    it cannot be parsed, as a broken multipart body cannot."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    status, reason, detail = 422, "invalid_request", "the request is not valid"
    if any(error.get("type") == "json_invalid" for error in errors):
        status, reason, detail = 400, "malformed_body", "the request body is not valid JSON"
    else:
        # A value with a reason of its own gets it, whoever refused it: the schema's pattern
        # here, or the code (a cursor that passes the pattern but not the decoder).
        own = {_OWN_REASONS.get(tuple(error.get("loc", ()))) for error in errors}
        if len(own) == 1 and None not in own and all(e.get("type") != "missing" for e in errors):
            reason = str(own.pop())
            detail = f"the request is not valid ({reason.replace('_', ' ')})"
    return JSONResponse(
        # jsonable: an error's context can hold exceptions or bytes the JSON encoder refuses
        problem(
            status,
            reason,
            detail,
            errors=jsonable_encoder(errors, custom_encoder={bytes: _text_of}),
        ),
        status_code=status,
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


#: The methods a 405's ``Allow`` may name (RFC 9110's, but CONNECT and TRACE, never served).
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed(routes: Sequence[BaseRoute], scope: Scope) -> set[str]:
    """Every method some route takes at the request's path, asked of each route with the
    method changed. Not by reading ``route.methods``: FastAPI keeps an included router as one
    route of its own, without ``methods``, that matches for the routes inside it. A mount
    matches any method for its whole subtree; the one here serves static files (GET, HEAD)."""
    # Matched from the top: inside a mount the scope's root_path has the mount's path added.
    scope = {**scope, "root_path": scope.get("app_root_path", scope.get("root_path", ""))}
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            if isinstance(route.app, StaticFiles) and route.matches(scope)[0] is not Match.NONE:
                methods |= {"GET", "HEAD"}
            continue
        for method in _METHODS:
            if route.matches({**scope, "method": method})[0] is Match.FULL:
                methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")  # served as GET without its body (services/ingest/head.py)
    return methods


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
        headers["Allow"] = ", ".join(sorted(allowed(request.app.routes, request.scope)))
    return JSONResponse(
        problem(exc.status_code, reason, str(exc.detail)),
        status_code=exc.status_code,
        headers=headers,
        media_type=PROBLEM_JSON,
    )
