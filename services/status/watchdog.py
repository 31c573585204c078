"""The stalled-document watchdog: nothing stays in flight for ever.

Every sweep looks at the in-flight documents of the partitions this replica folds (a
document's events all land on one partition, and its read-model position says which), so
replicas never act on the same document. A document with no new event for longer than its
stage's deadline is re-driven: ``document.redriven`` on documents.events, then the stage's work
record again, as a new attempt of the same generation. The stages are idempotent, so a
re-drive of work that was merely slow costs time, never correctness. After ``max_redrives`` the
document fails with reason ``stalled``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from services.status import metrics
from services.status.fold import TERMINAL
from services.status.settings import StatusSettings
from shared.blobs import document_blob_key
from shared.events import (
    BlobRef,
    DocumentExtracted,
    DocumentFailed,
    DocumentRedriven,
    DocumentUploaded,
    Envelope,
    ExtractedData,
    ExtractionMetadata,
    FailedData,
    RedrivenData,
    UploadedData,
    UploadOptions,
)
from shared.kafka import EventProducer
from shared.readmodel import DOCUMENTS, INFLIGHT
from shared.reasons import ReasonCode

log = logging.getLogger(__name__)
SOURCE = "/docstream/status"
_EXTRACTION_STATUSES = {"queued", "extracting"}


class Watchdog:
    def __init__(
        self,
        settings: StatusSettings,
        producer: EventProducer,
        database: Callable[[], Any],
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.producer = producer
        self._database = database
        self._now = now

    def deadline_s(self, status: str) -> float:
        s = self.settings
        if status == "queued":
            return s.stall_queued_s
        if status == "extracting":
            return s.stall_extraction_s
        return s.stall_analysis_s

    async def sweep(self, lags: dict[int, int | None]) -> int:
        """Act on the stalled documents of the partitions in ``lags`` (partition: how far
        the fold is behind its log, None if unknown); returns how many. Never raises: a
        failed sweep is logged and the next one tries again."""
        try:
            return await self._sweep(lags)
        except Exception:
            log.exception("watchdog sweep failed")
            return 0

    async def _sweep(self, lags: dict[int, int | None]) -> int:
        current = set()
        for partition, lag in lags.items():
            if lag is None or lag > self.settings.watchdog_max_lag:
                metrics.WATCHDOG_SKIPPED.inc()
                continue
            current.add(partition)
        if not current:
            return 0
        now = self._now()
        shortest = min(
            self.settings.stall_queued_s,
            self.settings.stall_extraction_s,
            self.settings.stall_analysis_s,
        )
        cutoff = now - timedelta(seconds=shortest)
        db = self._database()
        # The in-flight markers are few (documents not finished yet), unlike documents.
        markers = db[INFLIGHT].find({"partition": {"$in": sorted(current)}})
        acted = 0
        async for marker in markers:
            if _aware(marker["updated_at"]) >= cutoff:
                continue
            doc = await db[DOCUMENTS].find_one({"_id": marker["_id"]})
            if doc is None or doc.get("status") in TERMINAL:
                # A marker a crash left behind after its document finished (or was deleted).
                await db[INFLIGHT].delete_one({"_id": marker["_id"]})
                continue
            status = str(doc.get("status"))
            stalled_s = (now - _aware(doc["updated_at"])).total_seconds()
            if stalled_s < self.deadline_s(status):
                continue
            await self._act(doc, status, stalled_s)
            acted += 1
        return acted

    async def _act(self, doc: dict[str, Any], status: str, stalled_s: float) -> None:
        options = UploadOptions.model_validate(doc.get("options") or {})
        extraction = status in _EXTRACTION_STATUSES or not options.analyze
        stage = "extraction" if extraction else "analysis"
        redrives = int(doc.get("redrives", 0))
        why = f"no progress for {stalled_s:.0f}s while {status}"
        if redrives >= self.settings.max_redrives:
            await self._fail(doc, stage, f"{why}; gave up after {redrives} re-drives")
            return
        if stage == "extraction" and doc.get("password_given"):
            # The password rode only on the work record; asking again without it would fail
            # as 'encrypted', which is not what happened.
            await self._fail(doc, stage, f"{why}; an encrypted upload cannot be re-driven")
            return
        try:
            work = self._work_record(doc, stage, options)
        except (ValidationError, KeyError, TypeError, ValueError) as exc:
            await self._fail(doc, stage, f"{why}; its work cannot be rebuilt ({exc!r:.120})")
            return
        redriven = DocumentRedriven(
            **_common(doc),
            data=RedrivenData(
                stage=stage, attempt=redrives + 2, stalled_s=round(stalled_s, 1), status=status
            ),
        )
        topics = self.settings.topics
        work_topic = topics.uploaded if stage == "extraction" else topics.extracted
        # The re-drive is on the document's record before its work: causality on the log.
        await self.producer.send(topics.events, redriven)
        await self.producer.send(work_topic, work)
        metrics.REDRIVES.labels(stage).inc()
        log.warning(
            "stalled document re-driven",
            extra={"document_id": doc["_id"], "stage": stage, "attempt": redrives + 2, "why": why},
        )

    def _work_record(self, doc: dict[str, Any], stage: str, options: UploadOptions) -> Envelope:
        document_id = str(doc["_id"])
        if stage == "extraction":
            return DocumentUploaded(
                **_common(doc),
                data=UploadedData(
                    filename=str(doc.get("filename") or "document"),
                    content_type=doc.get("content_type"),
                    blob=BlobRef(
                        key=document_blob_key(document_id, "original"),
                        size=int(doc.get("size", 0)),
                        sha256=doc.get("sha256"),
                    ),
                    options=options,
                ),
            )
        return DocumentExtracted(
            **_common(doc),
            data=ExtractedData(
                metadata=ExtractionMetadata.model_validate(doc["extraction"]),
                text_blob=BlobRef.model_validate(doc["text_blob"]),
                options=options,
            ),
        )

    async def _fail(self, doc: dict[str, Any], stage: str, message: str) -> None:
        failed = DocumentFailed(
            **_common(doc),
            data=FailedData(stage=stage, reason=ReasonCode.STALLED, message=message),
        )
        await self.producer.send(self.settings.topics.events, failed)
        metrics.STALLED.labels(stage).inc()
        log.warning("stalled document failed", extra={"document_id": doc["_id"], "why": message})


def _common(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "subject": str(doc["_id"]),
        "owner": str(doc["owner"]),
        "generation": int(doc.get("generation", 1)),
    }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
