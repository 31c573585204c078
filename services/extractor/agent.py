"""The extractor agent: documents.uploaded in; lifecycle events and documents.extracted out.

Per document, in this order (each awaited, so causality holds on documents.events):
extraction.started -> extraction.progressed... -> extraction.completed, then the work record
for the analyzer; or document.failed / document.cancelled. The input offset is acknowledged
only after that, so a crash replays the document (at-least-once; the status fold is
idempotent).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable

from fastapi import FastAPI

from services.extractor import metrics
from services.extractor.extraction import (
    ExtractionCancelled,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
    ExtractorPool,
)
from services.extractor.progress import ProgressReporter
from services.extractor.settings import ExtractorSettings
from shared.blobs import BlobStore, document_blob_key, open_blob_store
from shared.cancellation import CancelRegistry
from shared.events import (
    DocumentCompleted,
    DocumentExtracted,
    DocumentUploaded,
    Envelope,
    ExtractedData,
    ExtractionCompleted,
    ExtractionCompletedData,
    ExtractionProgressed,
    ExtractionStarted,
    ProgressData,
    derive,
    encode,
)
from shared.kafka import EventProducer
from shared.passwords import UnreadablePasswordError, opened_password
from shared.reasons import ReasonCode
from shared.stage import (
    Attempt,
    HeldStart,
    Stage,
    StageCancelled,
    StageFailure,
    StageMetrics,
    TransientError,
)
from shared.work_service import Resources, create_app, producer_for

log = logging.getLogger(__name__)
SOURCE = "/docstream/extractor"
#: Kafka refuses records over ~1 MB by default; stay well under it.
MAX_RECORD_BYTES = 900_000


def build(settings: ExtractorSettings) -> FastAPI:
    producer = producer_for("extractor", settings)
    resources = Resources()
    resources.add(producer.start, producer.stop)
    topics = settings.topics
    workers = settings.workers or os.cpu_count() or 1
    pool = ExtractorPool(
        workers,
        ExtractionLimits(
            timeout_s=settings.timeout_s,
            memory_mb=settings.memory_mb,
            max_pages=settings.max_pages,
            max_chars=settings.max_chars,
            max_file_bytes=settings.max_file_bytes,
            max_docx_uncompressed_bytes=settings.max_docx_uncompressed_bytes,
        ),
        tables=settings.tables,
        ocr=settings.ocr_options(),
        split_pages=settings.split_pages,
    )
    blobs = open_blob_store(settings)

    async def cancel_in_flight(document_id: str, generation: int) -> None:
        await pool.cancel(_job_id(document_id, generation))

    cancels = CancelRegistry(
        settings.kafka_bootstrap_servers, topics.commands, on_cancel=cancel_in_flight
    )
    handler = _Handler(settings, producer, pool, blobs, cancels.is_cancelled)
    stage = Stage(
        stage="extraction",
        source=SOURCE,
        input_topic=topics.uploaded,
        work_type=DocumentUploaded,
        topics=topics,
        producer=producer,
        metrics=StageMetrics(metrics.DOCUMENTS, metrics.DEAD_LETTERS, metrics.RETRIES),
        handler=handler.extract,
        is_cancelled=cancels.is_cancelled,
    )
    resources.add(pool.start, pool.close)
    resources.add(_nothing, blobs.close)
    # Before any record: a cancel sent while this replica was down must be known first.
    resources.add(cancels.start, cancels.stop)
    resources.add_health("cancels", lambda: cancels.running)
    return create_app(
        "extractor",
        settings,
        resources,
        topic=topics.uploaded,
        handle=stage.handle,
        # Twice the workers: a document's events are sent while the next one is extracted.
        concurrency=settings.concurrency or workers * 2,
    )


async def _nothing() -> None:
    return None


def _job_id(document_id: str, generation: int) -> str:
    # Per generation: cancelling the generation a reprocess replaced must not stop the new one.
    return f"{document_id}/g{generation}"


class _Handler:
    def __init__(
        self,
        settings: ExtractorSettings,
        producer: EventProducer,
        pool: ExtractorPool,
        blobs: BlobStore,
        is_cancelled: Callable[[str, int], bool],
    ) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.producer = producer
        self.pool = pool
        self.blobs = blobs
        self.is_cancelled = is_cancelled

    async def extract(self, work: DocumentUploaded, attempt: Attempt) -> None:
        metrics.IN_FLIGHT.inc()
        try:
            await self._extract(work, attempt)
        finally:
            metrics.IN_FLIGHT.dec()

    async def _extract(self, work: DocumentUploaded, attempt: Attempt) -> None:
        events = self.topics.events
        if not await self.blobs.exists(work.data.blob.key):
            # An upload withdrawn after a failed publish, or a blob housekeeping removed.
            raise StageFailure(ReasonCode.BLOB_MISSING, "the uploaded file is no longer stored")
        try:
            password = opened_password(
                work.data.options,
                self.settings.auth_secrets,
                document_id=work.subject,
            )
        except UnreadablePasswordError as exc:
            # Trying the PDF without it would end in a misleading "a password is required".
            raise StageFailure(
                ReasonCode.PASSWORD_UNREADABLE,
                "The upload's password could not be decrypted: ingest and the extractor do "
                "not share DOCSTREAM_AUTH_SECRET, or it changed since the upload and the old "
                "one is not in DOCSTREAM_AUTH_PREVIOUS_SECRETS. Upload the file again.",
            ) from exc
        start: list[HeldStart] = []  # made once a worker takes the document

        def worker_took_it() -> None:
            # Made when a worker takes the document (it may wait for one behind others), and
            # held a moment: it goes with the first progress, or with the end of a quick
            # document (see HeldStart); the stage sends it before anything else otherwise.
            event = derive(work, ExtractionStarted, source=SOURCE)
            hold_s = self.settings.started_hold_s
            start.append(attempt.hold(HeldStart(self.producer, events, event, hold_s=hold_s)))
            reporter.begin()

        async def lead() -> list[tuple[str, Envelope]]:
            """The start, when it is still held: first in the next batch."""
            return await start[0].take() if start else []

        async def emit_progress(done: int, total: int) -> None:
            await self.producer.send_many([*await lead(), (events, _progress(work, done, total))])

        reporter = ProgressReporter(emit_progress, interval_s=self.settings.progress_interval_s)
        started = time.perf_counter()
        try:
            # The worker opens a file: an object store's blob is downloaded for it first.
            async with self.blobs.local_copy(work.data.blob.key) as path:
                result = await self.pool.extract(
                    _job_id(work.subject, work.generation),
                    path,
                    password=password,
                    ocr_languages=work.data.options.ocr_languages,
                    on_progress=reporter.update,
                    on_start=worker_took_it,
                )
        except ExtractionCancelled as exc:
            if self.is_cancelled(work.subject, work.generation):
                raise StageCancelled() from exc
            # The pool is closing (a shutdown): not the user's cancel. The record is not
            # acknowledged, so the next owner of the partition extracts it again.
            raise TransientError("the extractor pool closed") from exc
        except ExtractionError as exc:
            raise StageFailure(exc.reason, exc.message) from exc
        finally:
            await reporter.stop()
        elapsed = time.perf_counter() - started
        metrics.DURATION.observe(elapsed)
        if result.pages and elapsed > 0:
            metrics.PAGE_RATE.observe(len(result.pages) / elapsed)
        before = await lead()  # not sent yet: first in the completion's batch
        await attempt.confirm()
        pages = len(result.pages)
        final = [] if reporter.already_sent(pages, pages) else [_progress(work, pages, pages)]
        await self._completed(work, result, [*before, *((events, p) for p in final)])

    async def _completed(
        self,
        work: DocumentUploaded,
        result: ExtractionResult,
        before: list[tuple[str, Envelope]],
    ) -> None:
        text = result.text
        encoded = text.encode()
        text_blob = await self.blobs.write_bytes(
            document_blob_key(work.subject, f"text-g{work.generation}.txt"), encoded
        )
        metadata = result.metadata()
        lifecycle: list[Envelope] = [
            derive(
                work,
                ExtractionCompleted,
                source=SOURCE,
                data=ExtractionCompletedData(metadata=metadata, text_blob=text_blob),
            ),
        ]
        if not work.data.options.analyze:
            lifecycle.append(derive(work, DocumentCompleted, source=SOURCE))
        # One batch on one partition: in order, and one round trip instead of several.
        await self.producer.send_many([*before, *((self.topics.events, e) for e in lifecycle)])
        metrics.record_pages(result)
        metrics.DOCUMENTS.labels("completed", "").inc()
        if not work.data.options.analyze:
            return
        inline = len(encoded) <= self.settings.inline_text_max_bytes
        record: DocumentExtracted = derive(
            work,
            DocumentExtracted,
            source=SOURCE,
            data=ExtractedData(
                metadata=metadata,
                text=text if inline else None,
                text_blob=text_blob,
                page_info=result.page_info(),
                tables=result.tables,
                # The password is the extractor's alone: the analyzer's record never has it.
                options=work.data.options.model_copy(
                    update={"password": None, "password_sealed": None}
                ),
            ),
        )
        if len(encode(record)) > MAX_RECORD_BYTES:
            record = await self._claim_check(work, record)
        await self.producer.send(self.topics.extracted, record)

    async def _claim_check(
        self, work: DocumentUploaded, record: DocumentExtracted
    ) -> DocumentExtracted:
        """Too big for one Kafka record (a huge table, 10,000 pages): the bulky parts go to
        blob storage and the record carries references (the text is there already)."""
        bulky = {
            "tables": [t.model_dump() for t in record.data.tables],
            "page_info": [p.model_dump() for p in record.data.page_info],
        }
        tables_blob = await self.blobs.write_bytes(
            document_blob_key(work.subject, f"extras-g{work.generation}.json"),
            json.dumps(bulky).encode(),
        )
        data = record.data.model_copy(
            update={"text": None, "tables": [], "page_info": [], "extras_blob": tables_blob}
        )
        return record.model_copy(update={"data": data})


def _progress(work: DocumentUploaded, done: int, total: int) -> ExtractionProgressed:
    return derive(  # type: ignore[no-any-return]
        work,
        ExtractionProgressed,
        source=SOURCE,
        data=ProgressData(stage="extraction", done=done, total=total),
    )
