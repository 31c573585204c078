"""Publishing a command's records, and cleaning up after a publish that did not fully land.

An upload is two records: ``document.accepted`` on documents.events (so the read model and
watchers know the document), then the work on documents.uploaded. Kafka has no atomic write
across topics without transactions, so a broker that fails between or during the two sends
can leave one without the other, or leave the outcome unknown when the answer is late (a
timed-out send is not withdrawn: the record may still land after we answered 503).

So the client is answered 503 at once, and a background task waits for every send to settle
and then undoes what landed: a document whose ``document.accepted`` landed is failed with
reason ``not_queued``; a work record that landed is cancelled (a cancel command, which the
extractor checks before it reads the blob), and the blob is deleted. The stalled-document
watchdog is the last line behind this, for an ingest that dies in the middle of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka.errors import KafkaError

from services.ingest import metrics
from services.ingest.errors import ApiError
from shared.blobs import BlobStore
from shared.events import (
    CancelRequested,
    DocumentAccepted,
    DocumentFailed,
    Envelope,
    FailedData,
    derive,
)
from shared.kafka import EventProducer
from shared.reasons import ReasonCode
from shared.topics import Topics

log = logging.getLogger(__name__)
SOURCE = "/docstream/ingest"


def unavailable() -> ApiError:
    return ApiError(
        503,
        "queue_unavailable",
        "the queue is unavailable; try again",
        headers={"Retry-After": "5"},
    )


class Publisher:
    def __init__(
        self,
        producer: EventProducer,
        topics: Topics,
        blobs: BlobStore,
        *,
        timeout_s: float,
        cleanup_for_s: float = 600.0,
    ) -> None:
        self.producer = producer
        self.topics = topics
        self.blobs = blobs
        self.timeout_s = timeout_s
        self.cleanup_for_s = cleanup_for_s
        self._cleanups: set[asyncio.Task[None]] = set()

    async def publish(
        self, records: Sequence[tuple[str, Envelope]], *, blob_key: str | None = None
    ) -> None:
        """All records durable within the timeout, or ApiError 503 and a cleanup under way."""
        futures: list[asyncio.Future[Any] | None] = []
        for topic, event in records:
            futures.append(await self.producer.enqueue(topic, event))
        pending = [f for f in futures if f is not None]
        if len(pending) == len(futures):
            done, _ = await asyncio.wait(pending, timeout=self.timeout_s)
            if len(done) == len(pending) and all(f.exception() is None for f in done):
                return
        metrics.PUBLISH_FAILURES.inc()
        task = asyncio.create_task(self._undo(records, futures, blob_key))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
        raise unavailable()

    async def _undo(
        self,
        records: Sequence[tuple[str, Envelope]],
        futures: list[asyncio.Future[Any] | None],
        blob_key: str | None,
    ) -> None:
        landed = []
        for (topic, event), future in zip(records, futures, strict=True):
            if future is None:
                continue
            try:
                # Settles within the producer's request timeout; one that never does is
                # treated as landed: undoing a record that never arrived is harmless.
                await asyncio.wait_for(asyncio.shield(future), self.cleanup_for_s)
            except KafkaError:
                continue
            except TimeoutError:
                pass
            landed.append((topic, event))
        undo: list[tuple[str, Envelope]] = []
        for topic, event in landed:
            if isinstance(event, DocumentAccepted):
                data = FailedData(
                    stage="upload",
                    reason=ReasonCode.NOT_QUEUED,
                    message="the queue failed while the upload was answered 503; upload again",
                )
                undo.append(
                    (self.topics.events, derive(event, DocumentFailed, source=SOURCE, data=data))
                )
            elif topic != self.topics.events:  # a work record: the stages must not take it
                undo.append((self.topics.commands, derive(event, CancelRequested, source=SOURCE)))
        if undo:
            await self._send_until(undo)
        if blob_key is not None:
            await self.blobs.delete(blob_key)
        log.warning(
            "publish undone",
            extra={
                "document_id": records[0][1].subject if records else None,
                "landed": len(landed),
                "undone": len(undo),
            },
        )

    async def _send_until(self, records: list[tuple[str, Envelope]]) -> None:
        deadline = asyncio.get_running_loop().time() + self.cleanup_for_s
        delay = 0.5
        while True:
            try:
                await self.producer.send_many(records)
                return
            except KafkaError as exc:
                if asyncio.get_running_loop().time() > deadline:
                    # The watchdog ends the document (queued for ever is not an option).
                    log.error("could not undo a publish", extra={"error": repr(exc)})
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def close(self) -> None:
        """Give the cleanups under way a moment to finish before the producer stops."""
        if self._cleanups:
            await asyncio.wait(set(self._cleanups), timeout=5.0)
