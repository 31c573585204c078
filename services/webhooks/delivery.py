"""Deliveries: a finished document's notice to each endpoint of its owner that wants it.

Each endpoint's delivery runs on its own (one slow or failing receiver holds up no other):
up to ``attempts`` POSTs with exponential backoff and full jitter between them, each attempt
recorded (``webhook_attempts``, in buckets by endpoint and day: services/webhooks/attempts.py),
then a dead letter on ``webhooks.dlt`` when none succeeded. The ``webhook-id`` is the same for
every attempt and for a redelivery after a crash (at-least-once), so receivers can drop
duplicates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import PyMongoError

from services.webhooks import metrics
from services.webhooks.attempts import AttemptLog
from services.webhooks.sender import Result, Sender
from services.webhooks.settings import WebhooksSettings
from shared.events import (
    DocumentCancelled,
    DocumentCompleted,
    DocumentFailed,
    decode,
    peek_type,
)
from shared.kafka import EventProducer
from shared.stage import RetryPolicy
from shared.webhooks import (
    WEBHOOKS,
    hooks_id,
    message_id,
)

log = logging.getLogger(__name__)
#: An endpoint answering this is not retried: the delivery is dead-lettered at once.
GONE = 410
_NOTIFIED = frozenset({"document.completed", "document.failed", "document.cancelled"})


@dataclass(frozen=True)
class Notice:
    """What every endpoint of the owner gets for one outcome of one generation."""

    event_type: str
    document_id: str
    generation: int
    owner: str
    msg_id: str
    body: bytes


def notice_of(raw: bytes) -> Notice | None:
    """The notice for a record of documents.events, or None when it is not one we send."""
    kind = peek_type(raw)
    if kind is not None and kind not in _NOTIFIED:
        return None  # most records: progress and stage events
    try:
        event = decode(raw)
    except ValueError:  # pydantic's ValidationError included: not ours, status parks it
        return None
    if not isinstance(event, DocumentCompleted | DocumentFailed | DocumentCancelled):
        return None
    return Notice(
        event.type,
        event.subject,
        event.generation,
        event.owner,
        message_id(event.subject, event.generation, event.type),
        _body(event),
    )


def _body(event: DocumentCompleted | DocumentFailed | DocumentCancelled) -> bytes:
    data: dict[str, Any] = {
        "document_id": event.subject,
        "generation": event.generation,
        "status": event.type.removeprefix("document."),
    }
    if isinstance(event, DocumentFailed):
        data.update(
            reason=event.data.reason.value, message=event.data.message, stage=event.data.stage
        )
    payload = {"type": event.type, "timestamp": event.time.isoformat(), "data": data}
    return json.dumps(payload, separators=(",", ":")).encode()


Endpoints = list[dict[str, Any]]


def pause_before(retry: int, retry_after_s: float | None, base_s: float, max_s: float) -> float:
    """The wait before the ``retry``-th retry: exponential backoff with full jitter, but at
    least what the receiver asked for (``Retry-After`` on its 429 or 503), within ``max_s``."""
    backoff = RetryPolicy(base_s=base_s, max_s=max_s).delay(retry)
    if retry_after_s is None:
        return backoff
    return max(backoff, min(retry_after_s, max_s))


class Registrations:
    """Owners' registered endpoints, each owner's read at most once every ``ttl_s`` (and once
    for all the lookups waiting on the same read).

    The read model is the only source: ingest writes registrations, this service only reads
    them, so a cached list is at most ``ttl_s`` behind (a new endpoint misses documents that
    finish within that much of its registration; a deleted one may get their notices)."""

    def __init__(
        self,
        db: Callable[[], Any],
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 10_000,
    ) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._clock = clock
        self._capacity = capacity
        #: owner -> (when read, its endpoints).
        self._read: OrderedDict[str, tuple[float, Endpoints]] = OrderedDict()
        #: owner -> the read under way (lookups meanwhile wait for it).
        self._reading: dict[str, asyncio.Future[Endpoints]] = {}

    async def of(self, owner: str, *, fresh: bool = False) -> Endpoints:
        """The owner's endpoints: read now when ``fresh``, else as read within ``ttl_s``."""
        if not fresh:
            cached = self._read.get(owner)
            if cached is not None and self._clock() - cached[0] < self.ttl_s:
                return list(cached[1])
            under_way = self._reading.get(owner)
            if under_way is not None:
                return list(await asyncio.shield(under_way))
        read = asyncio.ensure_future(self._read_until_done(owner))
        if not fresh:
            self._reading[owner] = read
        try:
            return list(await asyncio.shield(read))
        finally:
            if self._reading.get(owner) is read:
                del self._reading[owner]

    async def _read_until_done(self, owner: str) -> Endpoints:
        started = self._clock()
        delay = 0.5
        while True:
            try:
                held = await self.db()[WEBHOOKS].find_one({"_id": hooks_id(owner)})
                break
            except PyMongoError as exc:
                # Without the registrations nothing can be sent: wait the database out.
                log.warning("webhook registrations unreadable", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        endpoints: Endpoints = list(held.get("endpoints", [])) if held else []
        if self.ttl_s > 0:
            # Dated from before the read: a change made during it is seen within ttl_s.
            self._read[owner] = (started, endpoints)
            self._read.move_to_end(owner)
            while len(self._read) > self._capacity:
                self._read.popitem(last=False)
        return endpoints


class Deliverer:
    def __init__(
        self,
        settings: WebhooksSettings,
        db: Callable[[], Any],
        sender: Sender,
        producer: EventProducer,
    ) -> None:
        self.settings = settings
        self.db = db
        self.sender = sender
        self.producer = producer
        self.registrations = Registrations(db, settings.registrations_cache_s)
        self.attempt_log = AttemptLog(db)

    async def deliver(self, notice: Notice, partition: int, offset: int) -> None:
        """Returns once every interested endpoint got the notice or had it dead-lettered."""
        endpoints = [
            e for e in await self.registrations.of(notice.owner) if notice.event_type in e["events"]
        ]
        await asyncio.gather(*(self._to(e, notice, partition, offset) for e in endpoints))

    async def _to(
        self, endpoint: dict[str, Any], notice: Notice, partition: int, offset: int
    ) -> None:
        metrics.IN_FLIGHT.inc()
        retry_after: float | None = None
        try:
            for number in range(1, self.settings.attempts + 1):
                if number > 1:
                    await asyncio.sleep(self._pause(number - 1, retry_after))
                    current = await self._current(notice.owner, endpoint["id"])
                    if current is None:
                        metrics.DELIVERIES.labels("endpoint_gone").inc()
                        return
                    endpoint = current
                result = await self.sender.post(
                    endpoint["url"], endpoint["secret"], notice.msg_id, notice.body
                )
                metrics.ATTEMPTS.labels(result.label).inc()
                metrics.ATTEMPT_SECONDS.observe(result.duration_s)
                # 410 Gone: the receiver says this endpoint is no more; no retry (the
                # registration stays: only its owner deletes it).
                last = number == self.settings.attempts or result.status_code == GONE
                outcome = "delivered" if result.ok else ("dead_lettered" if last else "retrying")
                await self._record(endpoint["id"], notice, number, outcome, result)
                if result.ok:
                    metrics.DELIVERIES.labels("delivered").inc()
                    return
                if last:
                    break
                retry_after = result.retry_after_s
            await self._dead_letter(endpoint["id"], notice, result, number, partition, offset)
        finally:
            metrics.IN_FLIGHT.dec()

    def _pause(self, retry: int, retry_after_s: float | None) -> float:
        return pause_before(
            retry, retry_after_s, self.settings.backoff_base_s, self.settings.backoff_max_s
        )

    async def _current(self, owner: str, endpoint_id: str) -> dict[str, Any] | None:
        """The endpoint as registered now: deleted ones get no more attempts."""
        for endpoint in await self.registrations.of(owner, fresh=True):
            if endpoint["id"] == endpoint_id:
                return endpoint
        return None

    async def _record(
        self, endpoint_id: str, notice: Notice, number: int, outcome: str, result: Result
    ) -> None:
        now = datetime.now(UTC)
        attempt = {
            "webhook_id": notice.msg_id,
            "document_id": notice.document_id,
            "generation": notice.generation,
            "event_type": notice.event_type,
            "attempt": number,
            "at": now,
            "outcome": outcome,
            "status_code": result.status_code,
            "error": result.error,
            "duration_ms": round(result.duration_s * 1000, 1),
        }
        try:
            await self.attempt_log.record(endpoint_id, now, attempt)
        except PyMongoError as exc:
            # The record is for people to look at; the delivery itself goes on.
            metrics.RECORD_FAILURES.inc()
            log.warning("webhook attempt not recorded", extra={"error": repr(exc)})

    async def _dead_letter(
        self,
        endpoint_id: str,
        notice: Notice,
        result: Result,
        attempts: int,
        partition: int,
        offset: int,
    ) -> None:
        metrics.DELIVERIES.labels("dead_lettered").inc()
        log.warning(
            "webhook delivery dead-lettered",
            extra={"document_id": notice.document_id, "endpoint": endpoint_id},
        )
        value = {
            "endpoint_id": endpoint_id,
            "owner": notice.owner,
            "webhook_id": notice.msg_id,
            "attempts": attempts,
            "body": json.loads(notice.body),
        }
        await self.producer.dead_letter(
            self.settings.topics.webhooks_dead_letter,
            notice.document_id.encode(),
            json.dumps(value).encode(),
            error=result.error or "failed",
            source=self.settings.topics.events,
            partition=partition,
            offset=offset,
        )
