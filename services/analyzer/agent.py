"""The analyzer agent: documents.extracted in; analysis events and documents.analyzed out.

Per document: analysis.started -> analysis.completed -> document.completed on documents.events
(in that order), and in the same request the result on documents.analyzed for downstream
systems; or
document.failed (with the record dead-lettered when it failed for good after retries) or
document.cancelled. Retries happen inside the provider, in one of ``concurrency`` slots, so
other documents keep flowing while one waits out a backoff.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import FastAPI

from services.analyzer import metrics
from services.analyzer.analysis import (
    AnalysisCancelled,
    AnalysisError,
    AnalyzerProvider,
    GeminiConfig,
    MongoRateLimiter,
    RateLimiter,
    build_provider,
)
from services.analyzer.settings import AnalyzerSettings
from shared import mongo
from shared.blobs import open_blob_store
from shared.cancellation import CancelRegistry
from shared.events import (
    AnalysisCompleted,
    AnalysisCompletedData,
    AnalysisResult,
    AnalysisStarted,
    AnalyzedData,
    DocumentAnalyzed,
    DocumentCompleted,
    DocumentExtracted,
    derive,
)
from shared.kafka import EventProducer
from shared.reasons import ReasonCode
from shared.stage import (
    Attempt,
    HeldStart,
    Stage,
    StageCancelled,
    StageFailure,
    StageMetrics,
)
from shared.work_service import Resources, create_app, producer_for

log = logging.getLogger(__name__)
SOURCE = "/docstream/analyzer"
RATE_LIMIT_KEY = "analyzer-model-calls"


def build(settings: AnalyzerSettings) -> FastAPI:
    producer = producer_for("analyzer", settings)
    resources = Resources()
    resources.add(producer.start, producer.stop)
    topics = settings.topics
    cancels = CancelRegistry(settings.kafka_bootstrap_servers, topics.commands)
    handler = _Handler(settings, producer, cancels)
    stage = Stage(
        stage="analysis",
        source=SOURCE,
        input_topic=topics.extracted,
        work_type=DocumentExtracted,
        topics=topics,
        producer=producer,
        metrics=StageMetrics(metrics.DOCUMENTS, metrics.DEAD_LETTERS, metrics.RETRIES),
        handler=handler.analyze,
        is_cancelled=cancels.is_cancelled,
    )
    resources.add(handler.start, handler.stop)
    resources.add(cancels.start, cancels.stop)
    resources.add_health("cancels", lambda: cancels.running)
    return create_app(
        "analyzer",
        settings,
        resources,
        topic=topics.extracted,
        handle=stage.handle,
        concurrency=settings.concurrency,
    )


class _Handler:
    def __init__(
        self, settings: AnalyzerSettings, producer: EventProducer, cancels: CancelRegistry
    ) -> None:
        self.settings = settings
        self.topics = settings.topics
        self.producer = producer
        self.cancels = cancels
        self.blobs = open_blob_store(settings)
        self.provider: AnalyzerProvider | None = None
        self._mongo: Any = None

    async def start(self) -> None:
        limiter: RateLimiter | None = None
        if self.settings.rate_limit_per_minute:
            self._mongo = mongo.connect(self.settings.mongo_url, app_name="docstream-analyzer")
            limiter = MongoRateLimiter(
                self._mongo[self.settings.mongo_database]["rate_limits"],
                f"{self.settings.topic_prefix}{RATE_LIMIT_KEY}",
                self.settings.rate_limit_per_minute,
            )
        gemini = None
        if self.settings.gemini_api_key is not None:
            gemini = GeminiConfig(
                api_key=self.settings.gemini_api_key.get_secret_value(),
                model=self.settings.gemini_model,
                base_url=self.settings.gemini_base_url,
                soft_timeout_s=self.settings.soft_timeout_s,
                hard_timeout_s=self.settings.hard_timeout_s,
                max_attempts=self.settings.max_attempts,
                backoff_base_s=self.settings.retry_base_s,
                backoff_max_s=self.settings.retry_max_s,
            )
        self.provider = build_provider(
            self.settings.provider_name, gemini=gemini, rate_limiter=limiter
        )

    async def stop(self) -> None:
        if self.provider is not None:
            await self.provider.close()
        if self._mongo is not None:
            await self._mongo.close()

    async def analyze(self, work: DocumentExtracted, attempt: Attempt) -> None:
        assert self.provider is not None
        # Held a moment: it goes with the end of a quick analysis (see HeldStart); a slow one
        # (a model's answer) has it sent on its own once the hold is over.
        start = attempt.hold(
            HeldStart(
                self.producer,
                self.topics.events,
                derive(work, AnalysisStarted, source=SOURCE),
                hold_s=self.settings.started_hold_s,
            )
        )
        started = time.perf_counter()
        try:
            text = await self._text(work)
            result = await self.provider.analyze(
                text,
                document_id=work.subject,
                language_hint=work.data.options.language_hint,
                # The extractor detected it on the same text: not detected a second time.
                detected_language=work.data.metadata.language,
                is_cancelled=lambda: self.cancels.is_cancelled(work.subject, work.generation),
            )
        except AnalysisCancelled as exc:
            raise StageCancelled() from exc
        except AnalysisError as exc:
            # Retries against the provider ran out: park the work for operators to replay.
            raise StageFailure(exc.reason, exc.message, dead_letter=exc.retryable) from exc
        except FileNotFoundError as exc:
            raise StageFailure(ReasonCode.BLOB_MISSING, "the extracted text is gone") from exc
        lead = await start.take()  # not sent yet: first in the completion's batch
        await attempt.confirm()
        metrics.DURATION.labels(result.provider).observe(time.perf_counter() - started)
        self._account(result)
        # One request for the lifecycle events and the result record: one acknowledged round
        # trip per document instead of two. A failure after part of it landed replays the
        # stage (at-least-once), as a failure between two sends did.
        await self.producer.send_many(
            [
                *lead,
                (
                    self.topics.events,
                    derive(
                        work,
                        AnalysisCompleted,
                        source=SOURCE,
                        data=AnalysisCompletedData(analysis=result),
                    ),
                ),
                (self.topics.events, derive(work, DocumentCompleted, source=SOURCE)),
                (
                    self.topics.analyzed,
                    derive(
                        work, DocumentAnalyzed, source=SOURCE, data=AnalyzedData(analysis=result)
                    ),
                ),
            ]
        )
        metrics.DOCUMENTS.labels("completed", "").inc()

    async def _text(self, work: DocumentExtracted) -> str:
        if work.data.text is not None:
            return work.data.text
        if work.data.text_blob is None:
            return ""
        return (await self.blobs.read_bytes(work.data.text_blob.key)).decode("utf-8", "replace")

    def _account(self, result: AnalysisResult) -> None:
        model = result.model or result.provider
        usage = result.usage
        if usage.calls:
            metrics.MODEL_CALLS.labels(model).inc(usage.calls)
        metrics.TOKENS.labels(model, "input").inc(usage.input_tokens)
        metrics.TOKENS.labels(model, "output").inc(usage.output_tokens)
        metrics.COST.labels(model).inc(usage.estimated_cost_usd)
