"""The one failure policy of the work stages: every record ends in exactly one outcome."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from prometheus_client import CollectorRegistry, Counter
from pymongo.errors import AutoReconnect

from shared.events import (
    BlobRef,
    DocumentUploaded,
    Envelope,
    ExtractionProgressed,
    ExtractionStarted,
    ProgressData,
    UploadedData,
    decode,
    derive,
    encode,
)
from shared.reasons import ReasonCode
from shared.stage import (
    Attempt,
    HeldStart,
    RetryPolicy,
    Stage,
    StageCancelled,
    StageFailure,
    StageMetrics,
    is_transient,
)
from shared.topics import Topics

TOPICS = Topics("t.")


class RecordingProducer:
    """Keeps what a stage publishes; no broker needed for the policy itself."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Envelope]] = []
        self.dead: list[tuple[str, bytes | None, str]] = []
        #: The types of each request's records, in the order sent.
        self.batches: list[list[str]] = []
        self.ack_s = 0.0

    async def send(self, topic: str, event: Envelope) -> None:
        self.sent.append((topic, event))
        self.batches.append([event.type])

    async def send_many(self, records: list[tuple[str, Envelope]]) -> None:
        await asyncio.sleep(self.ack_s)  # the broker's acknowledgement
        self.sent.extend(records)
        self.batches.append([event.type for _, event in records])

    async def dead_letter(
        self, topic: str, key: bytes | None, value: bytes | None, *, error: str, **_: Any
    ) -> None:
        self.dead.append((topic, value, error))

    def types(self) -> list[str]:
        return [event.type for _, event in self.sent]


def _metrics() -> StageMetrics:
    registry = CollectorRegistry()
    return StageMetrics(
        Counter("docs", "d", ["outcome", "reason"], registry=registry),
        Counter("dead", "d", registry=registry),
        Counter("retries", "d", ["error"], registry=registry),
    )


def _work() -> bytes:
    event = DocumentUploaded(
        source="/test",
        subject="doc-1",
        owner="alice",
        generation=1,
        data=UploadedData(filename="a.txt", blob=BlobRef(key="k", size=1)),
    )
    return encode(event)


def _stage(handler: Any, *, cancelled: bool = False) -> tuple[Stage[Any], RecordingProducer]:
    producer = RecordingProducer()
    stage: Stage[Any] = Stage(
        stage="extraction",
        source="/test",
        input_topic=TOPICS.uploaded,
        work_type=DocumentUploaded,
        topics=TOPICS,
        producer=producer,  # type: ignore[arg-type]
        metrics=_metrics(),
        handler=handler,
        is_cancelled=lambda _doc, _gen: cancelled,
        retry=RetryPolicy(attempts=3, base_s=0.001, max_s=0.002),
    )
    return stage, producer


async def test_a_bug_in_the_handler_fails_the_document_instead_of_losing_it() -> None:
    async def handler(work: DocumentUploaded, attempt: Attempt) -> None:
        raise KeyError("a bug of ours")

    stage, producer = _stage(handler)
    await stage.handle(b"doc-1", _work(), 0, 7)
    assert producer.types() == ["document.failed"]
    failed = producer.sent[0][1]
    assert failed.data.reason == ReasonCode.INTERNAL  # type: ignore[attr-defined]
    assert producer.sent[0][0] == TOPICS.events
    assert producer.dead == []  # the input was fine: nothing to replay


async def test_a_transient_error_is_retried_and_then_succeeds() -> None:
    calls = []

    async def handler(work: DocumentUploaded, attempt: Attempt) -> None:
        calls.append(attempt.number)
        if attempt.number == 1:
            raise OSError(28, "No space left on device")  # a blob write that failed once

    stage, producer = _stage(handler)
    await stage.handle(b"doc-1", _work(), 0, 7)
    assert calls == [1, 2]
    assert producer.sent == []  # the handler sends its own completion; no failure event


async def test_a_transient_error_that_never_clears_fails_and_parks_the_record() -> None:
    async def handler(work: DocumentUploaded, attempt: Attempt) -> None:
        raise AutoReconnect("database down")

    stage, producer = _stage(handler)
    work = _work()
    await stage.handle(b"doc-1", work, 0, 7)
    assert producer.types() == ["document.failed"]
    assert "gave up after 3 attempts" in producer.sent[0][1].data.message  # type: ignore[attr-defined]
    assert [topic for topic, _, _ in producer.dead] == [TOPICS.dead_letter(TOPICS.uploaded)]
    assert producer.dead[0][1] == work  # the record as it came, for a replay


async def test_a_known_failure_is_told_with_its_reason_and_dead_lettered_when_asked() -> None:
    async def handler(work: DocumentUploaded, attempt: Attempt) -> None:
        raise StageFailure(ReasonCode.RATE_LIMITED, "quota", dead_letter=True)

    stage, producer = _stage(handler)
    await stage.handle(b"doc-1", _work(), 0, 7)
    assert producer.types() == ["document.failed"]
    assert producer.sent[0][1].data.reason == ReasonCode.RATE_LIMITED  # type: ignore[attr-defined]
    assert len(producer.dead) == 1


