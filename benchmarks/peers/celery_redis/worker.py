"""The Celery app and its one task: ``celery -A benchmarks.peers.celery_redis.worker worker``.

Each prefork child builds its own clients after the fork (MongoDB, Redis, the analysis
provider on a private event loop), as the seed's workers did per process.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from celery.signals import worker_process_init
from pymongo import MongoClient
from pymongo.collection import Collection

from benchmarks.peers.celery_redis.settings import TASK_NAME, PeerSettings, channel
from services.analyzer.analysis import AnalysisError, OfflineConfig, OfflineProvider
from services.analyzer.analysis.offline import prepare_worker
from services.extractor.extraction.dispatch import extract_pages
from services.extractor.extraction.errors import ExtractionError
from services.extractor.extraction.pages import PAGE_SEPARATOR
from services.extractor.settings import ExtractorSettings

SETTINGS = PeerSettings()
#: The extractor service's default, so the peer does the same work (tables on).
TABLES: bool = ExtractorSettings.model_fields["tables"].default

app = Celery("docstream_peer", broker=SETTINGS.redis_url, backend=SETTINGS.redis_url)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@dataclass
class _Process:
    """What one prefork child keeps between tasks."""

    loop: asyncio.AbstractEventLoop
    provider: OfflineProvider
    documents: Collection[dict[str, Any]]
    redis: redis.Redis


_process: _Process | None = None


@worker_process_init.connect
def _start_child(**_: object) -> None:
    global _process
    mongo: MongoClient[dict[str, Any]] = MongoClient(SETTINGS.mongo_url, appname="peer-worker")
    _process = _Process(
        loop=asyncio.new_event_loop(),
        # One thread: the analysis runs in this child, as the raw loop runs it.
        provider=OfflineProvider(OfflineConfig(executor="thread", workers=1)),
        documents=mongo[SETTINGS.mongo_database]["documents"],
        redis=redis.Redis.from_url(SETTINGS.redis_url),
    )
    # As docstream's work processes start: lexicons and language profiles loaded, then the
    # collector settled (shared/heap.py), so both sides' work runs under the same settings.
    prepare_worker()


def _here() -> _Process:
    if _process is None:  # a task run outside a prefork child (tests with task_always_eager)
        _start_child()
    assert _process is not None
    return _process


def _publish(proc: _Process, document_id: str, status: str, progress: int, **extra: Any) -> None:
    message = {"status": status, "progress": progress, "time": time.time(), **extra}
    proc.redis.publish(channel(document_id), json.dumps(message))


@app.task(name=TASK_NAME)
def process_document(document_id: str, path: str) -> dict[str, Any]:
    proc = _here()
    proc.documents.update_one(
        {"_id": document_id},
        {"$set": {"status": "processing", "progress": 10, "started_at": datetime.now(UTC)}},
        upsert=True,
    )
    _publish(proc, document_id, "processing", 10)
    try:
        pages = extract_pages(Path(path), tables=TABLES)
        _publish(proc, document_id, "processing", 50)
        text = PAGE_SEPARATOR.join(pages)
        # Stored beside the upload, as docstream keeps the text in blob storage.
        Path(path).with_suffix(".txt").write_text(text, encoding="utf-8")
        analysis = proc.loop.run_until_complete(
            proc.provider.analyze(text, document_id=document_id)
        )
        _publish(proc, document_id, "processing", 90)
    except (ExtractionError, AnalysisError) as exc:
        reason = exc.reason.value
        proc.documents.update_one(
            {"_id": document_id},
            {"$set": {"status": "failed", "reason": reason, "finished_at": datetime.now(UTC)}},
        )
        _publish(proc, document_id, "failed", 100, reason=reason)
        return {"status": "failed", "reason": reason}
    proc.documents.update_one(
        {"_id": document_id},
        {
            "$set": {
                "status": "completed",
                "progress": 100,
                "pages": len(pages),
                "characters": len(text),
                "analysis": analysis.model_dump(mode="json"),
                "finished_at": datetime.now(UTC),
            }
        },
    )
    _publish(proc, document_id, "completed", 100)
    return {"status": "completed", "pages": len(pages)}
