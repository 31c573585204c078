"""docstream and the seed's architecture (Celery + Redis, benchmarks/peers/celery_redis) side
by side in one run, through the same harness, on the same documents.

Both sides get the same warm-up and samples: the one-page PDF one at a time (upload to
completed on the WebSocket), the 65-page PDF on the idle system, then 200 x the 15-page PDF
with 8 uploads in flight, during which the CPU of every process of the side is read from
/proc. The bare one-process loop runs on the idle machine, in four rounds between the
sides' turns; the median of its CPU per document is the work itself, and whatever a side
spends beyond it is that side's overhead.

Each side's measurements come in two turns, docstream, peer, peer, docstream, so that load
from other work that drifts during the run weighs on both alike: the latency samples and
the throughput documents are split between the turns and put together (percentiles over all
samples, pages over the summed time, CPU summed), each turn opening with the same warm-up.
docstream's services are stopped while the peer runs, and Kafka too (the peer has no use for
it, and an idle broker still takes CPU).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import raw_loop
from benchmarks.bench_pipeline import (
    FIFTEEN_PAGES,
    ONE_PAGE,
    SIXTY_FIVE_PAGES,
    EndWatcher,
    KafkaEndWatcher,
    Sample,
    Side,
    docstream_side,
    latency_samples,
    measure_latency,
    measure_throughput_on,
    summary,
    timeline,
)
from benchmarks.cpu import CpuMeter
from deploy.launcher import Stack
from shared.auth import issue_token


@dataclass(frozen=True)
class Plan:
    warmup: int
    samples: int
    copies: int
    long_warmup: int
    long_samples: int
    raw_copies: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        warmup, samples = latency_samples(quick)
        if quick:
            return cls(warmup, samples, copies=20, long_warmup=1, long_samples=2, raw_copies=5)
        return cls(warmup, samples, copies=200, long_warmup=1, long_samples=5, raw_copies=15)


class RedisEndWatcher(EndWatcher):
    """The peer: terminal messages on the documents' pub/sub channels."""

    def __init__(self, redis_url: str) -> None:
        super().__init__()
        self._redis_url = redis_url
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        import redis.asyncio as aioredis

        from benchmarks.peers.celery_redis.settings import CHANNEL_PATTERN, TERMINAL

        client = aioredis.Redis.from_url(self._redis_url)
        pubsub = client.pubsub()
        await pubsub.psubscribe(CHANNEL_PATTERN)

        async def listen() -> None:
            try:
                async for message in pubsub.listen():
                    if message["type"] != "pmessage":
                        continue
                    data = json.loads(message["data"])
                    if data.get("status") in TERMINAL:
                        document_id = message["channel"].decode().rsplit(":", 1)[1]
                        self.record(document_id, data["status"])
            finally:
                await pubsub.aclose()
                await client.aclose()

        self._task = asyncio.create_task(listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class Running:
    """One side, started: how to reach it, learn documents' ends and read its CPU."""

    side: Side
    watcher: Callable[[], EndWatcher]
    meter: CpuMeter


@contextlib.asynccontextmanager
async def _docstream(stack: Stack) -> AsyncIterator[Running]:
    cfg = stack.cfg
    try:
        await stack.start_services()
        await stack.wait_consumers_ready()
        side = docstream_side(
            f"http://127.0.0.1:{cfg.ports.ingest}",
            f"ws://127.0.0.1:{cfg.ports.gateway}",
            issue_token(cfg.ensure_secret(), "bench"),
        )
        roots = {proc.name: proc.pid for proc in stack.infra if proc.pid is not None}
        roots |= {name: proc.pid for name, proc in stack.services.items() if proc.pid is not None}
        yield Running(side, lambda: KafkaEndWatcher(cfg), CpuMeter(roots))
    finally:
        stack.stop_services()


@contextlib.asynccontextmanager
async def _peer(stack: Stack) -> AsyncIterator[Running]:
    from benchmarks.peers.celery_redis.stack import PeerStack

    peer = PeerStack(stack.cfg.data_dir / "peer", stack.cfg.mongo_url)
    # The peer has no use for Kafka, and an idle broker still takes CPU.
    await stack.stop_process("kafka")
    try:
        await peer.start()
        side = Side(
            "celery+redis", f"{peer.api}/documents", lambda d: f"{peer.ws_base}/ws/documents/{d}"
        )
        roots = {proc.name: proc.pid for proc in stack.infra if proc.name != "kafka" and proc.pid}
        roots |= {f"peer-{name}": pid for name, pid in peer.pids().items()}
        yield Running(side, lambda: RedisEndWatcher(peer.redis_url), CpuMeter(roots))
    finally:
        peer.stop()
        await stack.start_process("kafka")


@dataclass
class Tally:
    """One side's measurements, gathered over its turns."""

    one_page: list[Sample] = field(default_factory=list)
    long: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    documents: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)


async def _turn(running: Running, tally: Tally, corpus: Path, plan: Plan, *, long: bool) -> None:
    """Half of a side's measurements: warm-up, half the one-page samples, the 65-page PDF (in
    its first turn), half the throughput documents with their CPU."""
    side = running.side
    print(f"[bench] {side.name}: latency ...", flush=True)
    tally.one_page += await measure_latency(
        side, (corpus / ONE_PAGE).read_bytes(), warmup=plan.warmup, samples=plan.samples // 2
    )
    if long:
        tally.long += await measure_latency(
            side,
            (corpus / SIXTY_FIVE_PAGES).read_bytes(),
            warmup=plan.long_warmup,
            samples=plan.long_samples,
            name="long.pdf",
        )
    print(f"[bench] {side.name}: throughput ...", flush=True)
    copies = plan.copies // 2
    before = running.meter.snapshot()
    throughput = await measure_throughput_on(
        side, running.watcher(), (corpus / FIFTEEN_PAGES).read_bytes(), copies=copies,
        pages_per_copy=15,
    )  # fmt: skip
    for label, seconds in CpuMeter.spent(before, running.meter.snapshot()).items():
        tally.cpu[label] = tally.cpu.get(label, 0.0) + seconds
    tally.seconds += throughput["seconds"]
    tally.documents += copies
    tally.loads.append(os.getloadavg()[0])


