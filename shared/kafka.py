"""Kafka plumbing every service shares: one durable producer, topic creation, readiness."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAlreadyExistsError,
)

from shared import kafka_backoff  # noqa: F401 - aiokafka waits after a failed metadata update
from shared.events import CONTENT_TYPE, Envelope, encode
from shared.topics import Topics
from shared.tracing import kafka_headers

if TYPE_CHECKING:
    from shared.settings import ServiceSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

_PERMANENT = (MessageSizeTooLargeError, RecordTooLargeError)

#: Headers per the CloudEvents Kafka binding, structured mode.
_HEADERS = [("content-type", CONTENT_TYPE.encode())]


def _headers() -> list[tuple[str, bytes]]:
    """Ours plus the current trace context (``traceparent``), built anew for every record."""
    return [*_HEADERS, *kafka_headers()]


@dataclass(frozen=True)
class Delivered:
    topic: str
    partition: int
    offset: int


class EventProducer:
    """acks=all + idempotence; :meth:`send` returns only once the broker has the record.

    ``linger_ms=0`` by default: documents are few and latency matters more than batching;
    records sent together with :meth:`send_many` still share a request. A producer off the
    live path (status's documents.status) lingers a few milliseconds, so that what several
    tasks send at about the same time shares a request.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        retry_forever: bool = False,
        linger_ms: int = 0,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._linger_ms = linger_ms
        # Stream stages hold their input until their output is durable: an unreachable broker
        # pauses them (and at-least-once replays) rather than losing or skipping a record.
        # The API instead fails fast, so a client gets its 503 at once.
        self._retry_forever = retry_forever
        self._started: AIOKafkaProducer | None = None

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._started is None:
            raise RuntimeError("EventProducer used before start()")
        return self._started

    async def start(self) -> None:
        # Created here, not in __init__: aiokafka binds to the loop that is running.
        self._started = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=self._linger_ms,
            max_request_size=1_048_576,
            request_timeout_ms=15_000,
        )
        await self._started.start()

    async def stop(self) -> None:
        if self._started is not None:
            await self._started.stop()
            self._started = None

    async def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has (from the cluster's metadata)."""
        return len(await self._producer.partitions_for(topic))

    async def send(self, topic: str, event: Envelope) -> Delivered:
        return (await self.send_many([(topic, event)]))[0]

    async def send_many(self, records: Sequence[tuple[str, Envelope]]) -> list[Delivered]:
        """Send in order, wait for all acks. Same-key records keep their order on a partition."""
        document_id = records[0][1].subject if records else None
        return await self._retrying(lambda: self._send_once(records), document_id)

    async def _retrying(self, attempt: Callable[[], Awaitable[T]], document_id: str | None) -> T:
        delay = 0.1
        while True:
            try:
                return await attempt()
            except KafkaError as exc:
                # A record too large will never fit: retrying it would hold the stage forever.
                if not self._retry_forever or isinstance(exc, _PERMANENT):
                    raise
                log.warning(
                    "publish failed; retrying",
                    extra={"error": repr(exc), "retry_in_s": delay, "document_id": document_id},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _send_once(self, records: Sequence[tuple[str, Envelope]]) -> list[Delivered]:
        futures = [
            await self._producer.send(
                topic, encode(event), key=event.subject.encode(), headers=_headers()
            )
            for topic, event in records
        ]
        metas = await asyncio.gather(*futures)
        return [Delivered(m.topic, m.partition, m.offset) for m in metas]

    async def tombstone(self, topic: str, key: str) -> None:
        """A null value for ``key``: compaction removes the key's earlier records."""

        async def once() -> None:
            await (await self._producer.send(topic, None, key=key.encode(), headers=_headers()))

        await self._retrying(once, key)

    async def enqueue(self, topic: str, event: Envelope) -> asyncio.Future[Any] | None:
        """Hand a record to the producer; the future settles with its ack or its error (within
        the request timeout). None when the producer refused it at once."""
        try:
            future: asyncio.Future[Any] = await self._producer.send(
                topic, encode(event), key=event.subject.encode(), headers=_headers()
            )
        except KafkaError:
            return None
        return future

    async def start_sending(self, topic: str, event: Envelope) -> Pending:
        """Hand a record to the producer without waiting for its ack (the caller works on
        meanwhile); :meth:`Pending.confirm` waits for it. Later records for the same key
        still land after it: the idempotent producer keeps per-partition order."""
        return Pending(self, topic, event, await self.enqueue(topic, event))

    async def dead_letter(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        error: str,
        source: str,
        partition: int,
        offset: int,
    ) -> None:
        """Park a record we cannot process, with why and where it came from in its headers."""
        headers = [
            ("docstream-error", error[:1000].encode()),
            ("docstream-source-topic", source.encode()),
            ("docstream-source-partition", str(partition).encode()),
            ("docstream-source-offset", str(offset).encode()),
            *kafka_headers(),
        ]

        async def once() -> None:
            await (await self._producer.send(topic, value, key=key, headers=headers))

        # A dead letter is the only copy of a record whose offset is committed after it.
        await self._retrying(once, key.decode(errors="replace") if key else None)


class Pending:
    """A record on its way; confirm() returns once it is durable (re-sending if it failed)."""

    def __init__(
        self, producer: EventProducer, topic: str, event: Envelope, future: Any | None
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._event = event
        self._future = future

    async def confirm(self) -> Delivered:
        if self._future is not None:
            try:
                meta = await self._future
                return Delivered(meta.topic, meta.partition, meta.offset)
            except KafkaError:
                pass  # fall through to a (retrying) send
        return await self._producer.send(self._topic, self._event)


async def ensure_topics(
    bootstrap_servers: str,
    topics: Topics,
    *,
    partitions: int,
    timeout_s: float = 30.0,
) -> None:
    """Create our topics if missing. Safe to call from every replica at every start."""
    await create_topics(
        bootstrap_servers,
        topics.all(),
        partitions=partitions,
        compacted=topics.compacted(),
        timeout_s=timeout_s,
    )


async def create_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    *,
    partitions: int,
    compacted: set[str] | frozenset[str] = frozenset(),
    timeout_s: float = 30.0,
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    await asyncio.wait_for(admin.start(), timeout_s)
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name,
                num_partitions=partitions,
                replication_factor=1 if _single_node(bootstrap_servers) else 3,
                topic_configs={"cleanup.policy": "compact"} if name in compacted else {},
            )
            for name in names
            if name not in existing
        ]
        if not wanted:
            return
        with contextlib.suppress(TopicAlreadyExistsError):  # another replica won the race
            await admin.create_topics(wanted)
    finally:
        await admin.close()


def _single_node(bootstrap_servers: str) -> bool:
    return "," not in bootstrap_servers


async def prepare(settings: ServiceSettings) -> None:
    """What a consumer service waits for before it starts: the broker answering, and every
    docstream topic in place (made by whichever service comes first)."""
    await wait_for_kafka(settings.kafka_bootstrap_servers)
    await ensure_topics(
        settings.kafka_bootstrap_servers, settings.topics, partitions=settings.topic_partitions
    )


async def wait_for_kafka(bootstrap_servers: str, *, timeout_s: float = 60.0) -> None:
    """Ready means a metadata request answered, not a port that accepts connections."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=3000)
        try:
            await asyncio.wait_for(admin.start(), 5)
            await asyncio.wait_for(admin.describe_cluster(), 5)
            return
        except (KafkaError, OSError, TimeoutError) as exc:
            last = exc
            await asyncio.sleep(0.25)
        finally:
            await admin.close()
    raise TimeoutError(f"Kafka at {bootstrap_servers} not ready after {timeout_s}s: {last!r}")
