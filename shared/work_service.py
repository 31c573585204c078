"""The one way a work stage (extractor, analyzer) runs: a consumer-group member on plain
aiokafka (:class:`~shared.record_consumer.RecordConsumer`, as status and webhooks), each record
handled in a task of its own, up to ``concurrency`` at once, plus ``/healthz``, ``/readyz`` and
``/metrics`` (FastAPI, served by uvicorn like every other service).

The stages ran on faust-streaming agents before. faust's aiokafka driver consumes in a thread
of its own: every fetch crossed threads (a method queue and ``call_soon_threadsafe``) and every
record walked faust's stream machinery, which cost the two stages' main processes ~12 ms of
CPU per document and each hop between them ~1 ms (see docs/benchmarks.md, issue 10). What the
stages relied on faust for is kept here:

- the same consumer group (``<topic prefix>docstream-<service>``, so committed offsets carry
  over), static membership (KIP-345), the session timeout and heartbeats of the settings;
- at-least-once by hand: a record counts as finished only once :meth:`Stage.handle
  <shared.stage.Stage.handle>` returned, i.e. its outcome (a completion, a failure, a
  cancellation or a dead letter) is durable; per partition, offsets are committed up to the
  first record still unfinished. A record whose handling raised (even its failure could not be
  published) is handled again after a pause, never skipped; one still running at shutdown is
  cancelled and read again by the partition's next owner;
- our durable :class:`~shared.kafka.EventProducer` (acks=all, idempotent);
- the stall watch (shared/consumer_watch.py): slow records are logged with where they wait, and a
  member that holds records it does not take exits, to be restarted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shared import heap, kafka, periodic, tracing
from shared.consumer_watch import watch_consumer
from shared.kafka import EventProducer
from shared.record_consumer import Record, RecordConsumer, until_done
from shared.settings import ServiceSettings
from shared.web_service import add_consumer_endpoints

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]
#: A stage's record handler: returns once the record's outcome is durable (shared/stage.py).
RecordHandler = Callable[[bytes | None, bytes, int, int], Awaitable[None]]

#: How long the broker may hold a stage's fetch while no record comes.
STAGE_FETCH_WAIT_S = 1.5


class Resources:
    """What a stage needs besides its consumer (our producer, a worker pool, a cancel
    registry): started in order before the consumer takes its first record, stopped in reverse
    order once it stopped."""

    def __init__(self) -> None:
        self._hooks: list[tuple[Hook, Hook]] = []
        self._started: list[Hook] = []
        self._health: dict[str, Callable[[], bool]] = {}

    def add(self, start: Hook, stop: Hook) -> None:
        self._hooks.append((start, stop))

    def add_health(self, name: str, check: Callable[[], bool]) -> None:
        """A part that can stop on its own (e.g. a background consumer) and must be seen."""
        self._health[name] = check

    def unhealthy(self) -> list[str]:
        return [name for name, check in self._health.items() if not check()]

    async def start(self) -> None:
        for start, stop in self._hooks:
            await start()
            self._started.append(stop)

    async def stop(self) -> None:
        while self._started:
            stop = self._started.pop()
            try:
                await stop()
            except Exception:  # keep stopping the rest
                log.exception("resource failed to stop")
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this stop itself was cancelled
                # Not ours: aiokafka's consumer.stop() lets its fetch task's cancellation
                # escape when the broker is gone (aio-libs/aiokafka#647), as after a killed
                # launcher. The rest must still stop: the analyzer's pool went unstopped.
                log.warning("resource stopped with a stray cancellation", exc_info=True)


def producer_for(service: str, settings: ServiceSettings) -> EventProducer:
    return EventProducer(
        settings.kafka_bootstrap_servers, client_id=f"docstream-{service}", retry_forever=True
    )


async def handle_until_done(record: Record, handle: RecordHandler) -> None:
    """``handle`` the record until it returns. It turns every failure of the document into a
    terminal event itself; what still escapes is a failure to publish even that, so the record
    is handled again after a pause, never skipped."""

    async def attempt() -> None:
        # Within the upload's trace: the record's traceparent is this span's parent, so the
        # logs and the records the handler produces carry the same trace id.
        with tracing.consuming(
            f"process {record.topic}",
            record.headers,
            partition=record.partition,
            offset=record.offset,
        ):
            await handle(record.key, record.value or b"", record.partition, record.offset)

    await until_done(record, attempt)


def create_app(
    service: str,
    settings: ServiceSettings,
    resources: Resources,
    *,
    topic: str,
    handle: RecordHandler,
    concurrency: int,
) -> FastAPI:
    """The stage's service: ``handle`` for each record of ``topic``, ``concurrency`` at once."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await kafka.prepare(settings)
        # Before any record: e.g. a cancel sent while this replica was down must be known.
        try:
            await resources.start()
        except BaseException:
            await resources.stop()  # those that did start
            raise

        async def take(record: Record) -> asyncio.Future[None]:
            return asyncio.create_task(handle_until_done(record, handle))

        consumer = RecordConsumer.for_service(
            service,
            settings,
            [topic],
            take,
            max_running=concurrency,
            # A record ends the broker's wait at once (fetch_min_bytes 1): the wait only spaces
            # an idle member's polls, 1.5 s as faust's driver had them (not 0.5 s).
            fetch_max_wait_s=STAGE_FETCH_WAIT_S,
        )
        watch = app.state.watch = watch_consumer(settings, consumer)
        watching: asyncio.Task[None] | None = None
        try:
            await consumer.start()
            app.state.consumer = consumer
            watching = asyncio.create_task(watch.run(), name="consumer-watch")
            app.state.timers = {"consumer-watch": watching}
            heap.settle()  # started: frozen, and fewer collections (shared/heap)
            yield
        finally:
            if watching is not None:
                await periodic.cancel([watching])  # a check under way closes its clients first
            try:
                # Records still running are cancelled and not committed: the partition's next
                # owner handles them again (at-least-once).
                await consumer.stop()
            finally:
                await resources.stop()

    app = FastAPI(title=f"docstream {service}", lifespan=lifespan, openapi_url=None)
    add_consumer_endpoints(app, service, parts=resources.unhealthy)
    return app
