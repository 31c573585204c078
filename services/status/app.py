"""The status service: documents.events in batches, folded into the read model, and its
timers (held states, lag, the read model's pointer, housekeeping, the stalled-document watchdog).

A plain consumer-group member (:class:`~shared.record_consumer.RecordConsumer` in batches, no
faust: faust's consumer thread and per-event stream machinery were a good share of status's CPU
per document), plus ``/healthz``, ``/readyz`` and ``/metrics`` on FastAPI.

A batch's records are committed only once the batch is in the read model (at-least-once: a
crash or a stop during a batch folds it again; the fold is idempotent by event position). A
rebalance waits for the batch under way, commits it, then forgets what this member cached of
its documents, before the partitions are assigned again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from aiokafka import TopicPartition
from fastapi import FastAPI
from pymongo.errors import PyMongoError

from services.status import metrics, store
from services.status.agent import BatchWriter, FoldProgress, OutsideEffects, until_done
from services.status.housekeeping import Housekeeping
from services.status.lag import export_lag
from services.status.settings import StatusSettings
from services.status.switch import ReadModelSwitch
from services.status.watchdog import Watchdog
from shared import heap, kafka, mongo, periodic
from shared.blobs import open_blob_store
from shared.consumer_watch import watch_consumer
from shared.kafka import EventProducer
from shared.lag import LagReader
from shared.readmodel import ADMISSIONS, LINKS
from shared.record_consumer import Batching, Record, RecordConsumer
from shared.web_service import add_consumer_endpoints

log = logging.getLogger(__name__)
SERVICE = "status"


class Status:
    """The running service's parts, once connected: what the consumer and the timers use."""

    def __init__(self, settings: StatusSettings, producer: EventProducer, client: Any) -> None:
        self.settings = settings
        self.producer = producer
        self.client = client
        self.progress = FoldProgress()
        self.blobs = open_blob_store(settings)
        self.effects = OutsideEffects(
            settings,
            producer,
            self.blobs,
            lambda: client[settings.mongo_database][ADMISSIONS],
            read_model=lambda: self.switch.db,
            links=lambda: client[settings.mongo_database][LINKS],
        )
        self.guarded = True
        self.switch = ReadModelSwitch(
            client, settings.mongo_database, instance=settings.instance_id, on_switch=self.use
        )
        self.store: store.ReadModelStore | None = None
        self.writer: BatchWriter | None = None
        self.watchdog = Watchdog(settings, producer, lambda: self.switch.db)
        self.housekeeping = Housekeeping(
            settings, self.blobs, lambda: self.switch.db, changed=self._changed
        )
        self.consumer: RecordConsumer | None = None
        #: Its clients stay open between readings (closed with the service).
        self.lag = LagReader(settings.kafka_bootstrap_servers, settings.topic_prefix)

    async def connect(self) -> None:
        guarded = self.settings.guarded_writes
        if guarded is None:
            base = self.client[self.settings.mongo_database]
            guarded = not await until_done(lambda: store.is_ferretdb(base), "asking the server")
        self.guarded = guarded
        await until_done(self.switch.start, "reading the read model's pointer")
        self.use(self.switch.db)
        log.info(
            "read model connected",
            extra={"guarded_writes": guarded, "database": self.switch.database},
        )

    def use(self, db: Any) -> None:
        self.store = store.ReadModelStore(
            db,
            guarded=self.guarded,
            before_write=self.effects.before_write,
            hold_s=self.settings.hold_s,
        )
        self.writer = BatchWriter(self.store, self.producer, self.settings)

    def _changed(self, document_id: str) -> None:
        if self.store is not None:
            self.store.forget(document_id)

    # -- the consumer's handlers ------------------------------------------------------------

    async def fold(self, batch: list[Record]) -> None:
        """Into the read model, whatever it takes; the consumer commits the batch after."""
        started = time.perf_counter()
        async with self.switch.writing(), self.effects.sending:
            writer = self.writer  # the database's now: a switch happens between batches
            assert writer is not None
            await writer.write(batch)
        for record in batch:
            self.progress.folded(record.partition, record.offset)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    async def forget_moved_documents(self, revoked: set[TopicPartition]) -> None:
        """Partitions moved: their documents' states come from whichever replica has them now
        (what this member held back of them is written first, if the database lets it: it
        folded those events). The caches are dropped whatever happens: kept, they would let
        this member overwrite the new owner's writes."""
        await self.write_all_held()
        if self.store is not None:
            self.store.forget()
        self.effects.forget()

    # -- timers ------------------------------------------------------------------------------

    def _mine(self) -> list[TopicPartition] | None:
        """This member's partitions of documents.events; None during a rebalance."""
        consumer = self.consumer
        if consumer is None or consumer.rebalancing:
            return None
        topic = self.settings.topics.events
        return [tp for tp in consumer.assignment() if tp.topic == topic]

    async def publish_held_states(self) -> None:
        mine = self._mine()
        if mine is not None:
            async with self.effects.sending:
                await self.effects.flush({tp.partition for tp in mine})

    async def write_held(self, *, all_of_them: bool = False) -> None:
        """The read model's held listing and marker changes (between batches, never during)."""
        async with self.effects.sending:
            if self.store is not None:
                await self.store.write_held(all_of_them=all_of_them)

    async def write_all_held(self) -> None:
        """Everything held, written, briefly: a database that is down must not hold up a stop
        or a rebalance (the documents' next events mend what was held)."""
        try:
            async with asyncio.timeout(5.0):
                await self.write_held(all_of_them=True)
        except (PyMongoError, TimeoutError) as exc:
            log.warning("held read-model changes not written", extra={"error": repr(exc)})

    async def read_lag(self) -> None:
        await export_lag(self.lag)

    async def follow_the_pointer(self) -> None:
        try:
            await self.switch.poll()
        except PyMongoError as exc:
            log.warning("could not read the read model's pointer", extra={"error": repr(exc)})

    async def keep_house(self) -> None:
        mine = self._mine()
        if mine:
            await self.housekeeping.sweep({tp.partition for tp in mine})

    async def watch_for_stalls(self) -> None:
        mine = self._mine()
        if not mine:
            return
        assert self.consumer is not None
        highwaters = await self.consumer.highwaters(mine)
        lags = self.progress.lags({tp.partition: hw for tp, hw in highwaters.items()})
        await self.watchdog.sweep(lags)

    def timers(self) -> dict[str, tuple[float, Callable[[], Awaitable[None]]]]:
        s = self.settings
        timers: dict[str, tuple[float, Callable[[], Awaitable[None]]]] = {
            "read_lag": (s.lag_interval_s, self.read_lag),
            "follow_the_pointer": (s.switch_poll_s, self.follow_the_pointer),
            "keep_house": (s.housekeeping_interval_s, self.keep_house),
            "watch_for_stalls": (s.watchdog_interval_s, self.watch_for_stalls),
        }
        if s.hold_s > 0:
            timers["write_held"] = (max(s.hold_s / 2, 0.25), self.write_held)
        if s.publish_progress_every_s > 0:  # 0: every state is published, none is held
            timers["publish_held_states"] = (
                max(s.publish_progress_every_s / 2, 0.25),
                self.publish_held_states,
            )
        return timers


