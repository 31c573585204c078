"""The read model at volume: the same measurements on a read model holding a user's 2,000
documents and then 100,000 documents in all, in one run.

- ``status.fold_events_per_s``: the event sequence of a finished document (8 events) produced
  straight to documents.events for N new documents, until documents.status shows every one
  completed (the fold and its writes, as the live service does them);
- ``api.get_ms_p50``: GET of one of the user's documents; ``api.list_ms_p50``: the first page
  of 20 of the user's list, and a page 1,000 documents deep (through the cursor);
- ``pipeline.pages_per_s``: 15-page PDFs through the whole running system.

The volume is inserted directly, in the shapes the status service writes (documents and the
owners' listing buckets), which takes a minute instead of hours of pipeline time.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import ConsumerRecord
from pymongo import AsyncMongoClient

from benchmarks.bench_pipeline import FIFTEEN_PAGES, measure_throughput, percentile
from deploy.launcher import Stack
from shared.auth import issue_token
from shared.broadcast import BroadcastConsumer
from shared.events import (
    AcceptedData,
    AnalysisCompleted,
    AnalysisCompletedData,
    AnalysisResult,
    AnalysisStarted,
    DocumentAccepted,
    DocumentCompleted,
    ExtractionCompleted,
    ExtractionCompletedData,
    ExtractionMetadata,
    ExtractionProgressed,
    ExtractionStarted,
    PageInfo,
    ProgressData,
    Sentiment,
)
from shared.ids import new_document_id
from shared.kafka import EventProducer
from shared.readmodel import (
    BUCKET_SIZE,
    DOCUMENTS,
    LISTINGS,
    entry_of,
    listing_head_id,
    listing_id,
)

HEAVY_OWNER = "heavy"
HEAVY_DOCS = 2_000
TOTAL_DOCS = 100_000


def _metadata() -> ExtractionMetadata:
    return ExtractionMetadata(
        detected_type="pdf",
        extractor="pdfium",
        pages=15,
        chars=48_000,
        words=7_900,
        language="en",
        title="Federal Register",
        took_ms=180.0,
        page_info=[PageInfo(number=n, chars=3200, extractor="pdfium") for n in range(1, 16)],
    )


def _analysis() -> AnalysisResult:
    return AnalysisResult(
        provider="offline",
        summary="A summary of a few sentences, as the offline analyzer writes it. " * 8,
        key_points=[f"A key point of the document, number {i}." for i in range(5)],
        sentiment=Sentiment(label="neutral", score=0.02),
        topics=["federal", "register", "rule", "agency", "comment"],
        language="en",
    )


def lifecycle(document_id: str, owner: str) -> list[Any]:
    """A finished document's events, as the pipeline writes them."""
    common = {"source": "/bench", "subject": document_id, "owner": owner, "generation": 1}
    return [
        DocumentAccepted(
            **common, data=AcceptedData(filename="bench.pdf", size=90_000, sha256="0" * 64)
        ),
        ExtractionStarted(**common),
        ExtractionProgressed(**common, data=ProgressData(stage="extraction", done=8, total=15)),
        ExtractionProgressed(**common, data=ProgressData(stage="extraction", done=15, total=15)),
        ExtractionCompleted(**common, data=ExtractionCompletedData(metadata=_metadata())),
        AnalysisStarted(**common),
        AnalysisCompleted(**common, data=AnalysisCompletedData(analysis=_analysis())),
        DocumentCompleted(**common),
    ]


def _stored(document_id: str, owner: str, partition: int, created: datetime) -> dict[str, Any]:
    return {
        "_id": document_id,
        "owner": owner,
        "generation": 1,
        "status": "completed",
        "created_at": created,
        "updated_at": created + timedelta(seconds=3),
        "finished_at": created + timedelta(seconds=3),
        "filename": f"{document_id[-6:]}.pdf",
        "content_type": "application/pdf",
        "size": 90_000,
        "sha256": "0" * 64,
        "position": {"partition": partition, "offset": 0},
        "events_folded": 8,
        "progress": {"stage": "extraction", "done": 15, "total": 15, "unit": "page"},
        "extraction": _metadata().model_dump(exclude_none=True),
        "analysis": _analysis().model_dump(exclude_none=True),
    }


