"""What every work stage (extractor, analyzer) says when a document ends badly with it, or
when a record is not a document at all: one place, the same events and metrics for both."""

from __future__ import annotations

import logging

from prometheus_client import Counter

from shared.events import DocumentCancelled, DocumentFailed, Envelope, FailedData, derive
from shared.kafka import EventProducer
from shared.reasons import ReasonCode
from shared.topics import Topics

log = logging.getLogger(__name__)


class StageOutcomes:
    def __init__(
        self,
        *,
        stage: str,
        source: str,
        input_topic: str,
        topics: Topics,
        producer: EventProducer,
        documents: Counter,
        dead_letters: Counter,
    ) -> None:
        self.stage = stage
        self.source = source
        self.input_topic = input_topic
        self.topics = topics
        self.producer = producer
        self._documents = documents
        self._dead_letters = dead_letters

    async def failed(self, work: Envelope, reason: ReasonCode, message: str) -> None:
        self._documents.labels("failed", reason.value).inc()
        log.info(
            f"{self.stage} failed",
            extra={"document_id": work.subject, "reason": reason.value, "detail": message},
        )
        data = FailedData(stage=self.stage, reason=reason, message=message)
        await self.producer.send(
            self.topics.events, derive(work, DocumentFailed, source=self.source, data=data)
        )

    async def cancelled(self, work: Envelope) -> None:
        self._documents.labels("cancelled", "").inc()
        await self.producer.send(
            self.topics.events, derive(work, DocumentCancelled, source=self.source)
        )

    async def dead_letter(
        self, key: bytes | None, value: bytes, error: str, partition: int, offset: int
    ) -> None:
        """Park a record on ``<input>.dlt`` with why and where from, for operators to replay."""
        self._dead_letters.inc()
        log.warning(
            "record dead-lettered",
            extra={
                "topic": self.input_topic,
                "partition": partition,
                "offset": offset,
                "error": error[:200],
            },
        )
        await self.producer.dead_letter(
            self.topics.dead_letter(self.input_topic),
            key,
            value,
            error=error,
            source=self.input_topic,
            partition=partition,
            offset=offset,
        )
