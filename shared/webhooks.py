"""Webhooks, as both sides need them: ingest registers endpoints, the webhooks service delivers.

Storage (base database, like admissions: registrations and attempts are not derived from
events, so a rebuild of the read model must not lose them), every access by ``_id``:

- ``webhooks``: one document per owner, ``hooks|<owner>``, holding that owner's endpoints.
  The deliverer reads the one document of an event's owner, so no global index is needed.
- ``webhook_attempts``: per endpoint and UTC day, that day's attempts in order, in buckets of
  about :data:`ATTEMPTS_PER_BUCKET`: ``<endpoint id>|<YYYY-MM-DD>``, then ``...|1``, ``...|2``
  (a busy endpoint's day would otherwise be one document growing with every attempt: MongoDB
  refuses documents over 16 MB, and FerretDB rewrites a whole document on every ``$push``).
  Each bucket counts its attempts (``count``); one with fewer than the bucket size is its
  day's last (a day's one bucket of an earlier version, without a count, counts as full). The
  API reads the last few days by ``_id``, the newest buckets first; the webhooks service
  removes days past ``DOCSTREAM_WEBHOOKS_ATTEMPTS_RETENTION_DAYS``, ingest an endpoint's own
  when it is deleted.

Signatures follow the Standard Webhooks convention: ``webhook-signature: v1,<base64 of
HMAC-SHA256(secret, "<webhook-id>.<webhook-timestamp>.<body>")>``, the key being the bytes of
the base64 text after ``whsec_``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

WEBHOOKS = "webhooks"
WEBHOOK_ATTEMPTS = "webhook_attempts"

#: The events an endpoint may subscribe to: a document's generation ended.
HOOK_EVENTS = ("document.completed", "document.failed", "document.cancelled")

SECRET_PREFIX = "whsec_"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def hooks_id(owner: str) -> str:
    return f"hooks|{owner}"


#: Attempts per stored bucket (a soft bound: replicas recording at once may pass it a little).
ATTEMPTS_PER_BUCKET = 500
#: The most days of attempts kept, and read by the API (today and the days before it).
ATTEMPT_DAYS = 30
#: Days before the retention's edge the webhooks service removes when it starts (it may have
#: been down while days passed the edge); afterwards it removes each day once.
CATCH_UP_DAYS = 7


def attempts_id(endpoint_id: str, day: date, number: int = 0) -> str:
    """The day's first bucket keeps the plain ``<endpoint id>|<day>`` of earlier versions."""
    first = f"{endpoint_id}|{day.isoformat()}"
    return first if number == 0 else f"{first}|{number}"


async def remove_day(db: Any, endpoint_id: str, day: date) -> int:
    """Delete the endpoint's buckets of ``day``, one ``_id`` after the other, until one is
    missing; how many were deleted."""
    number = 0
    while True:
        bucket = {"_id": attempts_id(endpoint_id, day, number)}
        if (await db[WEBHOOK_ATTEMPTS].delete_one(bucket)).deleted_count == 0:
            return number
        number += 1


async def bucket_counts(
    collection: Any, endpoint_id: str, day: date, per_bucket: int = ATTEMPTS_PER_BUCKET
) -> list[int]:
    """How many attempts each of the endpoint's buckets of ``day`` holds, in order: each read
    by ``_id`` (its count only), until one that is not full (the day's last). A bucket of an
    earlier version has no count: it counts as full, so that the walk, and the next attempt,
    go on past it."""
    counts: list[int] = []
    while True:
        found = await collection.find_one(
            {"_id": attempts_id(endpoint_id, day, len(counts))}, {"count": 1}
        )
        if found is None:
            return counts
        counts.append(int(found.get("count", per_bucket)))
        if counts[-1] < per_bucket:
            return counts


async def newest_attempts(
    collection: Any,
    endpoint_id: str,
    days: Sequence[date],
    limit: int,
    per_bucket: int = ATTEMPTS_PER_BUCKET,
) -> list[dict[str, Any]]:
    """Up to ``limit`` of the endpoint's attempts on ``days`` (newest day first), newest first:
    the days' buckets are counted at once, then read from the newest back, as far as needed."""
    counts = await asyncio.gather(
        *(bucket_counts(collection, endpoint_id, day, per_bucket) for day in days)
    )
    items: list[dict[str, Any]] = []
    for day, buckets in zip(days, counts, strict=True):
        for number in reversed(range(len(buckets))):
            found = await collection.find_one({"_id": attempts_id(endpoint_id, day, number)})
            if found is not None:
                items.extend(reversed(found.get("attempts") or []))
            if len(items) >= limit:
                return items[:limit]
    return items


def new_endpoint_id() -> str:
    return f"wh_{uuid.uuid4().hex}"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def message_id(document_id: str, generation: int, event_type: str) -> str:
    """The same for every attempt and every redelivery of one outcome, so receivers can
    drop duplicates (delivery is at-least-once)."""
    digest = hashlib.sha256(f"{document_id}|{generation}|{event_type}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret: str, msg_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver does: any of the space-separated ``v1,`` signatures matches."""
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())


# --- which addresses an endpoint may point at ---


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.0/8, ::1/128"`` -> networks; raises ValueError on a bad entry."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def is_allowed(address: IPAddress, allowed: tuple[IPNetwork, ...]) -> bool:
    """Public unicast addresses, or any in a network the deployment allows explicitly.

    Refused by default: loopback, private ranges, link-local (cloud metadata lives at
    169.254.169.254), multicast, reserved and unspecified addresses, and IPv6 forms that
    embed an IPv4 address (mapped, 6to4, Teredo), judged by the address they embed.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            address = embedded
    if any(address in network for network in allowed):
        return True
    return address.is_global and not address.is_multicast


class EndpointRefusedError(Exception):
    """An endpoint URL docstream will not call; ``reason`` is the problem's reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Target:
    """Where to connect for a URL: its host as written, and the addresses checked for it."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


async def resolve_endpoint(url: str, allowed: tuple[IPNetwork, ...]) -> Target:
    """Parse and resolve ``url``; refuse it unless every address it resolves to is allowed.

    Every address must pass, not just one: a name resolving to a public and a private address
    would otherwise let the connection pick the private one.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointRefusedError("invalid_url", "the URL must be http(s)://host[:port]/path")
    if parts.username or parts.password:
        raise EndpointRefusedError("invalid_url", "credentials in the URL are not accepted")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise EndpointRefusedError("invalid_url", "the URL's port is not valid") from exc
    host = parts.hostname
    try:
        addresses: tuple[IPAddress, ...] = (ipaddress.ip_address(host),)
    except ValueError:
        addresses = await _lookup(host, port)
    refused = [a for a in addresses if not is_allowed(a, allowed)]
    if refused:
        raise EndpointRefusedError(
            "private_address",
            f"{host} resolves to {refused[0]}, a private, loopback or link-local address",
        )
    return Target(parts.scheme, host, port, addresses)


async def _lookup(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EndpointRefusedError("unresolvable_host", f"{host} cannot be resolved") from exc
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        # An IPv6 link-local address comes with its zone ("fe80::1%eth0").
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise EndpointRefusedError("unresolvable_host", f"{host} cannot be resolved")
    return tuple(found)
