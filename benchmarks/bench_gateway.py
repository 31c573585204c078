"""The gateway under load: 1,000 WebSocket clients, events at a fixed rate (a load generator
of our own, not a test; 127.0.0.1 only, bounded in time).

Only the gateway runs (on the benchmark's Kafka and FerretDB). Each client follows its own
user's stream (``/ws/documents``), one user per client, so every event is delivered to exactly
one client. Events are produced straight to documents.events, round robin over the users'
documents, each carrying the monotonic time it was handed to the producer (CLOCK_MONOTONIC
is one clock for every process of the machine); a client process receives and measures.

Beside them, the same events read straight from Kafka in the client process
(``gateway.kafka_floor_latency_ms``): the latency the machine allows at that moment, since
these two cores are shared with the broker, the generator and other work.

Figures: ``gateway.deliveries_per_s``, ``gateway.delivery_latency_ms`` (p50/p99, produced to
received), ``gateway.rss_mb_per_1k_clients`` (the gateway's resident memory grown by the
connections), ``gateway.cpu_s_per_1k_deliveries`` (the gateway process's user+system CPU).
Both this process and the gateway raise their open-file limit to hold the sockets.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import time
import uuid
from multiprocessing.connection import Connection
from typing import Any

import websockets
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from benchmarks.bench_pipeline import percentile
from deploy.launcher import Stack
from shared import heap
from shared.auth import issue_token

CLIENTS = 1_000
RATE_PER_S = 6_000
DURATION_S = 20.0


def _raise_open_file_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the clients (a process of their own, so receiving does not slow producing) ---


def _clients_main(
    base: str, tokens: list[str], bootstrap: str, topic: str, partitions: int, pipe: Connection
) -> None:
    _raise_open_file_limit(len(tokens) + 1_000)
    asyncio.run(_clients(base, tokens, bootstrap, topic, partitions, pipe))


async def _kafka_floor(bootstrap: str, topic: str, partitions: int, latencies: list[float]) -> None:
    """The same events read straight from Kafka in the same process: the latency the gateway
    could not beat on this machine at this moment (its own share is the difference)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=500)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        while True:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                now = time.monotonic()
                for record in records:
                    value = record.value or b""
                    start = value.rfind(b'"sent_at":') + 10
                    latencies.append((now - float(value[start : value.index(b"}", start)])) * 1000)
    finally:
        await consumer.stop()


async def _clients(
    base: str, tokens: list[str], bootstrap: str, topic: str, partitions: int, pipe: Connection
) -> None:
    floor: list[float] = []
    floor_task = asyncio.create_task(_kafka_floor(bootstrap, topic, partitions, floor))
    latencies: list[float] = []
    received = 0
    duplicates = 0
    stop = asyncio.Event()
    connected = 0
    all_connected = asyncio.Event()
    gate = asyncio.Semaphore(50)  # connects at once (the accept queue is finite)

    async def client(token: str) -> None:
        nonlocal received, duplicates, connected
        last_done = -1
        async with gate:
            ws = await websockets.connect(f"{base}/ws/documents?token={token}", max_queue=None)
        await ws.recv()  # ready
        connected += 1
        if connected == len(tokens):
            all_connected.set()
        try:
            async for raw in ws:
                now = time.monotonic()
                assert isinstance(raw, str)
                if raw.startswith('{"type":"ping"'):
                    await ws.send('{"type":"pong"}')
                    continue
                # The gateway passes the event on as it was produced: its two numbers are
                # found without parsing the message (the client must cost less than the
                # gateway it measures).
                i = raw.rfind('"done":') + 7
                done = int(raw[i : raw.index(",", i)])
                j = raw.rfind('"sent_at":') + 10
                latencies.append((now - float(raw[j : raw.index("}", j)])) * 1000)
                # A client's events are numbered in the order produced: a repeat (or a
                # reordering) shows as a number not above the last.
                if done <= last_done:
                    duplicates += 1
                last_done = done
                received += 1
        finally:
            await ws.close()

    tasks = [asyncio.create_task(client(t)) for t in tokens]
    await all_connected.wait()
    # The instrument must not pause: a full collection over a thousand connections' objects
    # stopped this loop for up to 150 ms, counted as the gateway's latency. The same
    # settings as the gateway's (shared/heap).
    heap.settle()
    pipe.send("connected")
    loop = asyncio.get_running_loop()
    loop.add_reader(pipe.fileno(), stop.set)
    await stop.wait()
    pipe.recv()
    for task in [*tasks, floor_task]:
        task.cancel()
    await asyncio.gather(*tasks, floor_task, return_exceptions=True)
    pipe.send(
        {"received": received, "duplicates": duplicates, "latencies": latencies, "floor": floor}
    )


# --- the load ---


