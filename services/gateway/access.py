"""Who is connecting, and whether there is room for them: checked before a stream starts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from services.gateway import metrics
from services.gateway.settings import GatewaySettings
from shared.auth import AuthError, credential_from_headers, verify_token
from shared.gateway_protocol import CloseCode


class RefusedError(Exception):
    """A connection turned away, with the close code and a machine-readable reason."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def authenticate(
    settings: GatewaySettings,
    authorization: str | None,
    api_key: str | None,
    token: str | None,
) -> str:
    """The owner named by the credential; browsers cannot set headers on a WebSocket (nor
    EventSource), so ``?token=`` counts as well."""
    credential = credential_from_headers(authorization, api_key) or token
    if not credential:
        raise RefusedError(CloseCode.UNAUTHORIZED, "missing_credentials")
    try:
        return verify_token(settings.auth_secrets, credential).owner
    except AuthError as exc:
        raise RefusedError(CloseCode.UNAUTHORIZED, exc.reason) from exc


class Admission:
    """Connection caps: per user (one user cannot take the gateway) and in all."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._max = settings.max_connections
        self._max_per_user = settings.max_connections_per_user
        self._per_user: Counter[str] = Counter()
        self._total = 0

    @contextmanager
    def admit(self, owner: str, stream: str) -> Iterator[None]:
        if self._total >= self._max:
            raise RefusedError(CloseCode.GATEWAY_FULL, "gateway_full")
        if self._per_user[owner] >= self._max_per_user:
            raise RefusedError(CloseCode.USER_LIMIT, "too_many_connections")
        self._total += 1
        self._per_user[owner] += 1
        metrics.CONNECTIONS.labels(stream).inc()
        try:
            yield
        finally:
            self._total -= 1
            self._per_user[owner] -= 1
            if not self._per_user[owner]:
                del self._per_user[owner]
            metrics.CONNECTIONS.labels(stream).dec()
