"""The group consumer's bookkeeping: per partition, commit up to the first record still
unfinished (records finish out of order). Without a broker: a stand-in for aiokafka's consumer
takes the commits; tests/webhooks/test_consumer.py does the same on the real Kafka."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from shared.record_consumer import Batching, PartitionOffsets, Record, RecordConsumer

TOPIC = "events"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


# -- PartitionOffsets -----------------------------------------------------------------------


def test_nothing_to_commit_before_the_first_record() -> None:
    assert PartitionOffsets().commit_point() is None


def test_records_finished_at_once_commit_past_the_last() -> None:
    offsets = PartitionOffsets()
    for offset in (10, 11, 12):
        offsets.passed(offset)
    assert offsets.commit_point() == 13


def test_the_commit_stops_at_the_first_unfinished_record() -> None:
    offsets = PartitionOffsets()
    offsets.passed(0)
    offsets.started(1)  # a delivery under way
    offsets.passed(2)
    offsets.started(3)
    offsets.passed(4)
    assert offsets.commit_point() == 1
    assert offsets.pending == 2
    offsets.finished(3)  # out of order: still held by 1
    assert offsets.commit_point() == 1
    offsets.finished(1)  # now everything up to 4 is done
    assert offsets.commit_point() == 5
    assert offsets.pending == 0


def test_finished_out_of_order_in_any_order() -> None:
    offsets = PartitionOffsets()
    for offset in range(5):
        offsets.started(offset)
    for offset, expected in ((4, 0), (2, 0), (0, 1), (1, 3), (3, 5)):
        offsets.finished(offset)
        assert offsets.commit_point() == expected, offset


def test_gaps_in_offsets_do_not_hold_the_commit() -> None:
    # A compacted topic or a transaction marker skips offsets: only what was read counts.
    offsets = PartitionOffsets()
    offsets.passed(3)
    offsets.started(7)
    offsets.passed(20)
    assert offsets.commit_point() == 7
    offsets.finished(7)
    assert offsets.commit_point() == 21


# -- RecordConsumer, with a stand-in for aiokafka's consumer ----------------------------------


class FakeKafka:
    def __init__(self, fail: int = 0) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.fail = fail

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.fail:
            self.fail -= 1
            from aiokafka.errors import CommitFailedError

            raise CommitFailedError("rebalance")
        self.commits.append(dict(offsets))

    async def stop(self) -> None:
        pass


def record(partition: int, offset: int, value: bytes = b"skip") -> Record:
    return ConsumerRecord(TOPIC, partition, offset, 0, 0, None, value, None, 0, len(value), [])


class Script:
    """A handler: b"skip" finishes on return, b"task" in a task finished by hand."""

    def __init__(self) -> None:
        self.gates: dict[tuple[int, int], asyncio.Future[None]] = {}

    async def __call__(self, rec: Record) -> asyncio.Future[None] | None:
        if rec.value == b"skip":
            return None
        gate = self.gates[(rec.partition, rec.offset)] = asyncio.get_running_loop().create_future()

        async def work() -> None:
            await gate

        return asyncio.ensure_future(work())

    def finish(self, partition: int, offset: int, error: Exception | None = None) -> None:
        gate = self.gates[(partition, offset)]
        if error is None:
            gate.set_result(None)
        else:
            gate.set_exception(error)


async def _consumer(script: Script, kafka: FakeKafka) -> RecordConsumer:
    consumer = RecordConsumer("unused:9092", "group", [TOPIC], script, commit_every=1000)
    consumer._consumer = kafka
    await consumer.on_partitions_assigned([P0, P1])
    return consumer


async def _settle() -> None:
    """Until finished tasks have run their done callbacks."""
    for _ in range(5):
        await asyncio.sleep(0)


async def _feed(consumer: RecordConsumer, *records: Record) -> None:
    for rec in records:
        await consumer._handle(consumer._partitions[TopicPartition(TOPIC, rec.partition)], rec)


async def test_commits_go_up_to_the_first_record_still_running_per_partition() -> None:
    script, kafka = Script(), FakeKafka()
    consumer = await _consumer(script, kafka)
    assert consumer.ready and consumer.assigned == 2
    await _feed(consumer, record(0, 0), record(0, 1, b"task"), record(0, 2), record(1, 5))
    await _feed(consumer, record(0, 3, b"task"), record(1, 6, b"task"))
    assert consumer.in_flight == 3
    # The stall watch's account (shared/consumer_watch.py): the three tasks, until done.
    assert len(consumer.handling) == 3
    await consumer.commit()
    assert kafka.commits == [{P0: 1, P1: 6}]

    script.finish(0, 3)  # finished, but behind offset 1
    await _settle()
    assert consumer.in_flight == 2
    await consumer.commit()
    assert kafka.commits[-1:] == [{P0: 1, P1: 6}], "nothing moved, nothing committed"
    assert len(kafka.commits) == 1

    script.finish(0, 1)
    script.finish(1, 6)
    await _settle()
    await consumer.commit()
    assert kafka.commits[-1] == {P0: 4, P1: 7}
    assert consumer.in_flight == 0
    assert len(consumer.handling) == 0


async def test_with_max_running_the_next_record_waits_for_a_place() -> None:
    script, kafka = Script(), FakeKafka()
    consumer = RecordConsumer(
        "unused:9092", "group", [TOPIC], script, commit_every=1000, max_running=2
    )
    consumer._consumer = kafka
    await consumer.on_partitions_assigned([P0, P1])
    await _feed(consumer, record(0, 0, b"task"), record(1, 0, b"task"))
    third = asyncio.ensure_future(_feed(consumer, record(0, 1), record(0, 2, b"task")))
    await _settle()
    assert not third.done(), "two tasks run: even a skipped record waits behind them"
    assert set(script.gates) == {(0, 0), (1, 0)}
    script.finish(1, 0)
    await _settle()
    await third  # a place came free: the next records went on, the last in a task
    assert set(script.gates) == {(0, 0), (1, 0), (0, 2)}
    assert consumer.in_flight == 2
    await consumer.stop()


async def test_a_cancelled_record_is_never_committed_and_stop_cancels_what_runs() -> None:
    script, kafka = Script(), FakeKafka()
    consumer = await _consumer(script, kafka)
    await _feed(consumer, record(0, 0), record(0, 1, b"task"), record(0, 2, b"task"))
    script.finish(0, 2)
    await _settle()
    await consumer.stop()  # 1 is cancelled: the final commit stops there
    assert kafka.commits == [{P0: 1}]
    assert script.gates[(0, 1)].cancelled()


async def test_a_failed_task_finishes_its_record(caplog: pytest.LogCaptureFixture) -> None:
    script, kafka = Script(), FakeKafka()
    consumer = await _consumer(script, kafka)
    await _feed(consumer, record(0, 0, b"task"))
    with caplog.at_level(logging.ERROR):
        script.finish(0, 0, RuntimeError("bug"))
        await _settle()
    await consumer.commit()
    assert kafka.commits == [{P0: 1}]
    assert "record task failed" in caplog.text


async def test_a_handler_that_raises_gets_the_same_record_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []

    async def flaky(rec: Record) -> None:
        seen.append(rec.offset)
        if len(seen) < 3:
            raise RuntimeError("database down")

    async def no_wait(_: float) -> None:
        pass

    kafka = FakeKafka()
    consumer = RecordConsumer("unused:9092", "group", [TOPIC], flaky)
    consumer._consumer = kafka
    await consumer.on_partitions_assigned([P0])
    monkeypatch.setattr("shared.record_consumer.asyncio.sleep", no_wait)
    await _feed(consumer, record(0, 7))
    assert seen == [7, 7, 7]
    await consumer.commit()
    assert kafka.commits == [{P0: 8}]


async def test_revocation_commits_what_is_finished_then_forgets_the_partitions() -> None:
    script, kafka = Script(), FakeKafka()
    consumer = await _consumer(script, kafka)
    await _feed(consumer, record(0, 0), record(0, 1, b"task"), record(1, 0))
    await consumer.on_partitions_revoked([P0, P1])
    assert kafka.commits == [{P0: 1, P1: 1}]
    assert not consumer.ready
    # The record running at the revocation finishes here, but the new owner reads it again:
    # its offset is not committed by this member any more.
    await consumer.on_partitions_assigned([P1])
    script.finish(0, 1)
    await _settle()
    await consumer.commit()
    assert kafka.commits == [{P0: 1, P1: 1}]
    await consumer.stop()


async def test_a_failed_commit_is_made_again_next_time() -> None:
    kafka = FakeKafka(fail=1)
    consumer = await _consumer(Script(), kafka)
    await _feed(consumer, record(0, 0))
    await consumer.commit()  # logged, not raised
    assert kafka.commits == []
    await consumer.commit()
    assert kafka.commits == [{P0: 1}]


async def test_commit_every_wakes_the_periodic_commit() -> None:
    kafka = FakeKafka()
    consumer = RecordConsumer(
        "unused:9092", "group", [TOPIC], Script(), commit_every=3, commit_interval_s=60
    )
    consumer._consumer = kafka
    await consumer.on_partitions_assigned([P0])
    committing = asyncio.create_task(consumer._commit_periodically())
    try:
        await _feed(consumer, record(0, 0), record(0, 1))
        await asyncio.sleep(0.01)
        assert kafka.commits == []
        await _feed(consumer, record(0, 2))
        for _ in range(100):
            if kafka.commits:
                break
            await asyncio.sleep(0.01)
        assert kafka.commits == [{P0: 3}]
    finally:
        committing.cancel()


# -- RecordConsumer in batches -----------------------------------------------------------------


class FakeFetches(FakeKafka):
    """Also hands out records: each getmany returns the next scripted fetch (then nothing)."""

    def __init__(self, *fetches: dict[TopicPartition, list[Record]]) -> None:
        super().__init__()
        self.fetches = list(fetches)
        self.asked: list[int] = []

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        self.asked.append(max_records)
        if self.fetches:
            return self.fetches.pop(0)
        await asyncio.sleep(timeout_ms / 1000)
        return {}


class Batches:
    """A batch handler: records every batch; ``gate`` (when set) holds it until released."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[int, int]]] = []
        self.gate: asyncio.Event | None = None
        self.failures = 0

    async def __call__(self, records: list[Record]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database down")
        self.batches.append([(r.partition, r.offset) for r in records])


async def _batching(
    batches: Batches, kafka: FakeFetches, *, max_records: int = 3, within_s: float = 0.05, **kw: Any
) -> RecordConsumer:
    consumer = RecordConsumer(
        "unused:9092",
        "group",
        [TOPIC],
        None,
        batch=Batching(batches, max_records, within_s),
        poll_timeout_s=0.01,
        commit_every=1000,
        **kw,
    )
    consumer._consumer = kafka
    await consumer.on_partitions_assigned([P0, P1])
    return consumer


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out")


def test_either_a_record_handler_or_a_batch_handler() -> None:
    with pytest.raises(ValueError):
        RecordConsumer("unused:9092", "group", [TOPIC], None)
    with pytest.raises(ValueError):
        RecordConsumer("unused:9092", "group", [TOPIC], Script(), batch=Batching(Batches()))


async def test_a_batch_is_up_to_max_records_across_fetches_and_partitions() -> None:
    batches = Batches()
    kafka = FakeFetches(
        {P0: [record(0, 0)]},
        {P1: [record(1, 0)], P0: [record(0, 1)]},
        {P0: [record(0, 2)]},
    )
    consumer = await _batching(batches, kafka, within_s=10)
    polling = asyncio.create_task(consumer._poll_batches(consumer._batch))  # type: ignore[arg-type]
    try:
        # Full at three records: handled at once, not after within_s (10 s).
        await _until(lambda: len(batches.batches) == 1)
        await _until(lambda: len(kafka.asked) >= 3)
    finally:
        polling.cancel()
    assert batches.batches == [[(0, 0), (1, 0), (0, 1)]]
    # Each fetch asks for what the batch still has room for; the next batch starts afresh.
    assert kafka.asked[:3] == [3, 2, 3]
    await consumer.commit()
    assert kafka.commits == [{P0: 2, P1: 1}]


async def test_a_batch_that_is_not_full_goes_after_within_s() -> None:
    batches = Batches()
    consumer = await _batching(batches, FakeFetches({P0: [record(0, 0)]}), within_s=0.05)
    polling = asyncio.create_task(consumer._poll_batches(consumer._batch))  # type: ignore[arg-type]
    try:
        await _until(lambda: bool(batches.batches))
    finally:
        polling.cancel()
    assert batches.batches == [[(0, 0)]]


async def test_a_batch_is_committed_only_once_its_handler_returned() -> None:
    batches = Batches()
    batches.gate = asyncio.Event()
    kafka = FakeFetches({P0: [record(0, 0), record(0, 1)]})
    consumer = await _batching(batches, kafka)
    polling = asyncio.create_task(consumer._poll_batches(consumer._batch))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.1)  # the batch is being written
        await consumer.commit()
        assert kafka.commits == []
        batches.gate.set()
        await _until(lambda: bool(batches.batches))
        await consumer.commit()
        assert kafka.commits == [{P0: 2}]
    finally:
        polling.cancel()


