"""The work agents' watch: slow records logged with where they wait; a member that holds
records and takes none reports a stall (records counted on the real Kafka)."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from shared.consumer_watch import ConsumerWatch, InFlight, waiting_records


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_slow_record_is_logged_once_a_while_with_where_it_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    in_flight = InFlight(clock=clock)
    never = asyncio.Event()

    async def waits_for_the_broker() -> None:
        with in_flight.record("documents.uploaded[1]@42"):
            await never.wait()

    task = asyncio.create_task(waits_for_the_broker())
    await asyncio.sleep(0)
    assert len(in_flight) == 1 and in_flight.idle_s() == 0.0
    clock.now += 10
    assert in_flight.report_slow(30) == 0  # not slow yet
    clock.now += 25
    with caplog.at_level(logging.WARNING, logger="shared.consumer_watch"):
        assert in_flight.report_slow(30) == 1
        assert in_flight.report_slow(30) == 0  # once, then again after another 30 s
        clock.now += 30
        assert in_flight.report_slow(30) == 1
    logged = [r for r in caplog.records if r.getMessage() == "record still in flight"]
    assert len(logged) == 2
    assert logged[0].record == "documents.uploaded[1]@42"  # type: ignore[attr-defined]
    assert "waits_for_the_broker" in logged[0].waits_in  # type: ignore[attr-defined]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(in_flight) == 0
    assert in_flight.idle_s() == pytest.approx(65.0)  # since the record was taken


async def _topic(bootstrap: str, partitions: int) -> str:
    name = f"watch-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def _produce(bootstrap: str, topic: str, partition: int, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(count):
            await producer.send_and_wait(topic, f"r{n}".encode(), partition=partition)
    finally:
        await producer.stop()


async def test_waiting_records_count_from_the_committed_offset_or_else_the_start(
    kafka_bootstrap: str,
) -> None:
    topic = await _topic(kafka_bootstrap, 2)
    tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    await _produce(kafka_bootstrap, topic, 0, 3)
    group = f"g-{uuid.uuid4().hex[:8]}"
    assert await waiting_records(kafka_bootstrap, group, [tp0, tp1]) == {tp0: 3, tp1: 0}
    member = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await member.start()
    try:
        member.assign([tp0])
        await member.commit({tp0: OffsetAndMetadata(2, "")})
    finally:
        await member.stop()
    assert await waiting_records(kafka_bootstrap, group, [tp0, tp1]) == {tp0: 1, tp1: 0}


async def test_a_member_holding_records_it_takes_none_of_reports_a_stall(
    kafka_bootstrap: str,
) -> None:
    topic = await _topic(kafka_bootstrap, 2)
    await _produce(kafka_bootstrap, topic, 1, 2)
    clock = Clock()
    in_flight = InFlight(clock=clock)
    stalls: list[str] = []

    async def on_stall(why: str) -> None:
        stalls.append(why)

    def watch(partitions: list[TopicPartition] | None) -> ConsumerWatch:
        return ConsumerWatch(
            in_flight,
            bootstrap_servers=kafka_bootstrap,
            group=f"g-{uuid.uuid4().hex[:8]}",
            assignment=lambda: partitions,
            on_stall=on_stall,
            slow_after_s=0,
            stall_after_s=60,
        )

    mine = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    clock.now += 30
    await watch(mine).check()
    assert stalls == []  # idle for 30 s only
    clock.now += 40
    await watch(None).check()
    assert stalls == []  # a rebalance under way: not judged
    await watch([TopicPartition(topic, 0)]).check()
    assert stalls == []  # its partition holds nothing: idle, not stalled
    stalled = watch(mine)
    await stalled.check()
    assert stalls == []  # records seen waiting: they may have arrived just now
    clock.now += 30
    await stalled.check()
    assert stalls == []  # waiting for 30 s of the 60
    clock.now += 31
    await stalled.check()
    assert len(stalls) == 1 and f"{topic}[1]" in stalls[0]
    assert stalled.stalled == stalls[0]
    # Taking a record in between starts the count again.
    again = watch(mine)
    await again.check()
    clock.now += 61
    with in_flight.record("y"):
        pass
    clock.now += 61
    await again.check()
    assert len(stalls) == 1 and again.stalled is None
    # Busy with a record: never a stall, however long.
    busy = watch(mine)
    with in_flight.record("x"):
        clock.now += 600
        await busy.check()
        clock.now += 600
        await busy.check()
    assert len(stalls) == 1 and busy.stalled is None


async def test_a_broker_that_cannot_be_asked_starts_the_count_again(kafka_bootstrap: str) -> None:
    """Records seen waiting, then a broker outage longer than the deadline: the consumer was
    not the one stuck, so the count starts afresh once the broker answers."""
    topic = await _topic(kafka_bootstrap, 1)
    await _produce(kafka_bootstrap, topic, 0, 1)
    clock = Clock()
    in_flight = InFlight(clock=clock)
    stalls: list[str] = []
    bootstrap = [kafka_bootstrap]

    async def on_stall(why: str) -> None:
        stalls.append(why)

    watch = ConsumerWatch(
        in_flight,
        bootstrap_servers=kafka_bootstrap,
        group=f"g-{uuid.uuid4().hex[:8]}",
        assignment=lambda: [TopicPartition(topic, 0)] if bootstrap else None,
        on_stall=on_stall,
        slow_after_s=0,
        stall_after_s=60,
        check_every_s=0.01,
    )
    clock.now += 61
    await watch.check()  # seen waiting
    watch.bootstrap_servers = "127.0.0.1:1"  # the broker is away
    clock.now += 61
    task = asyncio.create_task(watch.run())
    for _ in range(500):
        await asyncio.sleep(0.01)
        if watch._waiting_since is None:
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert watch._waiting_since is None
    watch.bootstrap_servers = kafka_bootstrap  # back
    clock.now += 31  # past the next query's time
    await watch.check()
    assert stalls == []  # seen waiting afresh, not stalled
