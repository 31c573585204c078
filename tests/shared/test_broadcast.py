"""Broadcast consumers on the real Kafka: the cancel registry knows every earlier cancel the
moment it has started, starts without waiting out an idle poll, and the fan-out survives
errors that are not Kafka's."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import ConsumerRecord

from shared.broadcast import BroadcastConsumer
from shared.cancellation import CancelRegistry
from shared.events import CancelRequested
from shared.kafka import EventProducer, create_topics


async def _topic(bootstrap: str) -> str:
    name = f"bc-{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, [name], partitions=2)
    return name


async def test_cancels_sent_while_a_stage_was_down_are_known_once_it_starts(
    kafka_bootstrap: str,
) -> None:
    topic = await _topic(kafka_bootstrap)
    producer = EventProducer(kafka_bootstrap, client_id="test")
    await producer.start()
    try:
        for i in range(300):  # enough that reading them takes more than one fetch
            await producer.send(
                topic,
                CancelRequested(source="/t", subject=f"doc-{i}", owner="alice", generation=1),
            )
    finally:
        await producer.stop()
    heard: list[tuple[str, int]] = []

    async def on_cancel(document_id: str, generation: int) -> None:
        heard.append((document_id, generation))

    registry = CancelRegistry(kafka_bootstrap, topic, on_cancel=on_cancel)
    await registry.start()
    try:
        # No waiting here: "started" means caught up (before the fix, start returned at once
        # and a stage could take a document whose cancel it had not read yet).
        assert all(registry.is_cancelled(f"doc-{i}", 1) for i in range(300))
        assert not registry.is_cancelled("doc-1", 2)  # a newer generation is not cancelled
        assert len(heard) == 300
    finally:
        await registry.stop()


async def test_a_registry_on_a_topic_without_commands_starts_without_an_idle_wait(
    kafka_bootstrap: str,
) -> None:
    """Every stage replica starts one: its start used to last the consumer's whole idle poll
    (5 s), because the end offsets were asked while the first fetch was under way."""
    topic = await _topic(kafka_bootstrap)
    for with_a_cancel in (False, True):  # nothing on the topic; then one cancel
        if with_a_cancel:
            producer = EventProducer(kafka_bootstrap, client_id="test")
            await producer.start()
            try:
                cancel = CancelRequested(source="/t", subject="doc-x", owner="a", generation=1)
                await producer.send(topic, cancel)
            finally:
                await producer.stop()
        registry = CancelRegistry(kafka_bootstrap, topic)
        started = time.monotonic()
        await registry.start()
        try:
            # Far below the 5 s idle wait, however slow the machine: no wait at all is needed.
            assert time.monotonic() - started < 2.5
            assert registry.is_cancelled("doc-x", 1) == with_a_cancel
        finally:
            await registry.stop()


async def test_the_fan_out_survives_a_failure_that_is_not_kafkas(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap)
    seen: list[bytes] = []

    async def handler(record: ConsumerRecord[bytes, bytes]) -> None:
        seen.append(record.value or b"")

    consumer = BroadcastConsumer(kafka_bootstrap, topic, handler)
    await consumer.start()
    assert consumer._consumer is not None
    real_getmany = consumer._consumer.getmany
    failures = [RuntimeError("a bug in a library")]

    async def flaky_getmany(*args: object, **kwargs: object) -> object:
        if failures:
            raise failures.pop()
        return await real_getmany(*args, **kwargs)  # type: ignore[arg-type]

    consumer._consumer.getmany = flaky_getmany  # type: ignore[method-assign]
    producer = EventProducer(kafka_bootstrap, client_id="test")
    await producer.start()
    try:
        await asyncio.sleep(0.1)
        await producer.send(
            topic, CancelRequested(source="/t", subject="doc-x", owner="alice", generation=1)
        )
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.1)
        assert not failures  # the failure happened...
        assert len(seen) == 1  # ...and the record after it still arrived
        assert consumer.running
    finally:
        await producer.stop()
        await consumer.stop()
