"""The group consumer's bookkeeping: per partition, commit up to the first record still
unfinished (records finish out of order). Without a broker: a stand-in for aiokafka's consumer
takes the commits; tests/webhooks/test_consumer.py does the same on the real Kafka."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from shared.record_consumer import PartitionOffsets, Record, RecordConsumer

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