async def test_a_failing_batch_is_handled_again_never_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_flight_during_pauses: list[int] = []

    async def no_wait(_: float) -> None:
        # A batch waiting to be tried again (a database outage) is in flight, not a stall.
        in_flight_during_pauses.append(len(consumer.handling))

    batches = Batches()
    batches.failures = 2
    kafka = FakeFetches()
    consumer = await _batching(batches, kafka)
    monkeypatch.setattr("shared.record_consumer.asyncio.sleep", no_wait)
    p0 = consumer._partitions[P0]
    await consumer._handle_batch(consumer._batch, [(p0, record(0, 4))])  # type: ignore[arg-type]
    assert batches.batches == [[(0, 4)]]
    assert in_flight_during_pauses == [1, 1]
    assert len(consumer.handling) == 0
    await consumer.commit()
    assert kafka.commits == [{P0: 5}]


async def test_stop_during_a_batch_cancels_it_uncommitted() -> None:
    batches = Batches()
    batches.gate = asyncio.Event()
    kafka = FakeFetches({P0: [record(0, 0)]})
    consumer = await _batching(batches, kafka)
    consumer._tasks = [asyncio.create_task(consumer._poll_batches(consumer._batch))]  # type: ignore[arg-type]
    await asyncio.sleep(0.1)
    await consumer.stop()
    assert batches.batches == [] and kafka.commits == []