async def prefill(db: Any, owner: str, count: int, partitions: int) -> None:
    """``count`` finished documents of ``owner`` with their listings, written directly."""
    now = datetime.now(UTC) - timedelta(days=30)
    per_partition: dict[int, list[dict[str, Any]]] = {p: [] for p in range(partitions)}
    docs = []
    for i in range(count):
        partition = i % partitions
        created = now + timedelta(seconds=i)
        doc_id = f"{int(created.timestamp() * 1000):012x}{uuid.uuid4().hex[:20]}"
        doc = _stored(doc_id, owner, partition, created)
        bucket, index = divmod(len(per_partition[partition]), BUCKET_SIZE)
        doc["_listing"] = {"partition": partition, "bucket": bucket, "index": index}
        per_partition[partition].append(entry_of(doc))
        docs.append(doc)
    for start in range(0, len(docs), 1000):
        await db[DOCUMENTS].insert_many(docs[start : start + 1000], ordered=False)
    listings = []
    for partition, entries in per_partition.items():
        buckets = [entries[i : i + BUCKET_SIZE] for i in range(0, len(entries), BUCKET_SIZE)]
        for number, chunk in enumerate(buckets):
            listings.append(
                {
                    "_id": listing_id(owner, partition, number),
                    "owner": owner,
                    "partition": partition,
                    "bucket": number,
                    "entries": chunk,
                }
            )
        if buckets:
            listings.append(
                {
                    "_id": listing_head_id(owner, partition),
                    "owner": owner,
                    "partition": partition,
                    "bucket": len(buckets) - 1,
                }
            )
    for start in range(0, len(listings), 500):
        await db[LISTINGS].insert_many(listings[start : start + 500], ordered=False)


async def measure_fold(stack: Stack, documents: int) -> float:
    """Events folded per second: N documents' lifecycles produced at once, until
    documents.status shows each of them completed."""
    cfg = stack.cfg
    owner = f"fold{uuid.uuid4().hex[:6]}"
    ids = [new_document_id() for _ in range(documents)]
    wanted = set(ids)
    done: set[str] = set()
    all_done = asyncio.Event()

    async def on_state(record: ConsumerRecord[bytes, bytes]) -> None:
        key = (record.key or b"").decode()
        if key in wanted and b'"status":"completed"' in (record.value or b""):
            done.add(key)
            if len(done) == len(wanted):
                all_done.set()

    watcher = BroadcastConsumer(cfg.bootstrap, cfg.topics.status, on_state)
    await watcher.start()
    producer = EventProducer(cfg.bootstrap, client_id="bench-fold")
    await producer.start()
    try:
        records = [(cfg.topics.events, e) for d in ids for e in lifecycle(d, owner)]
        started = time.perf_counter()
        for start in range(0, len(records), 400):
            await producer.send_many(records[start : start + 400])
        await asyncio.wait_for(all_done.wait(), timeout=1800)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
        await watcher.stop()
    return len(records) / elapsed


