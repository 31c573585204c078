"""One fault run, start to stop: stack, reference pass, uploads under faults, checks."""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from benchmarks.chaos import checks, samples
from benchmarks.chaos.client import Client, DocRun, Timeline
from benchmarks.chaos.events import LiveLog, conflicting_results, read_all, refold
from benchmarks.chaos.faults import SERVICES, Kill, Schedule, make_schedule, run_schedule
from deploy.launcher import Stack, StackConfig
from deploy.launcher.config import Ports
from deploy.launcher.install import say
from shared.auth import issue_token
from shared.readmodel import DOCUMENTS

AGENTS = ("extractor", "analyzer", "status")


@dataclass
class Options:
    documents: int = 300
    rate_per_s: float = 1.0
    seed: int = 1
    kills_per_service: int = 2
    kill_services: tuple[str, ...] = SERVICES
    broker_restart: bool = True
    db_restart: bool = True
    heavy: bool = True
    cancel_share: float = 0.08
    replicas: int = 2
    #: After the last upload, how long documents may take to finish before they count stuck.
    settle_s: float = 180.0
    keep_data: bool = False


@dataclass
class Result:
    options: Options
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[checks.Failure] = field(default_factory=list)
    notes: list[checks.Failure] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    schedule: Schedule | None = None
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference_phrases_missing: list[str] = field(default_factory=list)
    data_dir: Path | None = None
    #: Every pid the run's processes had (restarts included): none may outlive the run.
    pids: list[int] = field(default_factory=list)


def own_config(options: Options) -> StackConfig:
    data_dir = Path(tempfile.gettempdir()) / f"docstream-chaos-{uuid.uuid4().hex[:8]}"
    return StackConfig(
        data_dir=data_dir,
        ports=Ports.free(),
        topic_partitions=4,
        log_level="INFO",
        auth_secret=uuid.uuid4().hex + uuid.uuid4().hex,
        extra_env=_service_env(),
        replicas=dict.fromkeys(AGENTS, options.replicas),
    )


def shared_infra_config(infra: Stack, options: Options) -> StackConfig:
    """Services of our own (prefix, database, folders) on an already running Kafka/FerretDB."""
    return StackConfig.beside(
        infra.cfg,
        "chaos",
        topic_partitions=4,
        log_level="INFO",
        extra_env=_service_env(),
        replicas=dict.fromkeys(AGENTS, options.replicas),
    )


def _service_env() -> dict[str, str]:
    return {
        "DOCSTREAM_LOG_JSON": "true",
        # Two extractor replicas share two cores: one worker process each.
        "DOCSTREAM_EXTRACTOR_WORKERS": "1",
        # The same corpus files again and again: every copy must go through the stages
        # under fault, not be linked to the first copy's results.
        "DOCSTREAM_INGEST_DUPLICATES": "process",
    }


async def run(options: Options, corpus: Path, *, infra: Stack | None = None) -> Result:
    """With ``infra`` (tests), services run on that Kafka and FerretDB and neither is
    restarted; otherwise the run starts (and stops) a whole stack of its own."""
    if infra is not None and (options.broker_restart or options.db_restart):
        raise ValueError("broker/database restarts need a stack of the run's own")
    cfg = shared_infra_config(infra, options) if infra is not None else own_config(options)
    stack = Stack(cfg)
    result = Result(options, data_dir=cfg.data_dir)
    started = time.monotonic()
    try:
        if infra is None:
            await stack.start_infra()
        else:
            stack.infra = []
        await stack.start_services()
        await stack.wait_consumers_ready()
        supervising = stack.supervise()
        await _run(stack, options, corpus, result, supervising)
    finally:
        procs = [*stack.infra, *stack.services.values()]
        result.pids = [pid for proc in procs for pid in proc.pids]
        stack.stop()
        if not options.keep_data:
            shutil.rmtree(cfg.data_dir, ignore_errors=True)
    result.figures["seconds"] = round(time.monotonic() - started, 1)
    return result