async def _produce(
    bootstrap: str, topic: str, owners: list[str], rate: int, duration_s: float
) -> int:
    """``rate`` events a second for ``duration_s``, sent as one batch per partition per tick:
    the generator's own CPU must not be what the gateway is measured against (two cores)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, max_batch_size=262_144)
    await producer.start()
    partitions = sorted(await producer.partitions_for(topic))
    # A document's events stay on one partition, as the key would keep them.
    documents = [
        (owner, uuid.uuid4().hex, partitions[i % len(partitions)]) for i, owner in enumerate(owners)
    ]
    sent = 0
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    started = time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < duration_s:
            due = int(elapsed / tick + 1) * per_tick - sent  # a fixed rate, whatever a tick took
            batches = {p: producer.create_batch() for p in partitions}
            for _ in range(max(0, due)):
                owner, document_id, partition = documents[sent % len(documents)]
                # The event as our stages write it (compact JSON), stamped as late as possible.
                value = (
                    f'{{"specversion":"1.0","id":"b{sent}","source":"/bench",'
                    f'"subject":"{document_id}","time":"2026-01-01T00:00:00Z",'
                    f'"datacontenttype":"application/json","owner":"{owner}","generation":1,'
                    f'"type":"extraction.progressed","data":{{"stage":"extraction",'
                    f'"done":{sent},"unit":"page","sent_at":{time.monotonic()}}}}}'
                )
                appended = batches[partition].append(
                    key=document_id.encode(), value=value.encode(), timestamp=None
                )
                if appended is None:  # a tick's share far beyond 256 KiB: the machine stalled
                    raise RuntimeError("the benchmark's producer fell too far behind")
                sent += 1
            await asyncio.gather(
                *[
                    await producer.send_batch(batch, topic, partition=p)
                    for p, batch in batches.items()
                    if batch.record_count()
                ]
            )
            await asyncio.sleep(
                max(0.0, started + (int(elapsed / tick) + 1) * tick - time.monotonic())
            )
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def run_gateway(stack: Stack, *, quick: bool = False) -> dict[str, Any]:
    clients = 200 if quick else CLIENTS
    duration_s = 5.0 if quick else DURATION_S
    _raise_open_file_limit(clients + 1_000)
    stack.cfg.extra_env.update(
        {
            "DOCSTREAM_GATEWAY_MAX_CONNECTIONS": str(clients + 100),
            # Idle pings would only add noise: the load keeps every client busy.
            "DOCSTREAM_GATEWAY_PING_INTERVAL_S": "60",
        }
    )
    await stack.start_services(("gateway",))
    try:
        gateway = stack.instance("gateway")
        pid = gateway.proc.pid
        assert pid is not None
        secret = stack.cfg.ensure_secret()
        owners = [f"bench{i}" for i in range(clients)]
        tokens = [issue_token(secret, owner) for owner in owners]
        await asyncio.sleep(1.0)
        rss_before = _rss_mb(pid)
        ours, theirs = multiprocessing.get_context("spawn").Pipe()
        process = multiprocessing.get_context("spawn").Process(
            target=_clients_main,
            args=(
                f"ws://127.0.0.1:{gateway.port}",
                tokens,
                stack.cfg.bootstrap,
                stack.cfg.topics.events,
                stack.cfg.topic_partitions,
                theirs,
            ),
            daemon=True,
        )
        process.start()
        try:
            ready = await asyncio.to_thread(ours.poll, 120)
            if not ready:
                raise RuntimeError("the clients did not connect within 120 s")
            ours.recv()
            await asyncio.sleep(1.0)
            rss_connected = _rss_mb(pid)
            cpu_before = _cpu_s(pid)
            started = time.monotonic()
            sent = await _produce(
                stack.cfg.bootstrap, stack.cfg.topics.events, owners, RATE_PER_S, duration_s
            )
            await asyncio.sleep(2.0)  # the last events on their way
            elapsed = time.monotonic() - started
            cpu_used = _cpu_s(pid) - cpu_before
            rss_loaded = _rss_mb(pid)
            ours.send("stop")
            stats = await asyncio.to_thread(ours.recv)
        finally:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    finally:
        stack.stop_services()
    latencies: list[float] = stats["latencies"]
    received: int = stats["received"]
    floor: list[float] = stats["floor"]
    if not floor:
        raise RuntimeError("the Kafka floor reader saw no event")
    return {
        "gateway.kafka_floor_latency_ms.p50": round(percentile(floor, 50), 2),
        "gateway.kafka_floor_latency_ms.p99": round(percentile(floor, 99), 2),
        "gateway.clients": clients,
        "gateway.rate_produced_per_s": RATE_PER_S,
        "gateway.events_produced": sent,
        "gateway.deliveries": received,
        "gateway.duplicates_or_reordered": stats["duplicates"],
        "gateway.deliveries_per_s": round(received / (elapsed - 2.0), 1),
        "gateway.delivery_latency_ms.samples": len(latencies),
        "gateway.delivery_latency_ms.p50": round(percentile(latencies, 50), 2),
        "gateway.delivery_latency_ms.p99": round(percentile(latencies, 99), 2),
        "gateway.machine_load_1m": round(os.getloadavg()[0], 2),
        "gateway.rss_mb_idle": round(rss_before, 1),
        "gateway.rss_mb_per_1k_clients": round((rss_connected - rss_before) * 1000 / clients, 1),
        "gateway.rss_mb_loaded": round(rss_loaded, 1),
        "gateway.cpu_s_per_1k_deliveries": round(cpu_used / max(received, 1) * 1000, 3),
    }
