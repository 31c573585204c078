"""The one failure policy of every work stage (extractor, analyzer).

A stage's handler only does the work and raises; this module decides what each exception
means for the document, so every record ends in exactly one of:

- the handler returned: it sent its own completion;
- :class:`StageCancelled`: ``document.cancelled``;
- :class:`StageFailure`: ``document.failed`` with the failure's reason (and the record on the
  dead-letter topic when the failure asks for it, e.g. retries against a provider ran out);
- a transient error (broker, database, blob store I/O, :class:`TransientError`): the handler is
  run again with backoff, up to ``attempts`` times, then the document fails and the record is
  dead-lettered so an operator can replay it;
- anything else (a bug): ``document.failed`` with reason ``internal_error``.

The input record is acknowledged only after that terminal event (or the dead letter of a record
that is not a document) is durable; :func:`shared.stream_app.feed` holds it until then.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from aiokafka.errors import KafkaError
from prometheus_client import Counter
from pydantic import ValidationError
from pymongo.errors import PyMongoError

from shared.events import DocumentCancelled, DocumentFailed, Envelope, FailedData, decode, derive
from shared.kafka import Delivered, EventProducer, Pending
from shared.reasons import ReasonCode
from shared.topics import Topics

log = logging.getLogger(__name__)

W = TypeVar("W", bound=Envelope)


class StageFailure(Exception):  # noqa: N818 - an outcome, like StageCancelled
    """The document cannot be finished by this stage, for a reason a user can be told."""

    def __init__(self, reason: ReasonCode, message: str, *, dead_letter: bool = False) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message
        self.dead_letter = dead_letter


class StageCancelled(Exception):  # noqa: N818 - it is an outcome, not an error
    """The document was cancelled while (or before) this stage worked on it."""


class TransientError(Exception):
    """Worth another attempt: the same input may succeed once a dependency is back."""


def is_transient(exc: BaseException) -> bool:
    """Errors of the infrastructure around the work, not of the document itself."""
    if isinstance(exc, TransientError | PyMongoError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", True))
    # Blob storage I/O (a full disk, a flaky mount); a missing file is a fact, not a blip.
    return isinstance(exc, OSError) and not isinstance(
        exc, FileNotFoundError | IsADirectoryError | NotADirectoryError
    )


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_s: float = 0.5
    max_s: float = 30.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter (attempt counts from 1)."""
        return random.uniform(0, min(self.max_s, self.base_s * 2 ** (attempt - 1)))


@dataclass
class StageMetrics:
    documents: Counter  # labels: outcome, reason
    dead_letters: Counter
    retries: Counter


