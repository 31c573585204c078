"""The one way a docstream faust service (extractor, analyzer) builds its faust app (status
and webhooks are plain consumer groups: shared/record_consumer.py).

Same shape everywhere: a consumer group named after the service (and topic prefix), in-memory
tables only, faust's own Prometheus sensor on ``/metrics``, ``/healthz``, and our durable
:class:`~shared.kafka.EventProducer` (acks=all, idempotent; faust's own producer enables
idempotence only inside its experimental transactions, which we do not use).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import faust
from aiokafka import TopicPartition
from mode import Service

from shared import faust_sensor, heap, logs, tracing
from shared.kafka import EventProducer, ensure_topics, wait_for_kafka
from shared.lag import group_prefix
from shared.settings import ServiceSettings
from shared.stage_watch import InFlight, StageWatch

log = logging.getLogger(__name__)


Hook = Callable[[], Awaitable[None]]


class Resources(Service):
    """What an agent needs besides faust (our producer, a worker pool, a database client).

    faust starts extra services only after its agents, so an agent could see its first record
    before these are up: handlers call :meth:`ensure_started` (idempotent, cheap once done).
    """

    def __init__(self, **kwargs: Any) -> None:
        self._hooks: list[tuple[Hook, Hook]] = []
        self._health: dict[str, Callable[[], bool]] = {}
        self._start_lock = asyncio.Lock()
        self._up = False
        #: The records the agent is handling (see shared/stage_watch.py).
        self.in_flight = InFlight()
        super().__init__(**kwargs)

    def add(self, start: Hook, stop: Hook) -> None:
        self._hooks.append((start, stop))

    def add_health(self, name: str, check: Callable[[], bool]) -> None:
        """A part that can stop on its own (e.g. a background consumer) and must be seen."""
        self._health[name] = check

    def unhealthy(self) -> list[str]:
        return [name for name, check in self._health.items() if self._up and not check()]

    async def ensure_started(self) -> None:
        if self._up:
            return
        async with self._start_lock:
            if not self._up:
                for start, _ in self._hooks:
                    await start()
                self._up = True

    async def on_start(self) -> None:
        await self.ensure_started()

    async def on_stop(self) -> None:
        for _, stop in reversed(self._hooks):
            try:
                await stop()
            except Exception:  # keep stopping the rest
                log.exception("resource failed to stop")


def create_app(
    service: str,
    settings: ServiceSettings,
    *,
    web_port: int,
) -> tuple[faust.App, EventProducer, Resources]:
    app = faust.App(
        f"{settings.topic_prefix}docstream-{service}",
        broker=settings.kafka_url,
        store="memory://",
        web_port=web_port,
        web_bind=settings.bind_host,
        web_host=settings.bind_host,
        web_in_thread=False,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=0,
        # Commit often: at-least-once means a crash replays at most this window.
        broker_commit_every=100,
        broker_commit_interval=1.0,
        # One slow document must not get the member kicked out of the group.
        broker_max_poll_interval=600.0,
        # Fast recovery: a member that died without leaving (kill -9) is noticed after the
        # session timeout (faust's default 60 s held its partitions that long); heartbeats
        # must come several times per session.
        broker_session_timeout=settings.consumer_session_timeout_s,
        broker_heartbeat_interval=settings.consumer_session_timeout_s / 10,
        # Static membership (KIP-345): a restarted replica with the same instance id takes
        # its partitions back at once, without waiting for the old session to expire.
        consumer_group_instance_id=settings.instance_id,
        datadir=str(_state_dir(settings, service)),
        logging_config=None,
    )
    producer = EventProducer(
        settings.kafka_bootstrap_servers, client_id=f"docstream-{service}", retry_forever=True
    )
    resources = Resources()
    resources.add(producer.start, producer.stop)
    app.service(resources)  # type: ignore[arg-type]  # faust accepts instances too
    faust_sensor.setup(app, f"docstream_{service}_faust")
    _watch(app, service, settings, resources)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        stopped = resources.unhealthy()
        if stopped:
            return web.json({"status": "stopped", "parts": stopped, "service": service}, status=503)
        return web.json({"status": "ok", "service": service})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        """Ready once the consumer group gave this member its partitions."""
        assigned = len(app.consumer.assignment()) if app.consumer else 0
        ready = assigned > 0 and not app.rebalancing
        body = {"ready": ready, "service": service, "partitions": assigned}
        return web.json(body, status=200 if ready else 503)

    return app, producer, resources


def _watch(app: faust.App, service: str, settings: ServiceSettings, resources: Resources) -> None:
    """Slow records logged with where they wait; a consumer that stopped taking its records
    makes the service exit, to be restarted (see shared/stage_watch.py)."""

    def assignment() -> list[TopicPartition] | None:
        if app.consumer is None or app.rebalancing:
            return None
        return [TopicPartition(tp.topic, tp.partition) for tp in app.consumer.assignment()]

    async def restart(why: str) -> None:
        logging.shutdown()  # the error above reaches the log before the process goes
        os._exit(STALLED_EXIT_CODE)

    def stall_once_for_tests() -> None:
        flag = settings.test_stall_once
        partitions = assignment()
        if flag is None or flag.exists() or not partitions or app.consumer is None:
            return
        flag.touch()
        app.consumer.pause_partitions(app.consumer.assignment())
        log.warning("test hook: the consumer stops handing out records", extra={"flag": str(flag)})

    watch = StageWatch(
        resources.in_flight,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group=f"{group_prefix(settings.topic_prefix)}{service}",
        assignment=assignment,
        on_stall=restart,
        slow_after_s=settings.slow_record_s,
        stall_after_s=settings.consumer_stall_s,
        before_check=stall_once_for_tests if settings.test_stall_once else None,
    )
    task: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal task
        task = asyncio.create_task(watch.run(), name="stage-watch")

    async def stop() -> None:
        if task is not None:
            task.cancel()

    resources.add(start, stop)
    resources.add_health("consumer", lambda: watch.stalled is None)


#: The exit status of a service whose consumer stalled (restarted by its supervisor).
STALLED_EXIT_CODE = 75


def _state_dir(settings: ServiceSettings, service: str) -> Path:
    path = settings.state_dir / f"{settings.topic_prefix}{service}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def raw_topic(app: faust.App, name: str) -> Any:
    """A topic of raw bytes: we decode CloudEvents ourselves, so a poison record is ours to
    dead-letter instead of a serializer error inside faust."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw"
    )