async def test_cancelled_before_or_during_the_work() -> None:
    async def never(work: DocumentUploaded, attempt: Attempt) -> None:
        raise AssertionError("a cancelled document must not be worked on")

    stage, producer = _stage(never, cancelled=True)
    await stage.handle(b"doc-1", _work(), 0, 7)
    assert producer.types() == ["document.cancelled"]

    async def during(work: DocumentUploaded, attempt: Attempt) -> None:
        raise StageCancelled()

    stage, producer = _stage(during)
    await stage.handle(b"doc-1", _work(), 0, 7)
    assert producer.types() == ["document.cancelled"]


async def test_a_record_that_is_not_a_document_is_dead_lettered() -> None:
    async def never(work: DocumentUploaded, attempt: Attempt) -> None:
        raise AssertionError("not a document")

    stage, producer = _stage(never)
    await stage.handle(None, b"{not json", 1, 3)
    assert producer.sent == []
    assert len(producer.dead) == 1


async def test_announced_events_are_confirmed_before_the_terminal_one() -> None:
    order: list[str] = []

    class Announced:
        async def confirm(self) -> None:
            order.append("started confirmed")

    async def handler(work: DocumentUploaded, attempt: Attempt) -> None:
        attempt.track(Announced())  # type: ignore[arg-type]
        raise StageFailure(ReasonCode.CORRUPT, "broken")

    stage, producer = _stage(handler)
    original_send = producer.send

    async def send(topic: str, event: Envelope) -> None:
        order.append(event.type)
        await original_send(topic, event)

    producer.send = send  # type: ignore[method-assign]
    await stage.handle(b"doc-1", _work(), 0, 7)
    assert order == ["started confirmed", "document.failed"]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (KafkaConnectionError(), True),
        (AutoReconnect(), True),
        (OSError(5, "I/O error"), True),
        (FileNotFoundError(), False),
        (KeyError("x"), False),
        (ValueError("x"), False),
    ],
)
def test_what_counts_as_transient(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_the_work_record_round_trips() -> None:
    assert decode(_work()).subject == "doc-1"


def _started(producer: RecordingProducer, hold_s: float) -> HeldStart:
    event = decode(_work())
    return HeldStart(
        producer,  # type: ignore[arg-type]
        TOPICS.events,
        derive(event, ExtractionStarted, source="/test"),
        hold_s=hold_s,
    )


async def test_a_held_start_goes_in_one_batch_with_what_follows_it_quickly() -> None:
    producer = RecordingProducer()
    start = _started(producer, hold_s=0.5)
    await asyncio.sleep(0.05)
    assert producer.batches == []  # held
    lead = await start.take()
    assert [e.type for _, e in lead] == ["extraction.started"]
    await producer.send_many([*lead, (TOPICS.events, _progress())])
    await asyncio.sleep(0.6)  # past the hold: nothing more goes
    await start.flush()
    assert producer.batches == [["extraction.started", "extraction.progressed"]]


async def test_a_held_start_is_sent_alone_once_its_hold_is_over_and_before_what_follows() -> None:
    producer = RecordingProducer()
    producer.ack_s = 0.2
    start = _started(producer, hold_s=0.05)
    await asyncio.sleep(0.1)  # the hold is over: its send is under way, not acknowledged
    assert await start.take() == []  # waited for that acknowledgement
    assert producer.batches == [["extraction.started"]]
    assert _started(producer, hold_s=0) is not None  # 0: sent at once
    await asyncio.sleep(0.25)
    assert producer.batches == [["extraction.started"], ["extraction.started"]]


async def test_a_caller_cancelled_while_a_held_start_is_sent_does_not_cancel_the_send() -> None:
    producer = RecordingProducer()
    producer.ack_s = 0.2
    start = _started(producer, hold_s=0.01)
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(start.take())
    await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.sleep(0.3)
    assert producer.batches == [["extraction.started"]]


@pytest.mark.parametrize(
    ("raised", "end"),
    [
        (StageFailure(ReasonCode.CORRUPT, "broken"), "document.failed"),
        (StageCancelled(), "document.cancelled"),
    ],
)
async def test_a_held_start_is_sent_before_a_failure_or_a_cancellation(
    raised: Exception, end: str
) -> None:
    async def handler(work: DocumentUploaded, attempt: Attempt) -> None:
        attempt.hold(
            HeldStart(
                stage.producer,
                TOPICS.events,
                derive(work, ExtractionStarted, source="/test"),
                hold_s=10.0,
            )
        )
        raise raised

    stage, producer = _stage(handler)
    await stage.handle(b"doc-1", _work(), 0, 7)
    assert producer.types() == ["extraction.started", end]


def _progress() -> Envelope:
    data = ProgressData(stage="extraction", done=1, total=2)
    return derive(decode(_work()), ExtractionProgressed, source="/test", data=data)


async def test_a_held_start_whose_own_send_failed_is_handed_back_to_be_sent_again() -> None:
    """As an announced event is re-sent when its send failed (Pending.confirm), a held start
    sent on its own that the broker refused goes first in the caller's batch, not lost."""

    class Refusing(RecordingProducer):
        async def send_many(self, records: list[tuple[str, Envelope]]) -> None:
            if not self.batches:
                self.batches.append(["refused"])
                raise KafkaConnectionError()
            await super().send_many(records)

    producer = Refusing()
    start = _started(producer, hold_s=0.01)
    await asyncio.sleep(0.05)  # its own send was tried and failed
    lead = await start.take()
    assert [e.type for _, e in lead] == ["extraction.started"]
    await start.flush()  # handed over once: nothing more to send
    assert producer.batches == [["refused"]]
