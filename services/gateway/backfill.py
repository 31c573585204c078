"""Reads of documents.events from given offsets up to the live hub's position (resume).

A resuming client names, per partition, the newest record it was given; the events after it
up to where the hub stood when the client subscribed are read here from Kafka itself, so a
gap hours old is filled as exactly as one a second old. Readers are ordinary consumers with
no group (assigned, seeking), kept in a small pool: they cost nothing while no one resumes,
and the pool's size bounds how many resumes run at once.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from services.gateway import metrics
from services.gateway.hub import LiveEvent, parse_record
from shared import kafka_backoff  # noqa: F401 - aiokafka waits after a failed metadata update

#: A cheap look at the raw record (its key, its bytes) before it is parsed.
Match = Callable[[ConsumerRecord[bytes, bytes]], bool]
Accept = Callable[[LiveEvent], bool]

#: A wanted offset further ahead than this is reached by seeking, not by reading through.
_SEEK_GAP = 200


class BackfillError(Exception):
    """Kafka could not give the records in time (the client should come back)."""


class CursorExpiredError(Exception):
    """The records after the cursor are gone (older than the topic's retention)."""


class Backfill:
    def __init__(self, bootstrap_servers: str, topic: str, *, readers: int, stall_s: float) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topic = topic
        self._stall_s = stall_s
        self._slots = asyncio.Semaphore(readers)
        self._idle: list[AIOKafkaConsumer] = []

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().stop()

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[AIOKafkaConsumer]:
        async with self._slots:
            consumer = self._idle.pop() if self._idle else await self._new_reader()
            healthy = False
            try:
                yield consumer
                healthy = True
            finally:
                if healthy:
                    self._idle.append(consumer)
                else:  # its position is unknown after an error: start afresh next time
                    await consumer.stop()

    async def _new_reader(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="none",  # a cursor past retention must be told, not skipped
            fetch_max_wait_ms=100,
        )
        await consumer.start()
        return consumer

    async def read(
        self,
        partition: int,
        start: int,
        end: int,
        match: Match,
        accept: Accept,
        *,
        only: Sequence[int] | None = None,
    ) -> AsyncIterator[LiveEvent]:
        """Events of ``partition`` in [start, end) that ``match`` and ``accept``, in order. ``only``
        (sorted offsets) names the records wanted before the last of them: the reader seeks
        to them instead of reading everything in between."""
        if start >= end:
            return
        began = time.monotonic()
        tp = TopicPartition(self._topic, partition)
        try:
            async with self._reader() as consumer:
                consumer.assign([tp])
                first = (await consumer.beginning_offsets([tp]))[tp]
                if start < first:
                    raise CursorExpiredError(
                        f"{self._topic}[{partition}] starts at {first}, not {start}"
                    )
                consumer.seek(tp, start)
                position = start
                last_progress = time.monotonic()
                while position < end:
                    target = _next_wanted(only, position)
                    if target is not None and target - position > _SEEK_GAP:
                        consumer.seek(tp, target)
                        position = target
                    batch = await consumer.getmany(tp, timeout_ms=500, max_records=500)
                    for record in batch.get(tp, ()):
                        if record.offset >= end:
                            break
                        metrics.BACKFILL_RECORDS.inc()
                        if (only is None or _wanted(only, record.offset)) and match(record):
                            item = parse_record(record)
                            if item is not None and accept(item):
                                yield item
                    moved = await consumer.position(tp)
                    if moved > position:
                        position = moved
                        last_progress = time.monotonic()
                    elif time.monotonic() - last_progress > self._stall_s:
                        raise BackfillError(f"{self._topic}[{partition}] stalled at {position}")
        except KafkaError as exc:  # the broker restarting: the client comes back later
            raise BackfillError(f"{self._topic}[{partition}]: {exc!r}") from exc
        metrics.BACKFILL_SECONDS.observe(time.monotonic() - began)


def _next_wanted(only: Sequence[int] | None, position: int) -> int | None:
    if not only:
        return None
    i = bisect.bisect_left(only, position)
    return only[i] if i < len(only) else None


def _wanted(only: Sequence[int], offset: int) -> bool:
    # Past the last logged offset everything is read (the log stops where the fold stood).
    if not only or offset > only[-1]:
        return True
    i = bisect.bisect_left(only, offset)
    return i < len(only) and only[i] == offset
