"""The whole pipeline on the real local Kafka and FerretDB.

- latency: upload of a one-page PDF to its ``document.completed`` on the WebSocket, one at a
  time after a warm-up (p50, p99);
- throughput: N copies of the 15-page federal-register PDF pushed through the running system,
  against a bare single-process loop of the same extraction and analysis code in the same run.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from aiokafka import ConsumerRecord

from benchmarks import raw_loop
from deploy.launcher import Stack, StackConfig
from shared.auth import issue_token
from shared.broadcast import BroadcastConsumer
from shared.events import TERMINAL_TYPES

ONE_PAGE = "pdf/scotus-transcript-p1.pdf"
FIFTEEN_PAGES = "pdf/federal-register-2020-17221.pdf"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _one_latency(
    http: httpx.AsyncClient, api: str, ws_base: str, token: str, content: bytes
) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    response = await http.post(
        f"{api}/v1/documents", headers=headers, files={"file": ("one.pdf", content)}
    )
    response.raise_for_status()
    document_id = response.json()["id"]
    async with websockets.connect(f"{ws_base}/ws/documents/{document_id}?token={token}") as ws:
        async for raw in ws:
            message = json.loads(raw)
            event_type = (message.get("event") or {}).get("type")
            snapshot_status = (message.get("document") or {}).get("status")
            if event_type == "document.completed" or snapshot_status == "completed":
                return (time.perf_counter() - started) * 1000
            if event_type in {"document.failed", "document.cancelled"}:
                raise RuntimeError(f"benchmark document ended {event_type}: {message}")
    raise RuntimeError("WebSocket closed before completion")


async def measure_latency(
    api: str, ws_base: str, token: str, content: bytes, *, warmup: int, samples: int
) -> dict[str, float]:
    # One client for the run, as a real uploader keeps its connection (and SSL context).
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(warmup):
            await _one_latency(http, api, ws_base, token, content)
        latencies = [await _one_latency(http, api, ws_base, token, content) for _ in range(samples)]
    return {
        "p50": round(percentile(latencies, 50), 2),
        "p99": round(percentile(latencies, 99), 2),
        "mean": round(statistics.fmean(latencies), 2),
        "samples": samples,
    }


async def measure_throughput(
    cfg: StackConfig, api: str, token: str, content: bytes, *, copies: int, pages_per_copy: int
) -> dict[str, float]:
    """Upload ``copies`` documents (8 in flight) and time until every one has ended.

    The end is read from documents.events, as a downstream consumer would: polling the read
    model instead would put the benchmark's own queries on the database being measured."""
    headers = {"Authorization": f"Bearer {token}"}
    ended: dict[str, str] = {}
    all_ended = asyncio.Event()
    uploaded: set[str] = set()

    async def on_event(record: ConsumerRecord[bytes, bytes]) -> None:
        event = json.loads(record.value or b"{}")
        if event.get("type") in TERMINAL_TYPES:
            ended[event["subject"]] = event["type"]
            if len(uploaded) == copies and uploaded <= ended.keys():
                all_ended.set()

    watcher = BroadcastConsumer(cfg.bootstrap, cfg.topics.events, on_event)
    await watcher.start()
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            semaphore = asyncio.Semaphore(8)

            async def upload(i: int) -> None:
                async with semaphore:
                    response = await http.post(
                        f"{api}/v1/documents",
                        headers=headers,
                        files={"file": (f"copy-{i}.pdf", content)},
                    )
                    response.raise_for_status()
                    uploaded.add(response.json()["id"])

            await asyncio.gather(*(upload(i) for i in range(copies)))
        if uploaded <= ended.keys():
            all_ended.set()
        await asyncio.wait_for(all_ended.wait(), timeout=3600)
        elapsed = time.perf_counter() - started
    finally:
        await watcher.stop()
    failed = [d for d in uploaded if ended[d] != "document.completed"]
    if failed:
        raise RuntimeError(f"{len(failed)} of the benchmark documents did not complete")
    return {
        "pages_per_s": round(copies * pages_per_copy / elapsed, 1),
        "seconds": round(elapsed, 2),
        "documents": copies,
    }


async def run_pipeline(stack: Stack, corpus: Path, *, quick: bool) -> dict[str, Any]:
    """``stack`` has its infrastructure running; the services are started and stopped here.

    The bare loop runs first, on an idle machine, as the system does after it."""
    raw = await asyncio.to_thread(
        raw_loop.pages_per_second, corpus / FIFTEEN_PAGES, 10 if quick else 30
    )
    cfg = stack.cfg
    try:
        await stack.start_services()
        await stack.wait_consumers_ready()
        api = f"http://127.0.0.1:{cfg.ports.ingest}"
        ws_base = f"ws://127.0.0.1:{cfg.ports.gateway}"
        token = issue_token(cfg.ensure_secret(), "bench")
        latency = await measure_latency(
            api,
            ws_base,
            token,
            (corpus / ONE_PAGE).read_bytes(),
            warmup=5 if quick else 10,
            samples=20 if quick else 60,
        )
        copies = 20 if quick else 200
        throughput = await measure_throughput(
            cfg, api, token, (corpus / FIFTEEN_PAGES).read_bytes(), copies=copies, pages_per_copy=15
        )
    finally:
        stack.stop_services()
    return {
        "pipeline.latency_ms.p50": latency["p50"],
        "pipeline.latency_ms.p99": latency["p99"],
        "pipeline.latency_ms.mean": latency["mean"],
        "pipeline.latency_samples": latency["samples"],
        "pipeline.pages_per_s": throughput["pages_per_s"],
        "pipeline.documents": throughput["documents"],
        "pipeline.raw_loop_pages_per_s": round(raw, 1),
        "pipeline.ratio_vs_raw_loop": round(throughput["pages_per_s"] / raw, 3),
    }
