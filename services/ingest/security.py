"""Who is calling: every endpoint but /healthz and /metrics needs a token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from services.ingest.errors import ApiError
from shared.auth import AuthError, Principal, credential_from_headers, verify_token


def principal(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    credential = credential_from_headers(authorization, x_api_key)
    if credential is None:
        raise ApiError(
            401,
            "missing_credentials",
            "send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    secret = request.app.state.settings.auth_secret.get_secret_value()
    try:
        return verify_token(secret, credential)
    except AuthError as exc:
        raise ApiError(
            401,
            exc.reason,
            exc.message,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc


PrincipalDep = Annotated[Principal, Depends(principal)]
