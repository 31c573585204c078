"""The status agent's batch writer: a batch returns only once it is in the read model, or its
poison document is parked; lost races and database errors wait, they never skip events."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord
from pymongo.errors import AutoReconnect

from services.status.agent import BatchWriter, FoldProgress
from services.status.settings import StatusSettings
from services.status.store import WriteConflictError
from shared.events import AcceptedData, DocumentAccepted, encode
from shared.record_consumer import Record
from tests.shared.test_stage import RecordingProducer

SETTINGS = StatusSettings(auth_secret="x" * 32, topic_prefix="t.", poison_attempts=3)


def _record(key: bytes, value: bytes, partition: int, offset: int) -> Record:
    """A record as the consumer hands it over (aiokafka's ConsumerRecord)."""
    return ConsumerRecord(
        "t.documents.events", partition, offset, 0, 0, key, value, None, len(key), len(value), []
    )


def _batch(*docs: str) -> list[Record]:
    return [
        _record(
            d.encode(),
            encode(
                DocumentAccepted(
                    source="/t",
                    subject=d,
                    owner="alice",
                    generation=1,
                    data=AcceptedData(filename="f", size=1, sha256="s"),
                )
            ),
            0,
            i,
        )
        for i, d in enumerate(docs)
    ]


class FlakyStore:
    def __init__(self, failures: list[Exception], poison: str | None = None) -> None:
        self.failures = failures
        self.poison = poison
        self.applied: list[str] = []

    async def apply(self, document_id: str, events: Any) -> None:
        if document_id == self.poison:
            raise KeyError("a bug in the fold")
        if self.failures:
            raise self.failures.pop(0)
        self.applied.append(document_id)


async def test_lost_races_and_database_errors_are_waited_out_not_skipped() -> None:
    store = FlakyStore([WriteConflictError("lost"), AutoReconnect("down"), RuntimeError("x")])
    writer = BatchWriter(store, RecordingProducer(), SETTINGS)  # type: ignore[arg-type]
    await writer.write(_batch("a"))
    assert store.applied == ["a"]


async def test_a_poison_document_is_parked_and_the_others_are_written() -> None:
    store = FlakyStore([], poison="bad")
    producer = RecordingProducer()
    writer = BatchWriter(store, producer, SETTINGS)  # type: ignore[arg-type]
    await writer.write(_batch("good", "bad"))
    assert store.applied == ["good"]
    assert [topic for topic, _, _ in producer.dead] == ["t.documents.events.dlt"]
    assert "a bug in the fold" in producer.dead[0][2]


def test_fold_progress_judges_a_partition_only_once_it_is_known() -> None:
    progress = FoldProgress()
    assert progress.lags({0: 10}) == {0: None}  # just assigned: unknown
    assert progress.lags({0: 10}) == {0: 0}  # held and quiet since
    progress.folded(0, 4)
    assert progress.lags({0: 10}) == {0: 5}
    assert progress.lags({1: 3}) == {1: None}  # a new partition, the old one gone
    assert progress.lags({0: 10, 1: 3}) == {0: None, 1: 0}  # 0 came back: stale, unknown
