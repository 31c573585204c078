"""The whole pipeline on the real local Kafka and FerretDB.

- latency: upload of a one-page PDF to its ``document.completed`` on the WebSocket, one at a
  time after a warm-up (p50, and p99 from 200 samples or more; fewer give the max instead);
- throughput: N copies of the 15-page federal-register PDF pushed through the running system,
  against a bare single-process loop of the same extraction and analysis code in the same run.

The harness (:class:`Side`, :func:`measure_latency`, :func:`measure_throughput_on`) knows a
system only by its upload URL, its WebSocket URL and how it tells that a document ended, so
benchmarks/bench_peer.py times the Celery + Redis peer with the very same code.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
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
SIXTY_FIVE_PAGES = "pdf/chelsea_pdta.pdf"
#: A p99 is only reported from this many samples; with fewer it is the max in disguise.
P99_MIN_SAMPLES = 200
IN_FLIGHT = 8
_TERMINAL_STATUSES = {"completed", "failed", "cancelled"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass(frozen=True)
class Side:
    """A system under test as the harness sees it."""

    name: str
    upload_url: str
    #: The WebSocket URL that streams one document (by id) until it ends.
    ws_url: Callable[[str], str]
    headers: dict[str, str] = field(default_factory=dict)


def docstream_side(api: str, ws_base: str, token: str) -> Side:
    return Side(
        "docstream",
        f"{api}/v1/documents",
        lambda document_id: f"{ws_base}/ws/documents/{document_id}?token={token}",
        {"Authorization": f"Bearer {token}"},
    )


def ended(message: dict[str, Any]) -> str | None:
    """``completed``, ``failed``, ... if the WebSocket message tells the end, else None.

    Understands docstream's gateway (snapshot, CloudEvents) and the peer (snapshot, progress)."""
    event_type = (message.get("event") or {}).get("type")
    if event_type in TERMINAL_TYPES:
        return str(event_type).removeprefix("document.")
    status = (message.get("document") or {}).get("status") or message.get("status")
    return str(status) if status in _TERMINAL_STATUSES else None


def _marks(message: dict[str, Any]) -> dict[str, float]:
    """When each step of the document happened, by the system's own clock (same machine)."""
    event = message.get("event")
    if event and event.get("time"):
        return {event["type"]: datetime.fromisoformat(event["time"]).timestamp()}
    if message.get("type") == "progress" and "time" in message:
        return {f"progress_{message['progress']}": float(message["time"])}
    return {}


@dataclass
class Sample:
    ms: float
    #: Seconds after the upload started at which each step happened (hop budget).
    marks: dict[str, float]


async def one_latency(
    http: httpx.AsyncClient, side: Side, content: bytes, name: str = "one.pdf"
) -> Sample:
    started, wall = time.perf_counter(), time.time()
    response = await http.post(
        side.upload_url, headers=side.headers, files={"file": (name, content)}
    )
    response.raise_for_status()
    marks = {"upload_answered": time.time()}
    document_id = response.json()["id"]
    async with websockets.connect(side.ws_url(document_id), max_size=None) as ws:
        async for raw in ws:
            message = json.loads(raw)
            marks.update(_marks(message))
            end = ended(message)
            if end == "completed":
                elapsed = (time.perf_counter() - started) * 1000
                marks["received"] = time.time()
                return Sample(elapsed, {k: v - wall for k, v in marks.items()})
            if end is not None:
                raise RuntimeError(f"{side.name}: benchmark document ended {end}: {message}")
    raise RuntimeError(f"{side.name}: WebSocket closed before completion")


def summary(samples: list[Sample]) -> dict[str, float]:
    latencies = [s.ms for s in samples]
    figures = {
        "p50": round(percentile(latencies, 50), 2),
        "max": round(max(latencies), 2),
        "mean": round(statistics.fmean(latencies), 2),
        "samples": float(len(latencies)),
    }
    if len(latencies) >= P99_MIN_SAMPLES:
        figures["p99"] = round(percentile(latencies, 99), 2)
    return figures


def timeline(samples: list[Sample]) -> dict[str, float]:
    """Median ms after the upload started of each step seen (in at least half the samples)."""
    seen: dict[str, list[float]] = {}
    for sample in samples:
        for mark, seconds in sample.marks.items():
            seen.setdefault(mark, []).append(seconds * 1000)
    return {
        mark: round(statistics.median(values), 2)
        for mark, values in sorted(seen.items(), key=lambda kv: statistics.median(kv[1]))
        if len(values) * 2 >= len(samples)
    }


async def measure_latency(
    side: Side, content: bytes, *, warmup: int, samples: int, name: str = "one.pdf"
) -> list[Sample]:
    # One client for the run, as a real uploader keeps its connection (and SSL context).
    async with httpx.AsyncClient(timeout=120) as http:
        for _ in range(warmup):
            await one_latency(http, side, content, name)
        return [await one_latency(http, side, content, name) for _ in range(samples)]


