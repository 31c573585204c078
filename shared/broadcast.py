"""Read every partition of a topic in every replica (no consumer group).

Used where each replica needs all records, not a share of them: the gateway fans documents'
events out to whichever WebSocket clients it holds, and stages hear every cancel command
because they cannot know which replica is working on a document.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared import (
    kafka_backoff,  # noqa: F401 - aiokafka waits after a failed metadata update
    tracing,
)

log = logging.getLogger(__name__)

RecordHandler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[None]]


class BroadcastConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        handler: RecordHandler,
        *,
        from_beginning: bool = False,
        traced: bool = True,
        idle_wait_s: float = 0.5,
        gather_bytes: int = 1,
    ) -> None:
        self.topic = topic
        self._idle_wait_ms = int(idle_wait_s * 1000)
        # Above 1, the broker holds a fetch until this much is there or the wait is over: a
        # reader that can be up to ``idle_wait_s`` late fetches a few times a second.
        self._gather_bytes = gather_bytes
        # Off where records are many and the handler rarely logs (the gateway's fan-out): a
        # span per record was two thirds of the fan-out's CPU. Such a handler opens the
        # record's span itself when it has something to say.
        self._traced = traced
        self._handler = handler
        self._from_beginning = from_beginning
        self._bootstrap_servers = bootstrap_servers
        self._consumer: AIOKafkaConsumer | None = None  # made in start(), inside the loop
        self._task: asyncio.Task[None] | None = None
        self._catch_up_to: dict[TopicPartition, int] = {}
        self._caught_up = asyncio.Event()
        #: Per partition, the offset reading started from (known once start() returned).
        self.start_offsets: dict[int, int] = {}

    async def start(self) -> None:
        consumer = self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            # A long poll returns as soon as one record is there (fetch_min_bytes=1); the wait
            # only bounds idle polling, which costs the broker CPU when it is short.
            fetch_max_wait_ms=self._idle_wait_ms,
            fetch_min_bytes=self._gather_bytes,
        )
        await consumer.start()
        partitions = consumer.partitions_for_topic(self.topic)
        for _ in range(50):
            if partitions:
                break
            await consumer._client.force_metadata_update()  # topic created just now
            partitions = consumer.partitions_for_topic(self.topic)
            await asyncio.sleep(0.1)
        if not partitions:
            raise RuntimeError(f"topic {self.topic} has no partitions (does it exist?)")
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        if self._from_beginning:
            # "Started" means everything already on the topic has been handled: a stage must
            # know every earlier cancel before it takes its first document. The end offsets
            # are asked before the partitions are assigned: once assigned, the consumer's
            # first (idle) fetch is under way, and aiokafka answered end_offsets only after
            # it, i.e. after the whole idle wait (5 s of every stage replica's start).
            ends = await consumer.end_offsets(tps)
            self._catch_up_to = {tp: offset for tp, offset in ends.items() if offset}
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
        else:
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            # Resolve the end offsets now, so "ready" means "nothing after this is missed".
            for tp in tps:
                self.start_offsets[tp.partition] = await consumer.position(tp)
        self._task = asyncio.create_task(self._run(), name=f"broadcast:{self.topic}")
        if self._catch_up_to:
            await self._caught_up.wait()

    @property
    def running(self) -> bool:
        """False once the fan-out stopped (for a health check to report)."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        delay = 0.5
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=1000, max_records=500)
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception:
                # Whatever it was, stopping would leave the process looking healthy while it
                # no longer hears anything (no fan-out, no cancels): log it and poll again.
                log.exception("broadcast consumer error", extra={"topic": self.topic})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            for records in batches.values():
                for record in records:
                    try:
                        if self._traced:
                            # In the record's trace: what the handler logs carries its id.
                            with tracing.consuming(f"fan-out {record.topic}", record.headers):
                                await self._handler(record)
                        else:
                            await self._handler(record)
                    except Exception:  # one bad record must not stop the fan-out
                        log.exception(
                            "broadcast handler failed",
                            extra={
                                "topic": record.topic,
                                "partition": record.partition,
                                "offset": record.offset,
                            },
                        )
            await self._check_caught_up()

    async def _check_caught_up(self) -> None:
        if self._caught_up.is_set() or self._consumer is None:
            return
        for tp, end in list(self._catch_up_to.items()):
            if await self._consumer.position(tp) >= end:
                del self._catch_up_to[tp]
        if not self._catch_up_to:
            self._caught_up.set()