RecordHandler = Callable[[bytes | None, bytes, int, int], Awaitable[None]]


async def feed(stream: Any, resources: Resources, handle: RecordHandler) -> None:
    """The loop of a work agent: each record to ``handle(key, value, partition, offset)``.

    Acknowledged by hand, only after ``handle`` returned (the stage's outcome is durable by
    then): faust's own acks happen in a ``finally``, so a cancelled agent (a shutdown, a
    rebalance) would commit past a record it never finished. ``handle`` turns every failure
    of the document into a terminal event itself (:class:`~shared.stage.Stage`); what still
    escapes here is a failure to publish even that, so the record is retried, never skipped.
    """
    async for event in stream.noack().events():
        message = event.message
        delay = 0.5
        while True:
            try:
                await resources.ensure_started()
                # Within the upload's trace: the record's traceparent is this span's parent,
                # so the logs and the records this handler produces carry the same trace id.
                with (
                    resources.in_flight.record(
                        f"{message.topic}[{message.partition}]@{message.offset}"
                    ),
                    tracing.consuming(
                        f"process {message.topic}",
                        event.headers,
                        partition=message.partition,
                        offset=message.offset,
                    ),
                ):
                    await handle(event.key, event.value, message.partition, message.offset)
                break
            except Exception:
                log.exception(
                    "record handler failed; retrying the record",
                    extra={
                        "topic": message.topic,
                        "partition": message.partition,
                        "offset": message.offset,
                        "retry_in_s": delay,
                    },
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        await stream.ack(event)


def run_worker(app: faust.App, service: str, settings: ServiceSettings) -> None:
    logs.configure(service, level=settings.log_level, json_format=settings.log_json)
    tracing.configure(service, settings.otlp_endpoint)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(_prepare(settings))
    worker = faust.Worker(
        app,
        loop=loop,
        loglevel=settings.log_level.lower().replace("warning", "warn"),
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    )
    # faust "finishes" its terminal spinner once started, tty or not: a backspace and a
    # show-cursor escape written into stdout broke the JSON log line that followed.
    worker.spinner = None
    heap.settle()  # the app and its modules are built: frozen, and fewer collections
    worker.execute_from_commandline()


async def _prepare(settings: ServiceSettings) -> None:
    await wait_for_kafka(settings.kafka_bootstrap_servers)
    await ensure_topics(
        settings.kafka_bootstrap_servers, settings.topics, partitions=settings.topic_partitions
    )