class EndWatcher:
    """Tells when documents end, as a downstream consumer learns it (not by polling)."""

    def __init__(self) -> None:
        self.ended: dict[str, str] = {}
        self.changed = asyncio.Event()

    def record(self, document_id: str, outcome: str) -> None:
        self.ended[document_id] = outcome
        self.changed.set()

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError


class KafkaEndWatcher(EndWatcher):
    """docstream: terminal events on documents.events."""

    def __init__(self, cfg: StackConfig) -> None:
        super().__init__()
        # A downstream system that wants the ends, not live progress: the broker gathers its
        # records for up to 0.1 s (64 KiB) instead of answering a fetch per event. The peer's
        # stand-in is a Redis pub/sub subscription; this one's fetches count in Kafka's CPU.
        # The throughput run's end is seen up to 0.1 s later (of ~45 s).
        self._consumer = BroadcastConsumer(
            cfg.bootstrap,
            cfg.topics.events,
            self._on_record,
            idle_wait_s=0.1,
            gather_bytes=64 * 1024,
        )

    async def _on_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        event = json.loads(record.value or b"{}")
        if event.get("type") in TERMINAL_TYPES:
            self.record(event["subject"], event["type"].removeprefix("document."))

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()


async def measure_throughput_on(
    side: Side,
    watcher: EndWatcher,
    content: bytes,
    *,
    copies: int,
    pages_per_copy: int,
    timeout_s: float = 3600,
) -> dict[str, float]:
    """Upload ``copies`` documents (8 in flight) and time until every one has ended."""
    uploaded: set[str] = set()
    await watcher.start()
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=120) as http:
            semaphore = asyncio.Semaphore(IN_FLIGHT)

            async def upload(i: int) -> None:
                async with semaphore:
                    response = await http.post(
                        side.upload_url,
                        headers=side.headers,
                        files={"file": (f"copy-{i}.pdf", content)},
                    )
                    response.raise_for_status()
                    uploaded.add(response.json()["id"])

            await asyncio.gather(*(upload(i) for i in range(copies)))

        async def all_ended() -> None:
            while not uploaded <= watcher.ended.keys():
                watcher.changed.clear()
                await watcher.changed.wait()

        await asyncio.wait_for(all_ended(), timeout=timeout_s)
        elapsed = time.perf_counter() - started
    finally:
        await watcher.stop()
    failed = [d for d in uploaded if watcher.ended[d] != "completed"]
    if failed:
        raise RuntimeError(
            f"{side.name}: {len(failed)} of the benchmark documents did not complete"
        )
    return {
        "pages_per_s": round(copies * pages_per_copy / elapsed, 1),
        "seconds": round(elapsed, 2),
        "documents": float(copies),
    }


async def measure_throughput(
    cfg: StackConfig, api: str, token: str, content: bytes, *, copies: int, pages_per_copy: int
) -> dict[str, float]:
    """docstream's throughput; the end is read from documents.events, as a downstream consumer
    would: polling the read model instead would put the benchmark's own queries on the
    database being measured."""
    side = docstream_side(api, "", token)
    return await measure_throughput_on(
        side, KafkaEndWatcher(cfg), content, copies=copies, pages_per_copy=pages_per_copy
    )


def latency_samples(quick: bool) -> tuple[int, int]:
    """(warm-up, samples) for the one-page latency: enough for a real p99 in a full run."""
    return (5, 20) if quick else (20, P99_MIN_SAMPLES)


async def run_pipeline(stack: Stack, corpus: Path, *, quick: bool) -> dict[str, Any]:
    """``stack`` has its infrastructure running; the services are started and stopped here.

    The bare loop runs first, on an idle machine, as the system does after it."""
    raw = await asyncio.to_thread(raw_loop.measure, corpus / FIFTEEN_PAGES, 10 if quick else 30)
    cfg = stack.cfg
    try:
        await stack.start_services()
        await stack.wait_consumers_ready()
        api = f"http://127.0.0.1:{cfg.ports.ingest}"
        ws_base = f"ws://127.0.0.1:{cfg.ports.gateway}"
        side = docstream_side(api, ws_base, issue_token(cfg.ensure_secret(), "bench"))
        warmup, samples = latency_samples(quick)
        latency = summary(
            await measure_latency(
                side, (corpus / ONE_PAGE).read_bytes(), warmup=warmup, samples=samples
            )
        )
        copies = 20 if quick else 200
        throughput = await measure_throughput_on(
            side,
            KafkaEndWatcher(cfg),
            (corpus / FIFTEEN_PAGES).read_bytes(),
            copies=copies,
            pages_per_copy=15,
        )
    finally:
        stack.stop_services()
    return {
        **{f"pipeline.latency_ms.{k}": v for k, v in latency.items() if k != "samples"},
        "pipeline.latency_samples": latency["samples"],
        "pipeline.pages_per_s": throughput["pages_per_s"],
        "pipeline.documents": throughput["documents"],
        "pipeline.raw_loop_pages_per_s": round(raw.pages_per_s, 1),
        "pipeline.ratio_vs_raw_loop": round(throughput["pages_per_s"] / raw.pages_per_s, 3),
    }