async def measure_api(api: str, token: str, ids: list[str], samples: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    gets: list[float] = []
    firsts: list[float] = []
    deeps: list[float] = []
    async with httpx.AsyncClient(timeout=30, headers=headers) as http:
        # The cursor of a page 1,000 documents deep, found once.
        cursor = None
        for _ in range(1000 // 200):
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            cursor = (await http.get(f"{api}/v1/documents", params=params)).json()["next"]
        for _ in range(5):  # warm-up, the same for each
            await http.get(f"{api}/v1/documents/{random.choice(ids)}")
            await http.get(f"{api}/v1/documents", params={"limit": 20})
        for _ in range(samples):
            t = time.perf_counter()
            response = await http.get(f"{api}/v1/documents/{random.choice(ids)}")
            gets.append((time.perf_counter() - t) * 1000)
            response.raise_for_status()
            t = time.perf_counter()
            response = await http.get(f"{api}/v1/documents", params={"limit": 20})
            firsts.append((time.perf_counter() - t) * 1000)
            assert len(response.json()["items"]) == 20
            t = time.perf_counter()
            response = await http.get(f"{api}/v1/documents", params={"limit": 20, "cursor": cursor})
            deeps.append((time.perf_counter() - t) * 1000)
            assert len(response.json()["items"]) == 20
    return {
        "get_ms_p50": round(statistics.median(gets), 2),
        "get_ms_p99": round(percentile(gets, 99), 2),
        "list_ms_p50": round(statistics.median(firsts), 2),
        "list_ms_p99": round(percentile(firsts, 99), 2),
        "list_deep_ms_p50": round(statistics.median(deeps), 2),
    }


async def run_read_model(stack: Stack, corpus: Path, *, quick: bool) -> dict[str, Any]:
    cfg = stack.cfg
    fold_docs = 150 if quick else 1_000
    copies = 8 if quick else 40
    samples = 50 if quick else 200
    total = 10_000 if quick else TOTAL_DOCS
    results: dict[str, Any] = {}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(cfg.mongo_url, tz_aware=True)
    db = client[cfg.mongo_database]
    try:
        await stack.start_services()
        await stack.wait_consumers_ready()
        api = f"http://127.0.0.1:{cfg.ports.ingest}"
        partitions = cfg.topic_partitions
        await prefill(db, HEAVY_OWNER, HEAVY_DOCS, partitions)
        heavy = [d["_id"] async for d in db[DOCUMENTS].find({"owner": HEAVY_OWNER}, {"_id": 1})]
        token = issue_token(cfg.ensure_secret(), HEAVY_OWNER)
        bench_token = issue_token(cfg.ensure_secret(), "bench")
        content = (corpus / FIFTEEN_PAGES).read_bytes()
        # Warm-up, so the first phase does not pay for cold workers and caches alone.
        await measure_throughput(cfg, api, bench_token, content, copies=4, pages_per_copy=15)
        await measure_fold(stack, 50)
        for label in ("empty", "full"):
            if label == "full":
                stored = await db[DOCUMENTS].estimated_document_count()
                others = max(0, total - stored)
                for k in range(0, others, 5_000):  # 200 owners of 500 documents each, about
                    await prefill(db, f"owner{k // 500}", min(5_000, others - k), partitions)
            suffix = "" if label == "empty" else f"_at_{total // 1000}k"
            results[f"read_model.documents_stored{suffix or '_empty'}"] = await db[
                DOCUMENTS
            ].estimated_document_count()
            fold = await measure_fold(stack, fold_docs)
            results[f"status.fold_events_per_s{suffix}"] = round(fold, 1)
            api_figures = await measure_api(api, token, heavy, samples)
            for name, value in api_figures.items():
                results[f"api.{name}{suffix}"] = value
            throughput = await measure_throughput(
                cfg, api, bench_token, content, copies=copies, pages_per_copy=15
            )
            name = f"pipeline.pages_per_s{suffix}" if suffix else "pipeline.pages_per_s_empty_db"
            results[name] = throughput["pages_per_s"]
        full = f"_at_{total // 1000}k"
        results[f"status.fold_ratio{full}"] = round(
            results[f"status.fold_events_per_s{full}"] / results["status.fold_events_per_s"], 3
        )
        results[f"pipeline.ratio{full}_vs_empty"] = round(
            results[f"pipeline.pages_per_s{full}"] / results["pipeline.pages_per_s_empty_db"], 3
        )
        results["api.samples"] = samples
        results["read_model.fold_documents"] = fold_docs
        results["read_model.pipeline_documents"] = copies
    finally:
        stack.stop_services()
        await client.close()
    return results