async def test_revocation_waits_for_the_batch_commits_it_then_calls_on_revoked() -> None:
    events: list[str] = []
    batches = Batches()
    batches.gate = asyncio.Event()
    kafka = FakeFetches({P0: [record(0, 0)], P1: [record(1, 7)]})

    async def on_revoked(revoked: set[TopicPartition]) -> None:
        events.append(f"revoked {sorted(tp.partition for tp in revoked)} after {kafka.commits}")

    consumer = await _batching(batches, kafka, on_revoked=on_revoked)
    polling = asyncio.create_task(consumer._poll_batches(consumer._batch))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.1)  # the batch is being written
        revoking = asyncio.create_task(consumer.on_partitions_revoked([P0, P1]))
        await asyncio.sleep(0.05)
        assert not revoking.done() and events == [] and consumer.rebalancing
        batches.gate.set()
        await revoking
        assert events == ["revoked [0, 1] after [{" + f"{P0!r}: 1, {P1!r}: 8" + "}]"]
        assert consumer.assignment() == set() and not consumer.ready
    finally:
        polling.cancel()


async def test_records_of_a_partition_revoked_while_the_batch_gathered_are_dropped() -> None:
    batches = Batches()
    consumer = await _batching(batches, FakeFetches())
    batch = [(consumer._partitions[P0], record(0, 0)), (consumer._partitions[P1], record(1, 0))]
    await consumer.on_partitions_revoked([P0])
    await consumer._handle_batch(consumer._batch, batch)  # type: ignore[arg-type]
    assert batches.batches == [[(1, 0)]]
    # Assigned again: fresh bookkeeping, reading resumes at the committed offsets, so nothing
    # fetched before counts (it is fetched again).
    await consumer.on_partitions_assigned([P0, P1])
    await consumer._handle_batch(consumer._batch, batch)  # type: ignore[arg-type]
    assert batches.batches == [[(1, 0)]]