def _figures(prefix: str, tally: Tally, raw: raw_loop.RawLoop) -> dict[str, Any]:
    pages_per_s = tally.documents * 15 / tally.seconds
    per_doc = {label: seconds * 1000 / tally.documents for label, seconds in tally.cpu.items()}
    total = sum(per_doc.values())
    latency = summary(tally.one_page)
    return {
        **{f"{prefix}.latency_ms.{k}": v for k, v in latency.items() if k != "samples"},
        f"{prefix}.latency_samples": latency["samples"],
        **{f"{prefix}.latency_timeline_ms.{k}": v for k, v in timeline(tally.one_page).items()},
        f"{prefix}.latency_65p_ms": round(statistics.median(s.ms for s in tally.long), 1),
        f"{prefix}.latency_65p_samples": float(len(tally.long)),
        **{f"{prefix}.latency_65p_timeline_ms.{k}": v for k, v in timeline(tally.long).items()},
        f"{prefix}.pages_per_s": round(pages_per_s, 1),
        f"{prefix}.documents": float(tally.documents),
        f"{prefix}.ratio_vs_raw_loop": round(pages_per_s / raw.pages_per_s, 3),
        **{f"{prefix}.cpu_ms_per_doc.{k}": round(v, 1) for k, v in sorted(per_doc.items())},
        f"{prefix}.cpu_ms_per_doc_total": round(total, 1),
        f"{prefix}.overhead_cpu_ms_per_doc": round(total - raw.cpu_s_per_doc * 1000, 1),
        # Other work on the machine when the side's throughput turns ended: the wall-clock
        # figures are only as comparable as this.
        f"{prefix}.host_load_1m": round(statistics.fmean(tally.loads), 2),
    }


async def run_side_by_side(stack: Stack, corpus: Path, *, quick: bool) -> dict[str, Any]:
    """``stack`` has its infrastructure running; both sides are started and stopped here.

    Each side's measurements come in two turns, in the order docstream, peer, peer, docstream,
    so that load from other work that drifts during the run weighs on both alike."""
    plan = Plan.of(quick)
    rounds: list[raw_loop.RawLoop] = []

    async def raw_round() -> None:
        # The reference is taken in rounds between the sides' turns, with neither side
        # running, so drift over the run weighs on it as on them; its median is what the
        # overheads subtract (one long loop at the start moved them by +-15 ms run to run).
        print(f"[bench] raw loop, round {len(rounds) + 1} ...", flush=True)
        path, copies = corpus / FIFTEEN_PAGES, plan.raw_copies
        rounds.append(await asyncio.to_thread(raw_loop.measure, path, copies))

    await raw_round()
    work_ms = await asyncio.to_thread(raw_loop.work_ms, corpus / ONE_PAGE)
    ours, theirs = Tally(), Tally()
    async with _docstream(stack) as running:
        await _turn(running, ours, corpus, plan, long=True)
    await raw_round()
    async with _peer(stack) as running:
        await _turn(running, theirs, corpus, plan, long=True)
        await _turn(running, theirs, corpus, plan, long=False)
    await raw_round()
    async with _docstream(stack) as running:
        await _turn(running, ours, corpus, plan, long=False)
    await raw_round()
    raw = raw_loop.RawLoop.median_of(rounds)
    mine, peer = _figures("pipeline", ours, raw), _figures("peer", theirs, raw)
    return {
        **mine,
        **peer,
        "pipeline.raw_loop_pages_per_s": round(raw.pages_per_s, 1),
        "pipeline.raw_loop_cpu_ms_per_doc": round(raw.cpu_s_per_doc * 1000, 1),
        "pipeline.raw_loop_rounds": float(len(rounds)),
        # How far apart the rounds were: the overheads' own uncertainty.
        "pipeline.raw_loop_cpu_ms_per_doc_spread": round(
            (max(r.cpu_s_per_doc for r in rounds) - min(r.cpu_s_per_doc for r in rounds)) * 1000,
            1,
        ),
        # The one-page document's work alone, in one process: each side's p50 beyond it is
        # what its plumbing (HTTP, queues, processes, WebSocket) costs.
        "pipeline.one_page_work_ms": round(work_ms, 2),
        "pipeline.latency_p50_beyond_work_ms": round(mine["pipeline.latency_ms.p50"] - work_ms, 2),
        "peer.latency_p50_beyond_work_ms": round(peer["peer.latency_ms.p50"] - work_ms, 2),
        "pipeline.throughput_vs_peer": round(
            mine["pipeline.pages_per_s"] / peer["peer.pages_per_s"], 3
        ),
        "pipeline.latency_p50_vs_peer": round(
            mine["pipeline.latency_ms.p50"] / peer["peer.latency_ms.p50"], 3
        ),
        # CPU of all processes per document, ours over the peer's: what the throughput ratio
        # tends to on a saturated machine, and much less moved by other load than pages/s.
        "pipeline.cpu_per_doc_vs_peer": round(
            mine["pipeline.cpu_ms_per_doc_total"] / peer["peer.cpu_ms_per_doc_total"], 3
        ),
        "pipeline.latency_65p_vs_peer": round(
            mine["pipeline.latency_65p_ms"] / peer["peer.latency_65p_ms"], 3
        ),
    }
