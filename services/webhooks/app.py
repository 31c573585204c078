"""The webhooks service: documents.events in, a delivery task per finished document out.

A plain consumer-group member (:class:`~shared.record_consumer.RecordConsumer`, no faust: it
reads every record of documents.events to act on about one in ten, and faust's per-record
path was most of its CPU), plus ``/healthz``, ``/readyz`` and ``/metrics``.

A record is finished only once its deliveries are done (delivered or dead-lettered), so a
crash delivers it again. Deliveries run as tasks beside the consumer, so a receiver in its
backoff holds up neither the partition nor other deliveries; records therefore finish out of
order, and each partition is committed only up to its first record still being delivered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.webhooks.attempts import AttemptPruner
from services.webhooks.delivery import Deliverer, Notice, notice_of
from services.webhooks.sender import Sender, new_client
from services.webhooks.settings import WebhooksSettings
from shared import heap, kafka, mongo, periodic, tracing
from shared.consumer_watch import watch_consumer
from shared.kafka import EventProducer
from shared.record_consumer import Record, RecordConsumer
from shared.web_service import add_consumer_endpoints
from shared.webhooks import parse_networks

log = logging.getLogger(__name__)
SERVICE = "webhooks"
#: How often days past the attempts' retention are removed, and the first time after a start.
PRUNE_EVERY_S = 3600.0
PRUNE_FIRST_S = 60.0


def create_app(settings: WebhooksSettings) -> FastAPI:
    producer = EventProducer(
        settings.kafka_bootstrap_servers, client_id="docstream-webhooks", retry_forever=True
    )
    allowed = parse_networks(settings.allowed_networks)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await kafka.prepare(settings)
        await producer.start()
        client = mongo.connect(settings.mongo_url, app_name="docstream-webhooks")
        http = new_client(settings.timeout_s)
        deliverer = Deliverer(
            settings,
            lambda: client[settings.mongo_database],
            Sender(http, allowed, settings.timeout_s),
            producer,
        )

        async def deliver(record: Record, notice: Notice) -> None:
            try:
                # In the document's trace: the logs and the dead letter carry its trace id.
                with tracing.consuming(
                    f"deliver {record.topic}",
                    record.headers,
                    partition=record.partition,
                    offset=record.offset,
                ):
                    await deliverer.deliver(notice, record.partition, record.offset)
            except Exception:
                # A bug, not a receiver's failure (those end in a dead letter): the record
                # counts as finished, or its partition would never be committed again.
                log.exception(
                    "webhook delivery crashed",
                    extra={"document_id": notice.document_id, "offset": record.offset},
                )

        async def handle(record: Record) -> asyncio.Future[None] | None:
            notice = notice_of(record.value) if record.value is not None else None
            if notice is None:
                return None  # most records: finished at once
            return asyncio.create_task(deliver(record, notice))

        consumer = RecordConsumer.for_service(
            SERVICE,
            settings,
            [settings.topics.events],
            handle,
            # At most max_in_flight deliveries: past that, the consumer waits.
            max_running=settings.max_in_flight,
            # Nine records in ten are skipped: the broker gathers them for up to half a
            # second (a notice waits that long at most) instead of a round trip per record.
            fetch_max_wait_s=0.5,
            fetch_min_bytes=64 * 1024,
        )
        await consumer.start()
        app.state.consumer = consumer
        pruner = AttemptPruner(
            lambda: client[settings.mongo_database], settings.attempts_retention_days
        )
        # Soon after the start (it may have been down while days passed the retention's
        # edge), then hourly: a day crosses the edge at midnight UTC.
        timers = {
            "attempts-pruner": periodic.every(
                PRUNE_EVERY_S, pruner.run, name="attempts-pruner", first_after_s=PRUNE_FIRST_S
            )
        }
        # Slow deliveries logged; a consumer that stopped taking records restarts the service.
        app.state.watch = watch = watch_consumer(settings, consumer)
        timers["consumer-watch"] = asyncio.create_task(watch.run(), name="consumer-watch")
        app.state.timers = timers
        heap.settle()  # started: frozen, and fewer collections (shared/heap)
        try:
            yield
        finally:
            # Deliveries still running are cancelled and not committed: delivered again by
            # the partition's next owner (at-least-once, the same webhook-id).
            await periodic.cancel(list(timers.values()))
            await consumer.stop()
            await http.aclose()
            await client.close()
            await producer.stop()

    app = FastAPI(title="docstream webhooks", lifespan=lifespan, openapi_url=None)

    add_consumer_endpoints(app, SERVICE)
    return app
