"""Signed API tokens: ``ds1.<owner>.<expiry>.<signature>``.

A token names its owner and is signed with HMAC-SHA256 under ``DOCSTREAM_AUTH_SECRET``, so
ingest and gateway verify it without a database round trip; after a rotation, tokens signed
under ``DOCSTREAM_AUTH_PREVIOUS_SECRETS`` are still accepted. Owners are restricted to a safe
alphabet so they can be used in keys and labels without escaping.

Mint one with ``python -m shared.auth --owner alice`` (reads the secret from the environment).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

_PREFIX = "ds1"
_OWNER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class AuthError(Exception):
    """Why a credential was refused; ``reason`` is machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Principal:
    owner: str


def _sign(secret: bytes, payload: str) -> str:
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def issue_token(secret: str, owner: str, *, ttl_s: int | None = None) -> str:
    if not _OWNER.match(owner):
        raise ValueError("owner must be 1-64 characters of A-Z a-z 0-9 _ -")
    expiry = 0 if ttl_s is None else int(time.time()) + ttl_s
    payload = f"{_PREFIX}.{owner}.{expiry}"
    return f"{payload}.{_sign(secret.encode(), payload)}"


def verify_token(secrets: str | Sequence[str], token: str) -> Principal:
    """``secrets``: the current secret, or it and those it replaced (a token signed under any
    of them is valid: rotation without logging everyone out)."""
    parts = token.strip().split(".")
    if len(parts) != 4 or parts[0] != _PREFIX:
        raise AuthError("malformed_token", "credential is not a docstream token")
    _, owner, expiry, signature = parts
    payload = f"{_PREFIX}.{owner}.{expiry}"
    candidates = (secrets,) if isinstance(secrets, str) else tuple(secrets)
    # Every secret is tried (no early exit): the time taken says nothing of which matched.
    matched = [hmac.compare_digest(_sign(s.encode(), payload), signature) for s in candidates]
    if not any(matched):
        raise AuthError("bad_signature", "credential signature does not match")
    if not _OWNER.match(owner) or not expiry.isdigit():
        raise AuthError("malformed_token", "credential is not a docstream token")
    if int(expiry) and int(expiry) < time.time():
        raise AuthError("expired_token", "credential has expired")
    return Principal(owner=owner)


def credential_from_headers(authorization: str | None, api_key: str | None) -> str | None:
    """Accept ``Authorization: Bearer <token>`` or ``X-API-Key: <token>``."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    if api_key:
        return api_key.strip()
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mint a docstream API token.")
    parser.add_argument("--owner", required=True)
    parser.add_argument(
        "--ttl", type=int, default=None, help="seconds until expiry (default: none)"
    )
    args = parser.parse_args(argv)
    secret = os.environ.get("DOCSTREAM_AUTH_SECRET")
    if not secret:
        print("DOCSTREAM_AUTH_SECRET is not set", file=sys.stderr)
        return 2
    print(issue_token(secret, args.owner, ttl_s=args.ttl))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