class HeldStart:
    """A stage's *started* event, held for up to ``hold_s`` so that it goes in one batch with
    the stage's next events (its first progress, or its end when the stage is quick): one
    produce request fewer a document, and one fetch fewer for every live reader of the topic
    (the gateway, status). Once ``hold_s`` is over it is sent on its own, so a slow stage
    shows that it started; its ``time`` is when it was made either way.

    Whatever is sent after it must come after it on the topic: :meth:`take` (before building
    such a batch) waits for a send already under way and hands over the event if it was not
    sent yet, or if that send failed (as :meth:`Pending.confirm` sends a failed one again);
    the caller puts it first."""

    def __init__(
        self, producer: EventProducer, topic: str, event: Envelope, *, hold_s: float
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._event: Envelope | None = event
        self._sending: asyncio.Future[list[Delivered]] | None = None
        self._timer: asyncio.TimerHandle | None = None
        if hold_s > 0:
            self._timer = asyncio.get_running_loop().call_later(hold_s, self._send_alone)
        else:
            self._send_alone()

    def _send_alone(self) -> None:
        if self._event is not None and self._sending is None:
            records = [(self._topic, self._event)]
            self._sending = asyncio.ensure_future(self._producer.send_many(records))
            self._sending.add_done_callback(_seen)

    async def take(self) -> list[tuple[str, Envelope]]:
        """The event to send first in the caller's batch, or nothing when it was sent (and
        acknowledged before this returns)."""
        if self._timer is not None:
            self._timer.cancel()
        if self._sending is not None:
            try:
                # Shielded: a caller cancelled meanwhile must not cancel the send it waits for.
                await asyncio.shield(self._sending)
            except KafkaError:
                pass  # not sent: the caller sends it
            else:
                self._event = None
        if self._event is None:
            return []
        records = [(self._topic, self._event)]
        self._event = None
        return records

    async def flush(self) -> None:
        """Sent (and acknowledged) now, if it was not yet."""
        records = await self.take()
        if records:
            await self._producer.send_many(records)


def _seen(sending: asyncio.Future[list[Delivered]]) -> None:
    """A held start sent on its own whose attempt was abandoned (the service stopping) is
    never awaited: its failure is logged here instead of as an unretrieved exception."""
    if not sending.cancelled() and sending.exception() is not None:
        log.warning("a held start event was not sent", extra={"error": repr(sending.exception())})


@dataclass
class Attempt:
    """One run of a handler; lifecycle events it announced without waiting for their ack
    (or held, see :class:`HeldStart`) are confirmed before any terminal event, so causality
    holds on documents.events."""

    number: int
    _pending: list[Pending] = field(default_factory=list)
    _held: list[HeldStart] = field(default_factory=list)

    def track(self, pending: Pending) -> None:
        self._pending.append(pending)

    def hold(self, start: HeldStart) -> HeldStart:
        self._held.append(start)
        return start

    async def confirm(self) -> None:
        while self._held:
            await self._held.pop(0).flush()
        while self._pending:
            await self._pending.pop(0).confirm()


Handler = Callable[[W, Attempt], Awaitable[None]]


class Stage(Generic[W]):
    """Decode, check cancellation, run the handler, and turn its outcome into events."""

    def __init__(
        self,
        *,
        stage: str,
        source: str,
        input_topic: str,
        work_type: type[W],
        topics: Topics,
        producer: EventProducer,
        metrics: StageMetrics,
        handler: Handler[W],
        is_cancelled: Callable[[str, int], bool],
        retry: RetryPolicy | None = None,
    ) -> None:
        self.stage = stage
        self.source = source
        self.input_topic = input_topic
        self.work_type = work_type
        self.topics = topics
        self.producer = producer
        self.metrics = metrics
        self.handler = handler
        self.is_cancelled = is_cancelled
        self.retry = retry or RetryPolicy()

    async def handle(self, key: bytes | None, value: bytes, partition: int, offset: int) -> None:
        """Returns once the record's outcome is durable; raises only if even that failed."""
        try:
            work = decode(value)
            if not isinstance(work, self.work_type):
                raise ValueError(f"unexpected event type {work.type} on {self.input_topic}")
        except (ValidationError, ValueError) as exc:
            await self.dead_letter(key, value, str(exc), partition, offset)
            return
        number = 0
        while True:
            number += 1
            attempt = Attempt(number)
            try:
                if self.is_cancelled(work.subject, work.generation):
                    raise StageCancelled()
                await self.handler(work, attempt)
                log.info(f"{self.stage} done", extra={"document_id": work.subject})
                return
            except StageCancelled:
                await attempt.confirm()
                await self.cancelled(work)
                return
            except StageFailure as exc:
                await attempt.confirm()
                await self.failed(work, exc.reason, exc.message)
                if exc.dead_letter:
                    await self.dead_letter(key, value, str(exc), partition, offset)
                return
            except Exception as exc:  # noqa: BLE001 - the policy's last line: judged below
                if is_transient(exc) and number < self.retry.attempts:
                    delay = self.retry.delay(number)
                    self.metrics.retries.labels(type(exc).__name__).inc()
                    log.warning(
                        f"{self.stage} attempt failed; retrying",
                        extra={
                            "document_id": work.subject,
                            "attempt": number,
                            "retry_in_s": round(delay, 2),
                            "error": repr(exc)[:300],
                        },
                    )
                    await attempt.confirm()
                    await asyncio.sleep(delay)
                    continue
                await attempt.confirm()
                await self._gave_up(work, exc, key, value, partition, offset)
                return

    async def _gave_up(
        self,
        work: W,
        exc: Exception,
        key: bytes | None,
        value: bytes,
        partition: int,
        offset: int,
    ) -> None:
        if is_transient(exc):
            message = f"gave up after {self.retry.attempts} attempts: {type(exc).__name__}"
            log.error(message, extra={"document_id": work.subject, "error": repr(exc)[:300]})
            await self.failed(work, ReasonCode.INTERNAL, message)
            # The input is fine; a replay once the dependency is back will finish it.
            await self.dead_letter(key, value, f"{message}: {exc!r}", partition, offset)
            return
        log.exception(f"{self.stage} crashed", extra={"document_id": work.subject}, exc_info=exc)
        await self.failed(work, ReasonCode.INTERNAL, f"internal error: {type(exc).__name__}")

    async def failed(self, work: Envelope, reason: ReasonCode, message: str) -> None:
        self.metrics.documents.labels("failed", reason.value).inc()
        log.info(
            f"{self.stage} failed",
            extra={"document_id": work.subject, "reason": reason.value, "detail": message},
        )
        data = FailedData(stage=self.stage, reason=reason, message=message)
        await self.producer.send(
            self.topics.events, derive(work, DocumentFailed, source=self.source, data=data)
        )

    async def cancelled(self, work: Envelope) -> None:
        self.metrics.documents.labels("cancelled", "").inc()
        await self.producer.send(
            self.topics.events, derive(work, DocumentCancelled, source=self.source)
        )

    async def dead_letter(
        self, key: bytes | None, value: bytes, error: str, partition: int, offset: int
    ) -> None:
        """Park a record on ``<input>.dlt`` with why and where from, for operators to replay."""
        self.metrics.dead_letters.inc()
        log.warning(
            "record dead-lettered",
            extra={
                "topic": self.input_topic,
                "partition": partition,
                "offset": offset,
                "error": error[:200],
            },
        )
        await self.producer.dead_letter(
            self.topics.dead_letter(self.input_topic),
            key,
            value,
            error=error,
            source=self.input_topic,
            partition=partition,
            offset=offset,
        )
