"""An upload whose publish did not fully land is answered 503 and then undone: whatever
reached the queue is withdrawn and the blob goes, so nothing stays half-done."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError

from services.ingest.errors import ApiError
from services.ingest.publishing import Publisher
from shared.blobs import LocalBlobStore
from shared.events import (
    AcceptedData,
    BlobRef,
    DocumentAccepted,
    DocumentUploaded,
    Envelope,
    UploadedData,
)
from shared.reasons import ReasonCode
from shared.topics import Topics
from tests.shared.test_stage import RecordingProducer

TOPICS = Topics("p.")


class QueueingProducer(RecordingProducer):
    """Each enqueued record gets the outcome the test scripted for its topic."""

    def __init__(self, outcomes: dict[str, str]) -> None:
        super().__init__()
        self.outcomes = outcomes
        self.late: list[asyncio.Future[Any]] = []

    async def enqueue(self, topic: str, event: Envelope) -> asyncio.Future[Any] | None:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        outcome = self.outcomes[topic]
        if outcome == "ok":
            future.set_result(None)
        elif outcome == "error":
            future.set_exception(KafkaTimeoutError())
        else:  # "late": lands after the answer was given
            self.late.append(future)
        return future

    async def send_many(self, records: list[tuple[str, Envelope]]) -> None:
        self.sent.extend(records)


def _records() -> list[tuple[str, Envelope]]:
    common: dict[str, Any] = {"source": "/t", "subject": "d1", "owner": "alice", "generation": 1}
    return [
        (
            TOPICS.events,
            DocumentAccepted(**common, data=AcceptedData(filename="f", size=1, sha256="s")),
        ),
        (
            TOPICS.uploaded,
            DocumentUploaded(
                **common,
                data=UploadedData(filename="f", blob=BlobRef(key="documents/d1/original", size=1)),
            ),
        ),
    ]


async def _publish(
    tmp_path: Path, outcomes: dict[str, str]
) -> tuple[QueueingProducer, LocalBlobStore, Publisher]:
    blobs = LocalBlobStore(tmp_path)
    await blobs.write_bytes("documents/d1/original", b"x")
    producer = QueueingProducer(outcomes)
    publisher = Publisher(producer, TOPICS, blobs, timeout_s=0.2, cleanup_for_s=5)  # type: ignore[arg-type]
    return producer, blobs, publisher


async def test_all_landed_is_a_plain_success(tmp_path: Path) -> None:
    producer, blobs, publisher = await _publish(
        tmp_path, {TOPICS.events: "ok", TOPICS.uploaded: "ok"}
    )
    await publisher.publish(_records(), blob_key="documents/d1/original")
    assert producer.sent == []
    assert await blobs.exists("documents/d1/original")


async def test_accepted_without_its_work_is_failed_and_the_blob_deleted(tmp_path: Path) -> None:
    producer, blobs, publisher = await _publish(
        tmp_path, {TOPICS.events: "ok", TOPICS.uploaded: "error"}
    )
    with pytest.raises(ApiError) as refused:
        await publisher.publish(_records(), blob_key="documents/d1/original")
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": "5"}
    await publisher.close()
    [(topic, failed)] = producer.sent
    assert topic == TOPICS.events
    assert failed.type == "document.failed"
    assert failed.data.reason == ReasonCode.NOT_QUEUED  # type: ignore[attr-defined]
    assert not await blobs.exists("documents/d1/original")


async def test_a_work_record_that_lands_after_the_503_is_cancelled(tmp_path: Path) -> None:
    producer, blobs, publisher = await _publish(
        tmp_path, {TOPICS.events: "ok", TOPICS.uploaded: "late"}
    )
    with pytest.raises(ApiError):
        await publisher.publish(_records(), blob_key="documents/d1/original")
    producer.late[0].set_result(None)  # the timed-out send lands after all
    await publisher.close()
    types = sorted((topic, event.type) for topic, event in producer.sent)
    assert types == [
        (TOPICS.commands, "document.cancel_requested"),
        (TOPICS.events, "document.failed"),
    ]
    assert not await blobs.exists("documents/d1/original")


async def test_nothing_landed_leaves_nothing(tmp_path: Path) -> None:
    producer, blobs, publisher = await _publish(
        tmp_path, {TOPICS.events: "error", TOPICS.uploaded: "error"}
    )
    with pytest.raises(ApiError):
        await publisher.publish(_records(), blob_key="documents/d1/original")
    await publisher.close()
    assert producer.sent == []
    assert not await blobs.exists("documents/d1/original")
