"""Who is calling: every endpoint but /healthz and /metrics needs a token.

Declared as OpenAPI security schemes (bearer token, or the same token in X-API-Key), not as
header parameters, so clients, generators and fuzzers know how to authenticate.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from services.ingest.errors import ApiError
from shared.auth import AuthError, Principal, credential_from_headers, verify_token

_bearer = HTTPBearer(auto_error=False, description="a token `ds1.<owner>.<expiry>.<sig>`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="the same token")


def principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    x_api_key: Annotated[str | None, Security(_api_key)] = None,
) -> Principal:
    authorization = f"{bearer.scheme} {bearer.credentials}" if bearer else None
    credential = credential_from_headers(authorization, x_api_key)
    if credential is None:
        raise ApiError(
            401,
            "missing_credentials",
            "send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    secrets = request.app.state.settings.auth_secrets
    try:
        return verify_token(secrets, credential)
    except AuthError as exc:
        raise ApiError(
            401,
            exc.reason,
            exc.message,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc


PrincipalDep = Annotated[Principal, Depends(principal)]
