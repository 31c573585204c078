"""One attempt: resolve the endpoint, refuse what it must not reach, sign, POST.

The address is checked after DNS resolution on every attempt, and the connection goes to the
address that was checked (the URL's host kept in ``Host`` and in TLS's server name): a name
that resolved to a public address at registration and to 127.0.0.1 now (DNS rebinding) is
refused, not called.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from shared.webhooks import EndpointRefusedError, IPNetwork, Target, resolve_endpoint, sign

USER_AGENT = "docstream-webhooks/1"


@dataclass(frozen=True)
class Result:
    ok: bool
    #: bounded, for metrics: 2xx, 3xx, 4xx, 5xx, timeout, error, refused
    label: str
    status_code: int | None
    error: str | None
    duration_s: float
    #: What the receiver asked to wait before the next attempt (``Retry-After`` on a 429 or
    #: 503), in seconds; None when it did not say.
    retry_after_s: float | None = None


def new_client(timeout_s: float) -> httpx.AsyncClient:
    """The service's HTTP client: no proxies from the environment, redirects not followed (the
    new location would escape the address check), and no bound on connections at once.

    httpx's default pool (100 connections for all hosts) made receivers share a queue: a
    hundred deliveries hanging on one slow receiver left every other endpoint's attempts
    waiting for a connection, then timing out. Deliveries at once are bounded already
    (``DOCSTREAM_WEBHOOKS_MAX_IN_FLIGHT`` times an owner's endpoints)."""
    return httpx.AsyncClient(
        timeout=timeout_s,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
    )


class Sender:
    def __init__(
        self, http: httpx.AsyncClient, allowed: tuple[IPNetwork, ...], timeout_s: float = 10.0
    ) -> None:
        self.http = http
        self.allowed = allowed
        #: The whole attempt's limit. httpx's own timeouts bound each read, not the answer: a
        #: receiver trickling its headers a byte at a time would hold an attempt for ever.
        self.timeout_s = timeout_s

    async def post(self, url: str, secret: str, msg_id: str, body: bytes) -> Result:
        started = time.perf_counter()
        try:
            target = await resolve_endpoint(url, self.allowed)
        except EndpointRefusedError as exc:
            return Result(False, "refused", None, f"{exc.reason}: {exc.message}", 0.0)
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body),
        }
        request = _pinned_request(url, target, headers, body)
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self.http.send(request, stream=True)
                # The endpoint's body is not ours to read: only its status counts.
                await response.aclose()
        except (httpx.TimeoutException, TimeoutError):
            return Result(False, "timeout", None, "timed out", time.perf_counter() - started)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
            return Result(False, "error", None, error, time.perf_counter() - started)
        status = response.status_code
        took = time.perf_counter() - started
        label = f"{status // 100}xx" if 200 <= status < 600 else "error"
        if 200 <= status < 300:
            return Result(True, label, status, None, took)
        retry_after = None
        if status in (429, 503):
            retry_after = retry_after_s(response.headers.get("retry-after"))
        # Redirects are not followed: the new location would escape the address check.
        return Result(False, label, status, f"HTTP {status}", took, retry_after)


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header's wait in seconds: delay-seconds or an HTTP-date; None when
    absent or unreadable (a date in the past is 0)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, as HTTP-dates are
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _pinned_request(
    url: str, target: Target, headers: dict[str, str], body: bytes
) -> httpx.Request:
    parts = urlsplit(url)
    address = target.addresses[0]
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    pinned = urlunsplit((parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))
    default_port = {"http": 80, "https": 443}[target.scheme]
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host:  # an IPv6 literal in the URL
        host_header = f"[{target.host}]" + (
            "" if target.port == default_port else f":{target.port}"
        )
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return httpx.Request(
        "POST",
        pinned,
        headers={**headers, "host": host_header},
        content=body,
        extensions=extensions,
    )
