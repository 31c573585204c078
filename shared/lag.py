"""Consumer lag of docstream's consumer groups, per topic and partition, from Kafka itself.

One reading serves both the status service's ``docstream_consumer_lag`` gauge and the
``docstream lag`` command: the admin API gives each group's committed offsets, a throwaway
consumer (no group) the partitions' end offsets. No JVM exporter needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared import kafka_backoff  # noqa: F401 - aiokafka waits after a failed metadata update


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - self.committed, 0)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lag": self.lag}


def group_prefix(topic_prefix: str) -> str:
    """Each consumer service's group is ``<topic prefix>docstream-<service>``."""
    return f"{topic_prefix}docstream-"


@asynccontextmanager
async def offset_clients(
    bootstrap_servers: str, *, timeout_s: float = 10.0
) -> AsyncIterator[tuple[AIOKafkaAdminClient, AIOKafkaConsumer]]:
    """Short-lived clients for reading offsets: an admin client (groups' committed offsets)
    and a consumer in no group (partitions' first and end offsets); both closed after."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        # Made only now: one never started (the broker away) would warn as it is collected.
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
        try:
            await asyncio.wait_for(consumer.start(), timeout_s)
            yield admin, consumer
        finally:
            await consumer.stop()
    finally:
        await admin.close()


async def consumer_lag(
    bootstrap_servers: str, topic_prefix: str = "", *, timeout_s: float = 10.0
) -> list[PartitionLag]:
    """Every partition a docstream group has committed on, sorted by group, topic, partition
    (one reading, over clients opened for it: see :class:`LagReader` for readings again and
    again)."""
    async with offset_clients(bootstrap_servers, timeout_s=timeout_s) as (admin, consumer):
        return await _read(admin, consumer, group_prefix(topic_prefix))


class LagReader:
    """:func:`consumer_lag` again and again over one admin client and one consumer, opened at
    the first reading and kept: a pair opened and closed for every reading of status's timer
    cost the broker a connection setup and metadata requests each time. After a failed
    reading they are closed, and the next one opens new ones."""

    def __init__(
        self, bootstrap_servers: str, topic_prefix: str = "", *, timeout_s: float = 10.0
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._prefix = group_prefix(topic_prefix)
        self._timeout_s = timeout_s
        self._open: AsyncExitStack | None = None
        self._clients: tuple[AIOKafkaAdminClient, AIOKafkaConsumer] | None = None

    async def read(self) -> list[PartitionLag]:
        if self._clients is None:
            clients = offset_clients(self._bootstrap_servers, timeout_s=self._timeout_s)
            opened = AsyncExitStack()
            self._clients = await opened.enter_async_context(clients)
            self._open = opened
        admin, consumer = self._clients
        try:
            return await asyncio.wait_for(_read(admin, consumer, self._prefix), self._timeout_s)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        opened, self._open, self._clients = self._open, None, None
        if opened is not None:
            await opened.aclose()


async def _read(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, prefix: str
) -> list[PartitionLag]:
    groups = [str(g[0]) for g in await admin.list_consumer_groups()]
    committed: dict[tuple[str, TopicPartition], int] = {}
    for group in sorted(g for g in groups if g.startswith(prefix)):
        offsets = await admin.list_consumer_group_offsets(group)
        for tp, meta in offsets.items():
            if meta.offset >= 0:  # -1: nothing committed there yet
                committed[(group, tp)] = meta.offset
    partitions = {tp for _, tp in committed}
    ends = await consumer.end_offsets(list(partitions)) if partitions else {}
    rows = [
        PartitionLag(group, tp.topic, tp.partition, offset, int(ends.get(tp, offset)))
        for (group, tp), offset in committed.items()
    ]
    return sorted(rows, key=lambda r: (r.group, r.topic, r.partition))