def create_app(settings: StatusSettings) -> FastAPI:
    producer = EventProducer(
        settings.kafka_bootstrap_servers,
        client_id="docstream-status",
        retry_forever=True,
        linger_ms=round(settings.publish_linger_s * 1000),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await kafka.prepare(settings)
            await producer.start()
            stack.push_async_callback(producer.stop)
            client = mongo.connect(settings.mongo_url, app_name="docstream-status")
            stack.push_async_callback(client.close)
            status = Status(settings, producer, client)
            stack.push_async_callback(status.lag.close)
            await status.connect()
            consumer = status.consumer = RecordConsumer.for_service(
                SERVICE,
                settings,
                [settings.topics.events],
                None,
                batch=Batching(status.fold, settings.batch_max, settings.batch_within_s),
                on_revoked=status.forget_moved_documents,
                # Without a wait, the broker answers as soon as one byte is there (and a fetch
                # with nothing to read still waits its 0.5 s: no busy loop).
                fetch_max_wait_s=settings.fetch_wait_s or 0.5,
                fetch_min_bytes=64 * 1024 if settings.fetch_wait_s else 1,
            )
            # After the consumer's stop (callbacks run last first): no batch holds the fold.
            stack.push_async_callback(status.write_all_held)
            await consumer.start()
            # A batch under way at the stop is cancelled and not committed: folded again.
            stack.push_async_callback(consumer.stop)
            timers = {
                name: periodic.every(interval, body, name=name)
                for name, (interval, body) in status.timers().items()
            }
            # Slow batches logged; a consumer that stopped taking records restarts the service.
            app.state.watch = watch = watch_consumer(settings, consumer)
            timers["consumer-watch"] = asyncio.create_task(watch.run(), name="consumer-watch")
            stack.push_async_callback(periodic.cancel, list(timers.values()))
            app.state.consumer = consumer
            app.state.timers = timers
            heap.settle()  # started: frozen, and fewer collections (shared/heap)
            yield

    app = FastAPI(title="docstream status", lifespan=lifespan, openapi_url=None)

    add_consumer_endpoints(app, SERVICE)
    return app