async def _run(
    stack: Stack, options: Options, corpus: Path, result: Result, supervising: asyncio.Task[None]
) -> None:
    cfg = stack.cfg
    rng = random.Random(options.seed)
    token = issue_token(cfg.ensure_secret(), "chaos")
    api = f"http://127.0.0.1:{cfg.ports.ingest}"
    timeline = Timeline()
    client = Client(api, token, timeline)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(cfg.mongo_url, tz_aware=True)
    collection = mongo[cfg.mongo_database][DOCUMENTS]
    live = LiveLog(cfg.bootstrap, cfg.topics.events, cfg.topic_partitions)
    live_task = asyncio.create_task(live.run())
    pool = samples.build(corpus, heavy=options.heavy)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            planned = samples.plan(pool, options.documents, rng, cancel_share=options.cancel_share)
            used = list({s.key: s for s, _ in planned}.values())
            say(f"chaos: reference pass, {len(used)} distinct files, no faults")
            reference_ids = await _reference_pass(http, client, collection, used, cfg, result)
            docs = [DocRun(n, sample, cancel) for n, (sample, cancel) in enumerate(planned)]
            duration = options.documents / options.rate_per_s
            kills = {
                s: (options.kills_per_service if s in options.kill_services else 0)
                for s in SERVICES
            }
            schedule = make_schedule(
                rng,
                duration,
                kills_per_service=kills,
                broker_restart=options.broker_restart,
                db_restart=options.db_restart,
            )
            result.schedule = schedule
            result.kills = schedule.kills
            say(
                f"chaos: {options.documents} documents over {duration:.0f} s, "
                f"{len(schedule.kills)} kills, {len(schedule.outages)} outages"
            )
            t0 = time.monotonic()
            faults = asyncio.create_task(run_schedule(stack, schedule, t0, rng))
            status_kills = asyncio.create_task(_watch_status_kills(stack, schedule.kills))
            deadline = t0 + duration + options.settle_s
            lives = []
            for doc in docs:
                await asyncio.sleep(max(0.0, t0 + doc.n / options.rate_per_s - time.monotonic()))
                if supervising.done():
                    break
                lives.append(asyncio.create_task(_life(http, client, doc, rng, deadline)))
            say("chaos: all uploads started; waiting for every document to finish")
            await asyncio.wait(lives, timeout=max(1.0, deadline + 5 - time.monotonic()))
            for task in lives:
                task.cancel()
            await faults
            with contextlib.suppress(asyncio.CancelledError):
                status_kills.cancel()
                await status_kills
            if supervising.done():
                supervising.result()  # a crash loop: fail the run with the supervisor's message
        say("chaos: checking")
        await asyncio.sleep(2.0)  # the status fold batches for 0.25 s; let the last ones land
        events = await read_all(cfg.bootstrap, cfg.topics.events, cfg.topic_partitions)
        refolded = refold(events)
        read_model = {str(d["_id"]): dict(d) async for d in collection.find({})}
        verdict = checks.judge(
            docs,
            read_model=read_model,
            refolded=refolded,
            conflicts=conflicting_results(events),
            references=result.references,
            blob_dir=cfg.blob_dir,
            reference_ids=reference_ids,
        )
        snapshots = [t for doc in docs for t in doc.watch.snapshots]
        checks.recovery(schedule.kills, live=live.by_doc, timeline=timeline, snapshots=snapshots)
        result.failures = verdict.failures
        result.notes = verdict.notes
        f = result.figures
        f["documents"] = len(docs)
        f.update(verdict.figures)
        f.update(checks.recovery_figures(schedule.kills))
        f["broker_restarts"] = sum(
            1 for o in schedule.outages if o.target == "kafka" and o.healthy_at
        )
        f["db_restarts"] = sum(
            1 for o in schedule.outages if o.target == "ferretdb" and o.healthy_at
        )
        f["supervisor_restarts"] = len(stack.supervisor.history)
        f["events"] = len(events)
    finally:
        live_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await live_task
        await mongo.close()


async def _life(
    http: httpx.AsyncClient, client: Client, doc: DocRun, rng: random.Random, deadline: float
) -> None:
    await client.upload(http, doc, deadline)
    if doc.status_code != 202:
        return
    jobs = [client.watch(doc, deadline)]
    if doc.cancel:
        jobs.append(client.cancel(http, doc, random.Random(rng.random())))
    await asyncio.gather(*jobs)


async def _reference_pass(
    http: httpx.AsyncClient,
    client: Client,
    collection: Any,
    pool: list[samples.Sample],
    cfg: StackConfig,
    result: Result,
) -> set[str]:
    """Each distinct file once, without faults: what every later copy must match."""
    gate = asyncio.Semaphore(3)
    ids: set[str] = set()

    async def one(sample: samples.Sample) -> None:
        async with gate:
            doc = DocRun(-1, sample, False)
            await client.upload(http, doc, time.monotonic() + 120)
            if doc.status_code != 202 or doc.id is None:
                return
            ids.add(doc.id)
            stored = await _wait_terminal(collection, doc.id, 300)
            if stored is None:
                raise RuntimeError(f"reference {sample.key} did not finish without faults")
            result.references[sample.key] = checks.fingerprint(stored, cfg.blob_dir)
            if sample.phrase and stored.get("text_blob"):
                text = (cfg.blob_dir / stored["text_blob"]["key"]).read_text(errors="replace")
                if sample.phrase not in text:
                    result.reference_phrases_missing.append(sample.key)

    await asyncio.gather(*(one(s) for s in pool))
    return ids


async def _wait_terminal(collection: Any, doc_id: str, timeout_s: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = await collection.find_one({"_id": doc_id})
        if doc is not None and doc.get("status") in ("completed", "failed", "cancelled"):
            return dict(doc)
        await asyncio.sleep(0.3)
    return None


async def _watch_status_kills(stack: Stack, kills: list[Kill]) -> None:
    """A status kill's recovery: from the kill until the status group has committed every
    event that existed 2 s after it (its partitions folded again, by either replica)."""
    cfg = stack.cfg
    group = f"{cfg.topic_prefix}docstream-status"
    done: set[int] = set()
    while True:
        for i, kill in enumerate(kills):
            if kill.service != "status" or not kill.at or i in done:
                continue
            done.add(i)
            await asyncio.sleep(max(0.0, kill.at + 2 - time.monotonic()))
            kill.recovery_s = await _committed_catch_up(cfg, group, kill.at)
        await asyncio.sleep(0.5)


async def _committed_catch_up(cfg: StackConfig, group: str, since: float) -> float | None:
    topic = cfg.topics.events
    consumer = AIOKafkaConsumer(bootstrap_servers=cfg.bootstrap, group_id=None)
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.bootstrap)
    await consumer.start()
    await admin.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(cfg.topic_partitions)]
        ends = await consumer.end_offsets(partitions)
        deadline = since + 120
        while time.monotonic() < deadline:
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            if all(
                (committed.get(tp) is not None and committed[tp].offset >= ends[tp])
                for tp in partitions
            ):
                return round(time.monotonic() - since, 2)
            await asyncio.sleep(0.25)
        return None
    finally:
        await consumer.stop()
        await admin.close()
